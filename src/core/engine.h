// Engine: the heart of Assent — clients, secrets, policy, requests, votes, grants,
// reveal — as pure logic over a Store, a Clock, a RandomSource and the master key.
//
// THE ONE-TRANSACTION RULE (ARCHITECTURE.md, ASSENT-REQ-025, ASSENT-AUDIT-005): every
// acknowledged state change is exactly one store transaction holding the domain rows,
// the audit entry, the event row and (when a Discord approver is configured) the outbox
// row. Only after the commit does the call return, and only then are waiters and
// subscribers woken. If the audit entry (or the commit that makes it durable) cannot be
// written, the call answers -32007 and nothing changed.
//
// Time: every deadline is a stored timestamp compared with the injected clock. A
// request whose expires_at has passed is timed_out, and a grant past its expires_at is
// expired, for every call from that moment (ASSENT-REQ-023, ASSENT-GRANT-002): each
// call that touches requests or grants first sweeps whatever is due (cheap: the next
// deadline is cached), so the answer never depends on whether the daemon's sweeper
// thread has run. Sweep()/NextDeadline() let that thread make the transitions (and
// their events) happen on time even when nobody calls. A restart simply reopens the
// store: all state, timers included, lives in the database (ASSENT-REQ-024).
//
// Roles: checked by methods/ from the spec's x-roles before the engine is called. The
// engine enforces everything that needs data: originator identity, self-approval,
// policy, states and limits, in the order of ASSENT-RPC-027.
//
// Secrets: values are encrypted with XChaCha20-Poly1305 under the 32-byte master key,
// associated data "assent.secret.v1" ‖ 0 ‖ secret id ‖ 0 ‖ name (ASSENT-SEC-005). The
// engine wipes every plaintext it handled before returning.
//
// Thread safety: every public method may be called from any thread. Mutations are
// serialized (one writer, like SQLite); reads run concurrently with waiters. Listener
// callbacks run on the thread that committed, after the commit, outside engine locks;
// they must be quick and must not call back into the engine synchronously.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "core/types.h"
#include "store/records.h"
#include "store/store.h"

namespace assent::core {

namespace internal {
class TxContext;
}

struct EngineConfig {
  // Default decision timeouts per mode (limits.json: timeout_*_s_default); a request may
  // ask for less, never more.
  int64_t timeout_interactive_s = 1800;
  int64_t timeout_unattended_s = 300;
  // A request's whole decision window, extensions included (timeout_s_max).
  int64_t timeout_s_max = 86400;
  int64_t pending_requests_per_client_max = 16;
  int64_t list_page_max = 500;
  // Transitions made per sweep transaction; a sweep loops until nothing is due.
  int64_t sweep_batch_max = 256;
  // When a Discord approver is configured, request lifecycle changes also write an
  // outbox row (kinds "request.created" and "request.updated", payload
  // {"request_id": …}) in the same transaction; the Discord worker consumes them.
  bool outbox_enabled = false;
};

// Called after each commit that wrote events, with the highest event id committed.
using EventListener = std::function<void(int64_t last_event_id)>;

class Engine {
 public:
  // `master_key` must be 32 bytes (crypto::kAeadKeyBytes), else an internal error.
  static Result<std::unique_ptr<Engine>> Create(store::Store& store, Clock& clock,
                                                RandomSource& random, std::string master_key,
                                                EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineConfig& config() const { return config_; }

  // ---- Client identity (ASSENT-ID-*) ----
  Result<HelloResult> Hello(const Caller& caller, const HelloParams& params);
  // Whether `client_key` (base64url, no padding) proves `client_id`. Constant time in
  // the key; an unknown id costs the same as a wrong key. For the HTTP layer.
  bool VerifyClient(const std::string& client_id, const std::string& client_key);

  // ---- Secrets (admin; ASSENT-SEC-*) ----
  Result<PutSecretResult> PutSecret(const Caller& caller, PutSecretParams params);
  Result<std::vector<SecretMeta>> ListSecrets(const Caller& caller);
  Result<SecretMeta> DescribeSecret(const Caller& caller, const std::string& name);
  Result<DeleteSecretResult> DeleteSecret(const Caller& caller, const std::string& name);

  // ---- Access requests (ASSENT-REQ-*) ----
  Result<RequestView> CreateRequest(const Caller& caller, const CreateRequestParams& params);
  Result<RequestView> GetRequest(const Caller& caller, const std::string& request_id);
  // Long-poll: returns at once if the state differs from `known_state`, else when the
  // request changes, Shutdown() is called, or `timeout_ms` of real time pass.
  Result<WaitResult> WaitRequest(const Caller& caller, const std::string& request_id,
                                 const std::string& known_state, int64_t timeout_ms);
  Result<ListRequestsResult> ListRequests(const Caller& caller,
                                          const ListRequestsParams& params);
  Result<RequestView> CancelRequest(const Caller& caller, const std::string& request_id);
  Result<RequestView> ExtendRequest(const Caller& caller, const std::string& request_id,
                                    int64_t timeout_s);
  Result<DecideResult> Decide(const Caller& caller, const DecideParams& params);
  // An approver channel (the Discord outbox) gave up a delivery about the request after
  // `attempts` calls (ASSENT-DISC-011). One transaction marks the request
  // (approver_delivery_failed = {now, attempts}; state unchanged, no event, revision + 1
  // so access.wait sees it) and audits "approver.delivery_failed" (actor system, subject
  // request_id and count, outcome error: ASSENT-AUDIT-009, ASSENT-REQ-028). Nothing of the
  // channel's answer is taken, so none can reach the audit log. kNotFound for an unknown
  // request; kAuditUnavailable when nothing could be committed. `also`, when given, runs
  // in the same transaction (the channel's own bookkeeping that the failure is recorded).
  Result<RequestView> RecordApproverDeliveryFailed(
      const std::string& request_id, int64_t attempts,
      const std::function<Status(store::Tx&)>& also = nullptr);

  // ---- Grants and reveal (ASSENT-GRANT-*, ASSENT-REVEAL-*) ----
  Result<std::vector<GrantView>> ListGrants(const Caller& caller,
                                            const ListGrantsParams& params);
  Result<GrantView> RevokeGrant(const Caller& caller, const std::string& grant_id);
  Result<RevokeAllResult> RevokeAll(const Caller& caller);
  Result<RevealResult> Reveal(const Caller& caller, const RevealParams& params);

  // ---- Audit (ASSENT-AUDIT-*) ----
  struct AuditPage {
    std::vector<store::AuditRow> entries;
    std::optional<int64_t> next_after_seq;
  };
  Result<AuditPage> ListAudit(int64_t after_seq, int64_t limit);
  Result<audit::VerifyReport> VerifyAudit();
  // Appends one entry on behalf of another layer (auth failures and lockouts, token
  // changes, daemon start/stop), in its own transaction. `actor` and `subject` follow
  // audit.json; never pass a token or key.
  Status RecordAudit(const nlohmann::json& actor, const std::string& action,
                     const nlohmann::json& subject, const std::string& outcome);
  static nlohmann::json ActorJson(const Caller& caller);

  // ---- Time ----
  // Makes every due transition now (requests → timed_out, grants → expired), each with
  // its audit entry and event.
  Result<SweepResult> Sweep();
  // The earliest pending-request or live-grant deadline, if any.
  std::optional<TimeMs> NextDeadline() const;

  // ---- Notification ----
  int64_t Subscribe(EventListener listener);
  void Unsubscribe(int64_t subscription);
  // Wakes every WaitRequest at once (daemon shutdown); later waits return immediately.
  void Shutdown();

 private:
  using TxContext = internal::TxContext;
  Engine(store::Store& store, Clock& clock, RandomSource& random, std::string master_key,
         EngineConfig config);

  // Runs `fn` as one write transaction (see the class comment). `fn` may record a
  // refusal to return after committing (an audited refusal).
  Status Mutate(const std::function<Status(TxContext&)>& fn);
  Status Read(const std::function<Status(store::ReadTx&)>& fn);
  Status SweepIfDue();
  void NotifyCommitted(int64_t last_event_id);
  Result<RequestView> ToView(store::ReadTx& tx, const store::RequestRow& row);

  store::Store& store_;
  Clock& clock_;
  RandomSource& random_;
  std::string master_key_;
  const EngineConfig config_;

  std::mutex mutate_mu_;  // one mutation at a time; guards next_deadline_ updates
  static constexpr TimeMs kNoDeadline = INT64_MAX;
  std::atomic<TimeMs> next_deadline_{kNoDeadline};

  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  uint64_t change_counter_ = 0;  // guarded by wait_mu_
  bool shutdown_ = false;        // guarded by wait_mu_

  std::mutex listeners_mu_;
  int64_t next_subscription_ = 1;
  std::map<int64_t, EventListener> listeners_;
};

}  // namespace assent::core
