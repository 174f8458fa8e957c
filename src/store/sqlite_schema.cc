#include "store/sqlite_schema.h"

namespace assent::store {

namespace {

// Version 1: the whole v1 data model.
constexpr const char kV1[] = R"sql(
CREATE TABLE clients (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  name        TEXT NOT NULL,
  key_hash    BLOB NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE secrets (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  ciphertext   BLOB NOT NULL,
  encoding     TEXT NOT NULL CHECK (encoding IN ('utf8', 'base64')),
  size_bytes   INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  description  TEXT NOT NULL,
  policy       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE TABLE requests (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  id                  TEXT NOT NULL UNIQUE,
  originator          TEXT NOT NULL REFERENCES clients(id),
  client_request_id   TEXT,
  content_hash        TEXT NOT NULL,
  secrets             TEXT NOT NULL,
  reason              TEXT NOT NULL,
  ttl_s               INTEGER NOT NULL,
  mode                TEXT NOT NULL CHECK (mode IN ('interactive', 'unattended')),
  command             TEXT,
  command_hash        TEXT,
  approvals_required  INTEGER NOT NULL,
  approvals           INTEGER NOT NULL,
  uses_per_secret     INTEGER NOT NULL,
  state               TEXT NOT NULL
                      CHECK (state IN ('pending', 'approved', 'denied', 'timed_out',
                                       'cancelled')),
  created_at          INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  decided_at          INTEGER,
  decision_note       TEXT,
  grant_id            TEXT,
  revision            INTEGER NOT NULL,
  UNIQUE (originator, client_request_id)
);
CREATE INDEX requests_by_state_deadline ON requests (state, expires_at);
CREATE INDEX requests_by_originator ON requests (originator, state);

CREATE TABLE votes (
  request_id  TEXT NOT NULL REFERENCES requests(id),
  approver    TEXT NOT NULL,
  decision    TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
  ttl_s       INTEGER,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (request_id, approver)
);

CREATE TABLE grants (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT NOT NULL UNIQUE,
  request_id    TEXT NOT NULL UNIQUE REFERENCES requests(id),
  originator    TEXT NOT NULL REFERENCES clients(id),
  secrets       TEXT NOT NULL,
  uses          TEXT NOT NULL,
  uses_left     INTEGER NOT NULL CHECK (uses_left >= 0),
  uses_total    INTEGER NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('live', 'expired', 'revoked', 'exhausted')),
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  ended_at      INTEGER,
  command_hash  TEXT
);
CREATE INDEX grants_by_state_expiry ON grants (state, expires_at);
CREATE INDEX grants_by_originator ON grants (originator, state);

-- The audit chain. Append-only: the triggers stop accidental rewrites by our own code;
-- deliberate tampering (dropping them) is what the hash chain detects.
CREATE TABLE audit (
  seq        INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  action     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  outcome    TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- The head of the chain, written in the same statement group as each entry, so that
-- cutting entries off the end is detected like any other edit.
CREATE TABLE audit_head (
  one   INTEGER PRIMARY KEY CHECK (one = 1),
  seq   INTEGER NOT NULL,
  hash  TEXT NOT NULL
);

-- Durable events. AUTOINCREMENT: ids are never reused, even after pruning.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  time        INTEGER NOT NULL,
  type        TEXT NOT NULL,
  originator  TEXT,
  data        TEXT NOT NULL
);
CREATE INDEX events_by_originator ON events (originator, id);
CREATE INDEX events_by_time ON events (time);

-- Outgoing approver calls (Discord), written in the transaction that causes them.
CREATE TABLE outbox (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT NOT NULL,
  request_id       TEXT,
  payload          TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'done', 'dead')),
  attempts         INTEGER NOT NULL,
  next_attempt_at  INTEGER NOT NULL,
  nonce            TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  last_error       TEXT
);
CREATE INDEX outbox_by_state_due ON outbox (state, next_attempt_at);

CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
)sql";

// Version 2: a request remembers the latest approver delivery (e.g. its Discord message)
// the server gave up on (ASSENT-REQ-028); NULL until one is.
constexpr const char kV2[] = R"sql(
ALTER TABLE requests ADD COLUMN approver_delivery_failed_at INTEGER;
ALTER TABLE requests ADD COLUMN approver_delivery_attempts INTEGER;
)sql";

}  // namespace

const std::vector<const char*>& SqliteMigrations() {
  static const std::vector<const char*> kMigrations = {kV1, kV2};
  return kMigrations;
}

}  // namespace assent::store
