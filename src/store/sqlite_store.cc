#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <sys/stat.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <exception>

#include "store/sqlite_schema.h"

namespace assent::store {

namespace {

Status SqlError(sqlite3* db, std::string_view op) {
  // sqlite3_errmsg names constraints and columns, never bound values.
  return Internal("store: " + std::string(op) + " failed: " +
                  (db ? sqlite3_errmsg(db) : "no database"));
}

// A prepared statement borrowed from the cache for one use; reset on destruction.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void OptText(int i, const std::optional<std::string>& v) {
    if (v) Text(i, *v); else sqlite3_bind_null(s_, i);
  }
  void OptInt(int i, const std::optional<int64_t>& v) {
    if (v) Int(i, *v); else sqlite3_bind_null(s_, i);
  }

  int Step() { return sqlite3_step(s_); }

  int64_t ColInt(int c) { return sqlite3_column_int64(s_, c); }
  std::string ColText(int c) {
    const unsigned char* p = sqlite3_column_text(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  std::string ColBlob(int c) {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }
  bool IsNull(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::optional<std::string> ColOptText(int c) {
    if (IsNull(c)) return std::nullopt;
    return ColText(c);
  }
  std::optional<int64_t> ColOptInt(int c) {
    if (IsNull(c)) return std::nullopt;
    return ColInt(c);
  }

 private:
  sqlite3_stmt* s_;
};

// ---- Column lists and row readers (one per table, same order) ------------------------

#define CLIENT_COLS "id, kind, name, key_hash, created_at"
ClientRow ReadClient(Stmt& s) {
  return ClientRow{s.ColText(0), s.ColText(1), s.ColText(2), s.ColBlob(3), s.ColInt(4)};
}

#define SECRET_COLS \
  "id, name, ciphertext, encoding, size_bytes, version, description, policy, " \
  "created_at, updated_at"
SecretRow ReadSecret(Stmt& s) {
  SecretRow r;
  r.id = s.ColText(0);
  r.name = s.ColText(1);
  r.ciphertext = s.ColBlob(2);
  r.encoding = s.ColText(3);
  r.size_bytes = s.ColInt(4);
  r.version = s.ColInt(5);
  r.description = s.ColText(6);
  r.policy_json = s.ColText(7);
  r.created_at = s.ColInt(8);
  r.updated_at = s.ColInt(9);
  return r;
}

#define REQUEST_COLS                                                                    \
  "seq, id, originator, client_request_id, content_hash, secrets, reason, ttl_s, mode, " \
  "command, command_hash, approvals_required, approvals, uses_per_secret, state, "        \
  "created_at, expires_at, decided_at, decision_note, grant_id, revision, "              \
  "approver_delivery_failed_at, approver_delivery_attempts"
RequestRow ReadRequest(Stmt& s) {
  RequestRow r;
  r.seq = s.ColInt(0);
  r.id = s.ColText(1);
  r.originator = s.ColText(2);
  r.client_request_id = s.ColOptText(3);
  r.content_hash = s.ColText(4);
  r.secrets_json = s.ColText(5);
  r.reason = s.ColText(6);
  r.ttl_s = s.ColInt(7);
  r.mode = s.ColText(8);
  r.command_json = s.ColOptText(9);
  r.command_hash = s.ColOptText(10);
  r.approvals_required = s.ColInt(11);
  r.approvals = s.ColInt(12);
  r.uses_per_secret = s.ColInt(13);
  r.state = s.ColText(14);
  r.created_at = s.ColInt(15);
  r.expires_at = s.ColInt(16);
  r.decided_at = s.ColOptInt(17);
  r.decision_note = s.ColOptText(18);
  r.grant_id = s.ColOptText(19);
  r.revision = s.ColInt(20);
  r.approver_delivery_failed_at = s.ColOptInt(21);
  r.approver_delivery_attempts = s.ColOptInt(22);
  return r;
}

#define VOTE_COLS "request_id, approver, decision, ttl_s, created_at"
VoteRow ReadVote(Stmt& s) {
  return VoteRow{s.ColText(0), s.ColText(1), s.ColText(2), s.ColOptInt(3), s.ColInt(4)};
}

#define GRANT_COLS                                                                   \
  "seq, id, request_id, originator, secrets, uses, uses_left, uses_total, state, "   \
  "created_at, expires_at, ended_at, command_hash"
GrantRow ReadGrant(Stmt& s) {
  GrantRow r;
  r.seq = s.ColInt(0);
  r.id = s.ColText(1);
  r.request_id = s.ColText(2);
  r.originator = s.ColText(3);
  r.secrets_json = s.ColText(4);
  r.uses_json = s.ColText(5);
  r.uses_left = s.ColInt(6);
  r.uses_total = s.ColInt(7);
  r.state = s.ColText(8);
  r.created_at = s.ColInt(9);
  r.expires_at = s.ColInt(10);
  r.ended_at = s.ColOptInt(11);
  r.command_hash = s.ColOptText(12);
  return r;
}

#define AUDIT_COLS "seq, time, actor, action, subject, outcome, prev_hash, hash"
AuditRow ReadAudit(Stmt& s) {
  return AuditRow{s.ColInt(0),  s.ColInt(1),  s.ColText(2), s.ColText(3),
                  s.ColText(4), s.ColText(5), s.ColText(6), s.ColText(7)};
}

#define EVENT_COLS "id, time, type, originator, data"
EventRow ReadEvent(Stmt& s) {
  return EventRow{s.ColInt(0), s.ColInt(1), s.ColText(2), s.ColOptText(3), s.ColText(4)};
}

#define OUTBOX_COLS                                                                   \
  "id, kind, request_id, payload, state, attempts, next_attempt_at, nonce, created_at, " \
  "updated_at, last_error"
OutboxRow ReadOutbox(Stmt& s) {
  OutboxRow r;
  r.id = s.ColInt(0);
  r.kind = s.ColText(1);
  r.request_id = s.ColOptText(2);
  r.payload_json = s.ColText(3);
  r.state = s.ColText(4);
  r.attempts = s.ColInt(5);
  r.next_attempt_at = s.ColInt(6);
  r.nonce = s.ColText(7);
  r.created_at = s.ColInt(8);
  r.updated_at = s.ColInt(9);
  r.last_error = s.ColOptText(10);
  return r;
}

// ---- The transaction ------------------------------------------------------------------

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(SqliteStore* store) : store_(store) {}

  // -- reads --

  Result<std::optional<ClientRow>> GetClient(std::string_view id) override {
    return One<ClientRow>("SELECT " CLIENT_COLS " FROM clients WHERE id = ?1", ReadClient,
                          [&](Stmt& s) { s.Text(1, id); }, "GetClient");
  }

  Result<std::optional<SecretRow>> GetSecretByName(std::string_view name) override {
    return One<SecretRow>("SELECT " SECRET_COLS " FROM secrets WHERE name = ?1", ReadSecret,
                          [&](Stmt& s) { s.Text(1, name); }, "GetSecretByName");
  }

  Result<std::vector<SecretRow>> ListSecrets(int64_t limit) override {
    return Many<SecretRow>("SELECT " SECRET_COLS " FROM secrets ORDER BY name LIMIT ?1",
                           ReadSecret, [&](Stmt& s) { s.Int(1, limit); }, "ListSecrets");
  }

  Result<std::optional<RequestRow>> GetRequest(std::string_view id) override {
    return One<RequestRow>("SELECT " REQUEST_COLS " FROM requests WHERE id = ?1",
                           ReadRequest, [&](Stmt& s) { s.Text(1, id); }, "GetRequest");
  }

  Result<std::optional<RequestRow>> FindRequestByClientRequestId(
      std::string_view originator, std::string_view crid) override {
    return One<RequestRow>(
        "SELECT " REQUEST_COLS
        " FROM requests WHERE originator = ?1 AND client_request_id = ?2",
        ReadRequest,
        [&](Stmt& s) {
          s.Text(1, originator);
          s.Text(2, crid);
        },
        "FindRequestByClientRequestId");
  }

  Result<std::vector<RequestRow>> ListRequests(const RequestFilter& f) override {
    // NULL parameters disable their condition, so one statement serves every filter.
    return Many<RequestRow>(
        "SELECT " REQUEST_COLS
        " FROM requests WHERE (?1 IS NULL OR originator = ?1) AND (?2 IS NULL OR state = ?2)"
        " AND (?3 IS NULL OR seq > ?3) ORDER BY seq LIMIT ?4",
        ReadRequest,
        [&](Stmt& s) {
          s.OptText(1, f.originator);
          s.OptText(2, f.state);
          s.OptInt(3, f.after_seq);
          s.Int(4, f.limit);
        },
        "ListRequests");
  }

  Result<int64_t> CountRequests(std::string_view originator, std::string_view state) override {
    return Scalar("SELECT COUNT(*) FROM requests WHERE (?1 = '' OR originator = ?1)"
                  " AND state = ?2",
                  [&](Stmt& s) {
                    s.Text(1, originator);
                    s.Text(2, state);
                  },
                  "CountRequests");
  }

  Result<std::vector<RequestRow>> ListDueRequests(TimeMs now, int64_t limit) override {
    return Many<RequestRow>("SELECT " REQUEST_COLS
                            " FROM requests WHERE state = 'pending' AND expires_at <= ?1"
                            " ORDER BY expires_at, seq LIMIT ?2",
                            ReadRequest,
                            [&](Stmt& s) {
                              s.Int(1, now);
                              s.Int(2, limit);
                            },
                            "ListDueRequests");
  }

  Result<std::vector<VoteRow>> ListVotes(std::string_view request_id) override {
    return Many<VoteRow>("SELECT " VOTE_COLS
                         " FROM votes WHERE request_id = ?1 ORDER BY created_at, approver",
                         ReadVote, [&](Stmt& s) { s.Text(1, request_id); }, "ListVotes");
  }

  Result<std::optional<GrantRow>> GetGrant(std::string_view id) override {
    return One<GrantRow>("SELECT " GRANT_COLS " FROM grants WHERE id = ?1", ReadGrant,
                         [&](Stmt& s) { s.Text(1, id); }, "GetGrant");
  }

  Result<std::vector<GrantRow>> ListGrants(const GrantFilter& f) override {
    return Many<GrantRow>(
        "SELECT " GRANT_COLS
        " FROM grants WHERE (?1 IS NULL OR originator = ?1) AND (?2 IS NULL OR state = ?2)"
        " AND (?3 IS NULL OR request_id = ?3) AND (?4 IS NULL OR seq < ?4)"
        " ORDER BY seq DESC LIMIT ?5",
        ReadGrant,
        [&](Stmt& s) {
          s.OptText(1, f.originator);
          s.OptText(2, f.state);
          s.OptText(3, f.request_id);
          s.OptInt(4, f.before_seq);
          s.Int(5, f.limit);
        },
        "ListGrants");
  }

  Result<std::vector<GrantRow>> ListDueGrants(TimeMs now, int64_t limit) override {
    return Many<GrantRow>("SELECT " GRANT_COLS
                          " FROM grants WHERE state = 'live' AND expires_at <= ?1"
                          " ORDER BY expires_at, seq LIMIT ?2",
                          ReadGrant,
                          [&](Stmt& s) {
                            s.Int(1, now);
                            s.Int(2, limit);
                          },
                          "ListDueGrants");
  }

  Result<std::optional<TimeMs>> NextDeadline() override {
    auto st = Prep(
        "SELECT MIN(t) FROM ("
        " SELECT MIN(expires_at) AS t FROM requests WHERE state = 'pending'"
        " UNION ALL SELECT MIN(expires_at) FROM grants WHERE state = 'live')");
    if (!st.ok()) return st.status();
    Stmt s(*st);
    if (s.Step() != SQLITE_ROW) return Err("NextDeadline");
    return s.ColOptInt(0);
  }

  Result<AuditHead> GetAuditHead() override {
    auto st = Prep("SELECT seq, hash FROM audit_head WHERE one = 1");
    if (!st.ok()) return st.status();
    Stmt s(*st);
    int rc = s.Step();
    if (rc == SQLITE_DONE) return AuditHead{};
    if (rc != SQLITE_ROW) return Err("GetAuditHead");
    return AuditHead{s.ColInt(0), s.ColText(1)};
  }

  Result<std::vector<AuditRow>> ListAudit(int64_t after_seq, int64_t limit) override {
    return Many<AuditRow>("SELECT " AUDIT_COLS
                          " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                          ReadAudit,
                          [&](Stmt& s) {
                            s.Int(1, after_seq);
                            s.Int(2, limit);
                          },
                          "ListAudit");
  }

  Result<std::vector<EventRow>> ReadEvents(int64_t after_id, const EventScope& scope,
                                           int64_t limit) override {
    if (scope.all) {
      return Many<EventRow>("SELECT " EVENT_COLS
                            " FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                            ReadEvent,
                            [&](Stmt& s) {
                              s.Int(1, after_id);
                              s.Int(2, limit);
                            },
                            "ReadEvents");
    }
    return Many<EventRow>("SELECT " EVENT_COLS
                          " FROM events WHERE originator = ?1 AND id > ?2"
                          " ORDER BY id LIMIT ?3",
                          ReadEvent,
                          [&](Stmt& s) {
                            s.Text(1, scope.originator);
                            s.Int(2, after_id);
                            s.Int(3, limit);
                          },
                          "ReadEvents");
  }

  Result<EventBounds> GetEventBounds() override {
    EventBounds b;
    {
      auto st = Prep("SELECT MIN(id) FROM events");
      if (!st.ok()) return st.status();
      Stmt s(*st);
      if (s.Step() != SQLITE_ROW) return Err("GetEventBounds");
      b.oldest_id = s.ColOptInt(0);
    }
    {
      // sqlite_sequence keeps the highest AUTOINCREMENT id ever assigned.
      auto st = Prep("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
      if (!st.ok()) return st.status();
      Stmt s(*st);
      int rc = s.Step();
      if (rc == SQLITE_ROW) b.last_assigned_id = s.ColInt(0);
      else if (rc != SQLITE_DONE) return Err("GetEventBounds");
    }
    return b;
  }

  Result<std::optional<OutboxRow>> GetOutbox(int64_t id) override {
    return One<OutboxRow>("SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?1", ReadOutbox,
                          [&](Stmt& s) { s.Int(1, id); }, "GetOutbox");
  }

  Result<std::vector<OutboxRow>> ListDueOutbox(TimeMs now, int64_t limit) override {
    return Many<OutboxRow>("SELECT " OUTBOX_COLS
                           " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1"
                           " ORDER BY id LIMIT ?2",
                           ReadOutbox,
                           [&](Stmt& s) {
                             s.Int(1, now);
                             s.Int(2, limit);
                           },
                           "ListDueOutbox");
  }

  Result<int64_t> CountGrants(std::string_view state) override {
    return Scalar("SELECT COUNT(*) FROM grants WHERE state = ?1",
                  [&](Stmt& s) { s.Text(1, state); }, "CountGrants");
  }

  Result<int64_t> CountOutbox(std::string_view state) override {
    return Scalar("SELECT COUNT(*) FROM outbox WHERE state = ?1",
                  [&](Stmt& s) { s.Text(1, state); }, "CountOutbox");
  }

  Result<std::optional<std::string>> GetMeta(std::string_view key) override {
    return One<std::string>("SELECT value FROM meta WHERE key = ?1",
                            [](Stmt& s) { return s.ColText(0); },
                            [&](Stmt& s) { s.Text(1, key); }, "GetMeta");
  }

  // -- writes --

  Status InsertClient(const ClientRow& r) override {
    return Write("INSERT INTO clients (" CLIENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
                 [&](Stmt& s) {
                   s.Text(1, r.id);
                   s.Text(2, r.kind);
                   s.Text(3, r.name);
                   s.Blob(4, r.key_hash);
                   s.Int(5, r.created_at);
                 },
                 "InsertClient");
  }

  Status UpdateClient(const ClientRow& r) override {
    return WriteOne("UPDATE clients SET kind = ?2, name = ?3 WHERE id = ?1",
                    [&](Stmt& s) {
                      s.Text(1, r.id);
                      s.Text(2, r.kind);
                      s.Text(3, r.name);
                    },
                    "UpdateClient");
  }

  Status PutSecret(const SecretRow& r) override {
    return Write(
        "INSERT INTO secrets (" SECRET_COLS
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " ciphertext = excluded.ciphertext, encoding = excluded.encoding,"
        " size_bytes = excluded.size_bytes, version = excluded.version,"
        " description = excluded.description, policy = excluded.policy,"
        " created_at = excluded.created_at, updated_at = excluded.updated_at",
        [&](Stmt& s) {
          s.Text(1, r.id);
          s.Text(2, r.name);
          s.Blob(3, r.ciphertext);
          s.Text(4, r.encoding);
          s.Int(5, r.size_bytes);
          s.Int(6, r.version);
          s.Text(7, r.description);
          s.Text(8, r.policy_json);
          s.Int(9, r.created_at);
          s.Int(10, r.updated_at);
        },
        "PutSecret");
  }

  Status DeleteSecret(std::string_view id) override {
    return Write("DELETE FROM secrets WHERE id = ?1", [&](Stmt& s) { s.Text(1, id); },
                 "DeleteSecret");
  }

  Result<int64_t> InsertRequest(const RequestRow& r) override {
    Status st = Write(
        "INSERT INTO requests (id, originator, client_request_id, content_hash, secrets,"
        " reason, ttl_s, mode, command, command_hash, approvals_required, approvals,"
        " uses_per_secret, state, created_at, expires_at, decided_at, decision_note,"
        " grant_id, revision, approver_delivery_failed_at, approver_delivery_attempts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " ?17, ?18, ?19, ?20, ?21, ?22)",
        [&](Stmt& s) {
          s.Text(1, r.id);
          s.Text(2, r.originator);
          s.OptText(3, r.client_request_id);
          s.Text(4, r.content_hash);
          s.Text(5, r.secrets_json);
          s.Text(6, r.reason);
          s.Int(7, r.ttl_s);
          s.Text(8, r.mode);
          s.OptText(9, r.command_json);
          s.OptText(10, r.command_hash);
          s.Int(11, r.approvals_required);
          s.Int(12, r.approvals);
          s.Int(13, r.uses_per_secret);
          s.Text(14, r.state);
          s.Int(15, r.created_at);
          s.Int(16, r.expires_at);
          s.OptInt(17, r.decided_at);
          s.OptText(18, r.decision_note);
          s.OptText(19, r.grant_id);
          s.Int(20, r.revision);
          s.OptInt(21, r.approver_delivery_failed_at);
          s.OptInt(22, r.approver_delivery_attempts);
        },
        "InsertRequest");
    if (!st.ok()) return st;
    return static_cast<int64_t>(sqlite3_last_insert_rowid(store_->db()));
  }

  Status UpdateRequest(const RequestRow& r) override {
    return WriteOne(
        "UPDATE requests SET state = ?2, expires_at = ?3, decided_at = ?4,"
        " decision_note = ?5, grant_id = ?6, revision = ?7, approvals = ?8,"
        " approver_delivery_failed_at = ?9, approver_delivery_attempts = ?10 WHERE id = ?1",
        [&](Stmt& s) {
          s.Text(1, r.id);
          s.Text(2, r.state);
          s.Int(3, r.expires_at);
          s.OptInt(4, r.decided_at);
          s.OptText(5, r.decision_note);
          s.OptText(6, r.grant_id);
          s.Int(7, r.revision);
          s.Int(8, r.approvals);
          s.OptInt(9, r.approver_delivery_failed_at);
          s.OptInt(10, r.approver_delivery_attempts);
        },
        "UpdateRequest");
  }

  Status InsertVote(const VoteRow& r) override {
    return Write("INSERT INTO votes (" VOTE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
                 [&](Stmt& s) {
                   s.Text(1, r.request_id);
                   s.Text(2, r.approver);
                   s.Text(3, r.decision);
                   s.OptInt(4, r.ttl_s);
                   s.Int(5, r.created_at);
                 },
                 "InsertVote");
  }

  Result<int64_t> InsertGrant(const GrantRow& r) override {
    Status st = Write(
        "INSERT INTO grants (id, request_id, originator, secrets, uses, uses_left,"
        " uses_total, state, created_at, expires_at, ended_at, command_hash)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        [&](Stmt& s) {
          s.Text(1, r.id);
          s.Text(2, r.request_id);
          s.Text(3, r.originator);
          s.Text(4, r.secrets_json);
          s.Text(5, r.uses_json);
          s.Int(6, r.uses_left);
          s.Int(7, r.uses_total);
          s.Text(8, r.state);
          s.Int(9, r.created_at);
          s.Int(10, r.expires_at);
          s.OptInt(11, r.ended_at);
          s.OptText(12, r.command_hash);
        },
        "InsertGrant");
    if (!st.ok()) return st;
    return static_cast<int64_t>(sqlite3_last_insert_rowid(store_->db()));
  }

  Status UpdateGrant(const GrantRow& r) override {
    return WriteOne(
        "UPDATE grants SET uses = ?2, uses_left = ?3, state = ?4, expires_at = ?5,"
        " ended_at = ?6 WHERE id = ?1",
        [&](Stmt& s) {
          s.Text(1, r.id);
          s.Text(2, r.uses_json);
          s.Int(3, r.uses_left);
          s.Text(4, r.state);
          s.Int(5, r.expires_at);
          s.OptInt(6, r.ended_at);
        },
        "UpdateGrant");
  }

  Status AppendAudit(const AuditRow& r) override {
    ASSENT_RETURN_IF_ERROR(Write(
        "INSERT INTO audit (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [&](Stmt& s) {
          s.Int(1, r.seq);
          s.Int(2, r.time);
          s.Text(3, r.actor_json);
          s.Text(4, r.action);
          s.Text(5, r.subject_json);
          s.Text(6, r.outcome);
          s.Text(7, r.prev_hash);
          s.Text(8, r.hash);
        },
        "AppendAudit"));
    return Write(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2)"
        " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        [&](Stmt& s) {
          s.Int(1, r.seq);
          s.Text(2, r.hash);
        },
        "AppendAudit(head)");
  }

  Result<int64_t> InsertEvent(const EventRow& r) override {
    Status st = Write(
        "INSERT INTO events (time, type, originator, data) VALUES (?1, ?2, ?3, ?4)",
        [&](Stmt& s) {
          s.Int(1, r.time);
          s.Text(2, r.type);
          s.OptText(3, r.originator);
          s.Text(4, r.data_json);
        },
        "InsertEvent");
    if (!st.ok()) return st;
    return static_cast<int64_t>(sqlite3_last_insert_rowid(store_->db()));
  }

  Result<int64_t> PruneEvents(TimeMs older_than, int64_t id_at_most,
                              int64_t max_rows) override {
    // Always a prefix of ids, so a replay never meets a hole without a gap (EVT-005,
    // EVT-006) even when the wall clock stepped back and a higher id carries an older
    // time: the bound is id_at_most or, past it, the id before the first event (in id
    // order) with time >= older_than. Only the max_rows events after id_at_most are
    // looked at (`win`), so one run reads and deletes at most max_rows rows each; an
    // old event after a young one is kept until that one goes (EVT-007 allows keeping
    // events longer). Fuzz: sse-hole-after-clock-step.
    Status st = Write(
        "WITH win AS (SELECT id, time FROM events WHERE id > ?2 ORDER BY id LIMIT ?3),"
        " bound AS (SELECT COALESCE((SELECT MIN(id) - 1 FROM win WHERE time >= ?1),"
        " (SELECT MAX(id) FROM win), ?2) AS b)"
        " DELETE FROM events WHERE id IN (SELECT id FROM events"
        " WHERE id <= (SELECT b FROM bound) ORDER BY id LIMIT ?3)",
        [&](Stmt& s) {
          s.Int(1, older_than);
          s.Int(2, id_at_most);
          s.Int(3, max_rows);
        },
        "PruneEvents");
    if (!st.ok()) return st;
    return static_cast<int64_t>(sqlite3_changes(store_->db()));
  }

  Result<int64_t> InsertOutbox(const OutboxRow& r) override {
    Status st = Write(
        "INSERT INTO outbox (kind, request_id, payload, state, attempts, next_attempt_at,"
        " nonce, created_at, updated_at, last_error)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        [&](Stmt& s) {
          s.Text(1, r.kind);
          s.OptText(2, r.request_id);
          s.Text(3, r.payload_json);
          s.Text(4, r.state);
          s.Int(5, r.attempts);
          s.Int(6, r.next_attempt_at);
          s.Text(7, r.nonce);
          s.Int(8, r.created_at);
          s.Int(9, r.updated_at);
          s.OptText(10, r.last_error);
        },
        "InsertOutbox");
    if (!st.ok()) return st;
    return static_cast<int64_t>(sqlite3_last_insert_rowid(store_->db()));
  }

  Status UpdateOutbox(const OutboxRow& r) override {
    return WriteOne(
        "UPDATE outbox SET payload = ?2, state = ?3, attempts = ?4, next_attempt_at = ?5,"
        " updated_at = ?6, last_error = ?7 WHERE id = ?1",
        [&](Stmt& s) {
          s.Int(1, r.id);
          s.Text(2, r.payload_json);
          s.Text(3, r.state);
          s.Int(4, r.attempts);
          s.Int(5, r.next_attempt_at);
          s.Int(6, r.updated_at);
          s.OptText(7, r.last_error);
        },
        "UpdateOutbox");
  }

  Status PutMeta(std::string_view key, std::string_view value) override {
    return Write(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [&](Stmt& s) {
          s.Text(1, key);
          s.Text(2, value);
        },
        "PutMeta");
  }

 private:
  Result<sqlite3_stmt*> Prep(const char* sql) { return store_->Prepare(sql); }
  Status Err(std::string_view op) { return SqlError(store_->db(), op); }

  template <typename Bind>
  Status Write(const char* sql, const Bind& bind, std::string_view op) {
    auto st = Prep(sql);
    if (!st.ok()) return st.status();
    Stmt s(*st);
    bind(s);
    if (s.Step() != SQLITE_DONE) return Err(op);
    return Status::Ok();
  }

  // An UPDATE that must touch exactly one row (a missing row is a caller bug, reported
  // rather than silently ignored).
  template <typename Bind>
  Status WriteOne(const char* sql, const Bind& bind, std::string_view op) {
    ASSENT_RETURN_IF_ERROR(Write(sql, bind, op));
    if (sqlite3_changes(store_->db()) != 1)
      return Internal("store: " + std::string(op) + " matched no row");
    return Status::Ok();
  }

  template <typename Row, typename Reader, typename Bind>
  Result<std::optional<Row>> One(const char* sql, const Reader& read, const Bind& bind,
                                 std::string_view op) {
    auto st = Prep(sql);
    if (!st.ok()) return st.status();
    Stmt s(*st);
    bind(s);
    int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<Row>();
    if (rc != SQLITE_ROW) return Err(op);
    return std::optional<Row>(read(s));
  }

  template <typename Row, typename Reader, typename Bind>
  Result<std::vector<Row>> Many(const char* sql, const Reader& read, const Bind& bind,
                                std::string_view op) {
    auto st = Prep(sql);
    if (!st.ok()) return st.status();
    Stmt s(*st);
    bind(s);
    std::vector<Row> out;
    for (;;) {
      int rc = s.Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Err(op);
      out.push_back(read(s));
    }
    return out;
  }

  template <typename Bind>
  Result<int64_t> Scalar(const char* sql, const Bind& bind, std::string_view op) {
    auto st = Prep(sql);
    if (!st.ok()) return st.status();
    Stmt s(*st);
    bind(s);
    if (s.Step() != SQLITE_ROW) return Err(op);
    return s.ColInt(0);
  }

  SqliteStore* store_;
};

}  // namespace

// ---- SqliteStore -----------------------------------------------------------------------

int64_t SqliteStore::CodeSchemaVersion() {
  return static_cast<int64_t>(SqliteMigrations().size());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const SqliteOptions& options) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status err = SqlError(db, "open");
    sqlite3_close(db);
    return err;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  ASSENT_RETURN_IF_ERROR(store->Configure(options, path == ":memory:" || path.empty()));
  ASSENT_RETURN_IF_ERROR(store->Migrate());
  return store;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenReadOnly(const std::string& path,
                                                               const SqliteOptions& options) {
  // SQLite reports a missing file or a directory as "unable to open database file";
  // say which it is.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Internal(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Internal(path + ": not a regular file");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status err = Internal(path + ": cannot open: " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return err;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout_ms));
  ASSENT_RETURN_IF_ERROR(store->CheckReadable(path));
  return store;
}

Status SqliteStore::CheckReadable(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  // The first statement reads the header: a file that is not SQLite fails here.
  int64_t v = 0;
  {
    auto version = Prepare("PRAGMA user_version");
    std::optional<Stmt> s;
    if (version.ok()) s.emplace(*version);
    if (!s || s->Step() != SQLITE_ROW) {
      if (sqlite3_errcode(db_) == SQLITE_NOTADB) return Internal(path + ": not a SQLite database");
      return Internal(path + ": cannot read: " + sqlite3_errmsg(db_));
    }
    v = s->ColInt(0);
  }
  const int64_t known = static_cast<int64_t>(SqliteMigrations().size());
  if (v == 0)
    return Internal(path + ": a SQLite database, but not Assent's (schema version 0)");
  if (v > known)
    return Internal(path + ": schema version " + std::to_string(v) +
                    " was written by a newer Assent (this build knows up to " +
                    std::to_string(known) + ")");
  auto tables = Prepare(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('audit', "
      "'audit_head')");
  if (!tables.ok()) return Internal(path + ": cannot read: " + tables.status().message());
  Stmt s(*tables);
  if (s.Step() != SQLITE_ROW) return Internal(path + ": cannot read: " + sqlite3_errmsg(db_));
  if (s.ColInt(0) != 2)
    return Internal(path + ": a SQLite database, but not Assent's (no audit tables)");
  return Status::Ok();
}

SqliteStore::~SqliteStore() {
  for (auto& [_, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal("store: " + message);
  }
  return Status::Ok();
}

Status SqliteStore::Configure(const SqliteOptions& options, bool in_memory) {
  sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout_ms));
  ASSENT_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys = ON"));
  ASSENT_RETURN_IF_ERROR(Exec("PRAGMA synchronous = FULL"));
  if (!in_memory) {
    // journal_mode answers with the mode in force; anything but wal is a failure
    // (e.g. a filesystem without shared memory support).
    auto st = Prepare("PRAGMA journal_mode = WAL");
    if (!st.ok()) return st.status();
    Stmt s(*st);
    if (s.Step() != SQLITE_ROW || s.ColText(0) != "wal")
      return Internal("store: could not switch the database to WAL mode");
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  auto st = Prepare("PRAGMA user_version");
  if (!st.ok()) return st.status();
  Stmt s(*st);
  if (s.Step() != SQLITE_ROW) return SqlError(db_, "read user_version");
  return s.ColInt(0);
}

Status SqliteStore::Migrate() {
  auto version = SchemaVersion();
  if (!version.ok()) return version.status();
  const auto& migrations = SqliteMigrations();
  const int64_t known = static_cast<int64_t>(migrations.size());
  if (*version > known) {
    return Internal("store: the database has schema version " + std::to_string(*version) +
                    " but this build of Assent knows versions up to " +
                    std::to_string(known) +
                    "; it was written by a newer Assent — upgrade Assent, or point it at "
                    "another data directory");
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t v = *version; v < known; ++v) {
    Status st = RunInTransaction("BEGIN IMMEDIATE", [&]() -> Status {
      ASSENT_RETURN_IF_ERROR(Exec(migrations[v]));
      // user_version lives in the database header and is written by this transaction.
      return Exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
    });
    if (!st.ok())
      return Internal("store: migration to schema version " + std::to_string(v + 1) +
                      " failed: " + st.message());
  }
  return Status::Ok();
}

Result<sqlite3_stmt*> SqliteStore::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    return SqlError(db_, "prepare");
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

Status SqliteStore::RunInTransaction(const char* begin_sql,
                                     const std::function<Status()>& body) {
  ASSENT_RETURN_IF_ERROR(Exec(begin_sql));
  Status st;
  try {
    st = body();
  } catch (const std::exception&) {
    // Handlers must not throw; if one does, nothing it wrote may survive.
    st = Internal("store: transaction aborted by an exception");
  }
  if (st.ok()) {
    Status commit = Exec("COMMIT");
    if (commit.ok()) return commit;
    st = commit;
  }
  // Rolling back an already rolled-back transaction (SQLite does that itself on some
  // errors) fails harmlessly; the original error is what the caller needs.
  if (!sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
  return st;
}

namespace {
// Marks the calling thread as inside a transaction of one store for the scope's life.
class OwnerScope {
 public:
  explicit OwnerScope(std::atomic<std::thread::id>& owner) : owner_(owner) {
    owner_.store(std::this_thread::get_id());
  }
  ~OwnerScope() { owner_.store(std::thread::id()); }

 private:
  std::atomic<std::thread::id>& owner_;
};
}  // namespace

Status SqliteStore::WithTransaction(const std::function<Status(Tx&)>& fn) {
  // Nested transactions would deadlock on mu_: a programmer error, caught loudly.
  assert(owner_.load() != std::this_thread::get_id() && "nested store transaction");
  std::lock_guard<std::mutex> lock(mu_);
  OwnerScope scope(owner_);
  SqliteTx tx(this);
  return RunInTransaction("BEGIN IMMEDIATE", [&] { return fn(tx); });
}

Status SqliteStore::WithReadTransaction(const std::function<Status(ReadTx&)>& fn) {
  assert(owner_.load() != std::this_thread::get_id() && "nested store transaction");
  std::lock_guard<std::mutex> lock(mu_);
  OwnerScope scope(owner_);
  SqliteTx tx(this);
  return RunInTransaction("BEGIN DEFERRED", [&] { return fn(tx); });
}

Status SqliteStore::ExecForTesting(std::string_view sql) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string text(sql);
  return Exec(text.c_str());
}

}  // namespace assent::store
