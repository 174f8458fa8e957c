// Row types of the Assent store: plain values, one struct per table.
//
// These are the store's vocabulary at its edge. They are deliberately dialect-neutral:
// times are milliseconds since the Unix epoch (int64), binary columns are std::string
// bytes, and structured columns (policies, secret-name lists, audit actors and
// subjects, event and outbox payloads) travel as JSON text the store never interprets.
// A PostgreSQL store maps them to BIGINT, BYTEA and JSONB without changing this file.
//
// Meaning of the columns (ids, states, units) is owned by core/ and audit/; the store
// only keeps them and enforces uniqueness and foreign keys.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"

namespace assent::store {

struct ClientRow {
  std::string id;        // cl_…
  std::string kind;      // agent | script | cli
  std::string name;
  std::string key_hash;  // BLAKE2b-256 of the 32 key bytes (never the key)
  TimeMs created_at = 0;
};

struct SecretRow {
  std::string id;          // sc_…
  std::string name;        // unique
  std::string ciphertext;  // nonce || XChaCha20-Poly1305 ciphertext+tag
  std::string encoding;    // utf8 | base64
  int64_t size_bytes = 0;
  int64_t version = 0;  // 1 on create, +1 on each replace
  std::string description;
  std::string policy_json;  // the effective policy, every member present
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct RequestRow {
  int64_t seq = 0;  // insertion order, assigned by the store; paging key
  std::string id;   // rq_…
  std::string originator;  // cl_…
  std::optional<std::string> client_request_id;
  std::string content_hash;  // hex BLAKE2b of the canonical asked-for content
  std::string secrets_json;  // JSON array of names
  std::string reason;
  int64_t ttl_s = 0;
  std::string mode;  // interactive | unattended
  std::optional<std::string> command_json;  // {"argv":[…],"cwd":…} or absent
  std::optional<std::string> command_hash;
  int64_t approvals_required = 1;
  int64_t approvals = 0;  // distinct approve votes so far
  int64_t uses_per_secret = 1;
  std::string state;  // pending | approved | denied | timed_out | cancelled
  TimeMs created_at = 0;
  TimeMs expires_at = 0;  // decision deadline
  std::optional<TimeMs> decided_at;
  std::optional<std::string> decision_note;
  std::optional<std::string> grant_id;
  int64_t revision = 0;  // +1 on every change; access.wait watches it
  // The latest approver delivery given up (ASSENT-REQ-028): when, and after how many
  // calls. Both absent until one is.
  std::optional<TimeMs> approver_delivery_failed_at;
  std::optional<int64_t> approver_delivery_attempts;
};

struct VoteRow {
  std::string request_id;
  std::string approver;  // identity: "token:<name>", "client:<id>" or "discord:<id>"
  std::string decision;  // approve | deny
  std::optional<int64_t> ttl_s;
  TimeMs created_at = 0;
};

struct GrantRow {
  int64_t seq = 0;  // assigned by the store; paging key
  std::string id;   // gr_…
  std::string request_id;
  std::string originator;
  std::string secrets_json;  // JSON array of names
  std::string uses_json;     // JSON object name -> uses left for that name
  int64_t uses_left = 0;     // sum over names
  int64_t uses_total = 0;
  std::string state;  // live | expired | revoked | exhausted
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
  std::optional<TimeMs> ended_at;
  std::optional<std::string> command_hash;
};

struct AuditRow {
  int64_t seq = 0;
  TimeMs time = 0;
  std::string actor_json;
  std::string action;
  std::string subject_json;
  std::string outcome;
  std::string prev_hash;  // hex
  std::string hash;       // hex
};

// The chain's head as recorded beside the log (seq 0 and an empty hash when empty).
// Kept in its own row so that deleting the newest entries is detected too.
struct AuditHead {
  int64_t seq = 0;
  std::string hash;
};

struct EventRow {
  int64_t id = 0;  // durable, strictly increasing, never reused (assigned by the store)
  TimeMs time = 0;
  std::string type;
  std::optional<std::string> originator;  // cl_… the event is scoped to
  std::string data_json;
};

// Range of the durable event log. `last_assigned_id` survives pruning: it is the
// highest id ever handed out, so an empty log still tells a reader what it missed.
struct EventBounds {
  std::optional<int64_t> oldest_id;  // smallest retained id, nullopt when none retained
  int64_t last_assigned_id = 0;
};

struct OutboxRow {
  int64_t id = 0;  // assigned by the store
  std::string kind;
  std::optional<std::string> request_id;
  std::string payload_json;
  std::string state;  // pending | inflight | done | dead
  int64_t attempts = 0;
  TimeMs next_attempt_at = 0;
  std::string nonce;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::optional<std::string> last_error;
};

// Filters for listing. Requests page oldest-first (seq > after_seq); grants are listed
// newest-first (seq < before_seq).
struct RequestFilter {
  std::optional<std::string> originator;
  std::optional<std::string> state;
  std::optional<int64_t> after_seq;
  int64_t limit = 100;
};

struct GrantFilter {
  std::optional<std::string> originator;
  std::optional<std::string> state;
  std::optional<std::string> request_id;
  std::optional<int64_t> before_seq;
  int64_t limit = 100;
};

// Which events a reader may see: all of them, or those of one originator.
struct EventScope {
  bool all = false;
  std::string originator;  // used when !all; empty matches nothing
};

}  // namespace assent::store
