// Store: the narrow persistence interface of Assent.
//
// Everything the daemon remembers goes through a transaction of this interface:
//
//   Status st = store.WithTransaction([&](store::Tx& tx) -> Status {
//     ASSENT_RETURN_IF_ERROR(tx.InsertRequest(row));
//     ASSENT_RETURN_IF_ERROR(audit::Append(tx, ...));
//     return tx.InsertEvent(event, &event_id);
//   });
//
// The transaction commits only when the function returns ok; any error (from the
// function or from the commit) rolls everything back. This is how core/ keeps THE
// ONE-TRANSACTION RULE (ARCHITECTURE.md): domain rows, audit entry, event and outbox row
// commit together or not at all. A committed write transaction is durable before
// WithTransaction returns (SqliteStore: synchronous=FULL).
//
// The interface speaks in rows (store/records.h), never in SQL, so that a PostgreSQL
// store is an addition rather than a rewrite: every method maps to one or two
// statements, and no caller depends on SQLite's dialect or types.
//
// Errors: store failures come back as Status kInternal with a message naming the
// operation (never the data). Absent rows are not errors: getters return nullopt.
//
// Thread safety: a Store may be used from any thread; transactions are serialized.
// A transaction object (Tx/ReadTx) is valid only inside the callback that received
// it, on that thread. Transactions do not nest (asserted).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/records.h"

namespace assent::store {

// Reads, usable in read and write transactions.
class ReadTx {
 public:
  virtual ~ReadTx() = default;

  virtual Result<std::optional<ClientRow>> GetClient(std::string_view id) = 0;

  virtual Result<std::optional<SecretRow>> GetSecretByName(std::string_view name) = 0;
  // Ordered by name; `limit` rows at most.
  virtual Result<std::vector<SecretRow>> ListSecrets(int64_t limit) = 0;

  virtual Result<std::optional<RequestRow>> GetRequest(std::string_view id) = 0;
  virtual Result<std::optional<RequestRow>> FindRequestByClientRequestId(
      std::string_view originator, std::string_view client_request_id) = 0;
  // Oldest first (seq ascending).
  virtual Result<std::vector<RequestRow>> ListRequests(const RequestFilter& filter) = 0;
  // Requests of `originator` (every originator when empty) in `state`.
  virtual Result<int64_t> CountRequests(std::string_view originator,
                                        std::string_view state) = 0;
  // Pending requests whose deadline is <= now, oldest deadline first.
  virtual Result<std::vector<RequestRow>> ListDueRequests(TimeMs now, int64_t limit) = 0;

  virtual Result<std::vector<VoteRow>> ListVotes(std::string_view request_id) = 0;

  virtual Result<std::optional<GrantRow>> GetGrant(std::string_view id) = 0;
  // Newest first (seq descending).
  virtual Result<std::vector<GrantRow>> ListGrants(const GrantFilter& filter) = 0;
  // Live grants whose expiry is <= now, oldest expiry first.
  virtual Result<std::vector<GrantRow>> ListDueGrants(TimeMs now, int64_t limit) = 0;
  virtual Result<int64_t> CountGrants(std::string_view state) = 0;

  // The earliest deadline of a pending request or a live grant, if any.
  virtual Result<std::optional<TimeMs>> NextDeadline() = 0;

  virtual Result<AuditHead> GetAuditHead() = 0;
  // Entries with seq > after_seq in seq order.
  virtual Result<std::vector<AuditRow>> ListAudit(int64_t after_seq, int64_t limit) = 0;

  // Events with id > after_id visible in `scope`, in id order.
  virtual Result<std::vector<EventRow>> ReadEvents(int64_t after_id, const EventScope& scope,
                                                   int64_t limit) = 0;
  virtual Result<EventBounds> GetEventBounds() = 0;

  virtual Result<std::optional<OutboxRow>> GetOutbox(int64_t id) = 0;
  // Pending rows with next_attempt_at <= now, in id order.
  virtual Result<std::vector<OutboxRow>> ListDueOutbox(TimeMs now, int64_t limit) = 0;
  virtual Result<int64_t> CountOutbox(std::string_view state) = 0;

  // A small key/value table for modules that need one durable setting or mapping
  // (e.g. the Discord message id of a request) without a schema change of their own.
  virtual Result<std::optional<std::string>> GetMeta(std::string_view key) = 0;
};

// Reads and writes, only inside WithTransaction.
class Tx : public ReadTx {
 public:
  virtual Status InsertClient(const ClientRow& row) = 0;
  // Rewrites kind and name (the key never changes).
  virtual Status UpdateClient(const ClientRow& row) = 0;

  // Inserts, or replaces the row with the same id (names stay unique).
  virtual Status PutSecret(const SecretRow& row) = 0;
  virtual Status DeleteSecret(std::string_view id) = 0;

  // Assigns and returns the row's seq.
  virtual Result<int64_t> InsertRequest(const RequestRow& row) = 0;
  // Rewrites every mutable column of the row with this id.
  virtual Status UpdateRequest(const RequestRow& row) = 0;

  virtual Status InsertVote(const VoteRow& row) = 0;

  virtual Result<int64_t> InsertGrant(const GrantRow& row) = 0;
  virtual Status UpdateGrant(const GrantRow& row) = 0;

  // Appends one audit row and moves the recorded head to it, atomically. The caller
  // (audit/) computes seq, prev_hash and hash.
  virtual Status AppendAudit(const AuditRow& row) = 0;

  // Assigns and returns the event's durable id.
  virtual Result<int64_t> InsertEvent(const EventRow& row) = 0;
  // Deletes at most `max_rows` of the oldest events, always a prefix of ids: those with
  // an id <= `id_at_most`, and after them those before the first event (in id order)
  // whose time is >= `older_than` (a younger event keeps every later id, whatever its
  // time, so no kept id is smaller than a pruned one). Looks at no more than `max_rows`
  // events past `id_at_most`. Returns how many were deleted.
  virtual Result<int64_t> PruneEvents(TimeMs older_than, int64_t id_at_most,
                                      int64_t max_rows) = 0;

  virtual Result<int64_t> InsertOutbox(const OutboxRow& row) = 0;
  virtual Status UpdateOutbox(const OutboxRow& row) = 0;

  virtual Status PutMeta(std::string_view key, std::string_view value) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // One write transaction (SQLite: BEGIN IMMEDIATE). Commits iff `fn` returns ok and the
  // commit succeeds; returns fn's error, or the commit's.
  virtual Status WithTransaction(const std::function<Status(Tx&)>& fn) = 0;

  // One read transaction: a consistent snapshot; nothing is written.
  virtual Status WithReadTransaction(const std::function<Status(ReadTx&)>& fn) = 0;
};

}  // namespace assent::store
