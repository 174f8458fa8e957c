// OutboxWorker: performs the Discord calls the engine committed to the outbox.
//
// The engine writes an outbox row in the same transaction as the change that needs a
// Discord call (ARCHITECTURE.md, the one-transaction rule; ASSENT-DISC-007):
//   "request.created" {"request_id"}  → post the approval message
//   "request.updated" {"request_id"}  → edit it to the request's current state (votes,
//                                       outcome, buttons removed: ASSENT-DISC-008)
// and this worker adds its own rows, in the transaction that records a post:
//   "discord.react" {"request_id", "emoji"} → reactions mode: the bot adds ✅ / ❌
//
// Messages are rendered from the request as it is when the call is made (message.h), so
// a late post shows the outcome, and a run of edits converges on the latest state.
//
// Row life: pending → inflight (claimed, attempts + 1, committed before the call) →
// done | pending again with next_attempt_at (capped exponential backoff; a 429 waits
// what Discord asked for, pauses every call until then, and does not use up an
// attempt during the row's first hour; an answer saying the bucket is empty,
// X-RateLimit-Remaining: 0, pauses calls for X-RateLimit-Reset-After) | dead (after
// max_attempts, or at once for a 4xx other than 429, which no retry can fix; recorded
// through ApprovalBackend::RecordDeliveryDead). Claimed rows are listed in the meta
// table; Recover() at start-up puts rows a crash left inflight back to pending, and
// records on their requests the dead rows whose failure a crash left unrecorded (a dead
// row is listed in the transaction that marks it dead; the engine's transaction that
// records the failure removes it, so each is recorded exactly once). A
// re-sent post carries the same `nonce` (derived from the row's stored nonce) with
// `enforce_nonce`, so Discord returns the first message instead of posting twice.
//
// Thread safety: RunOnce() is for one thread at a time (the worker's own, or a test's).
// Start/Stop/Wake may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "approvers/discord/backend.h"
#include "approvers/discord/config.h"
#include "approvers/discord/rest_client.h"
#include "base/clock.h"
#include "base/random.h"
#include "store/store.h"

namespace assent::discord {

inline constexpr const char* kOutboxRequestCreated = "request.created";
inline constexpr const char* kOutboxRequestUpdated = "request.updated";
inline constexpr const char* kOutboxReact = "discord.react";

// Rows handled per RunOnce pass.
inline constexpr int64_t kOutboxBatchMax = 16;
// An edit waits for its request's post; past this age it gives up (the post is dead or
// never existed, e.g. the request predates the Discord configuration).
inline constexpr int64_t kEditWaitForPostMsMax = 15 * 60 * 1000;
// For this long after a row was created, a 429 does not count as a failed attempt.
inline constexpr int64_t kRateLimitedFreeMs = 60 * 60 * 1000;
// How long an edit waits before looking again for its request's post.
inline constexpr int64_t kEditDeferMs = 500;

// Delay before attempt `attempts` + 1 after `attempts` failures (attempts ≥ 1):
// base · 2^(attempts−1), capped.
int64_t BackoffMs(const DiscordConfig& config, int64_t attempts);

// The create-message nonce of an outbox row: 25 hex characters derived from the row's
// id and stored nonce, so it is the same on every retry and after a restart, and
// different across rows and daemons.
std::string DiscordNonce(int64_t row_id, const std::string& row_nonce);

class OutboxWorker {
 public:
  OutboxWorker(const DiscordConfig& config, store::Store& store, Clock& clock,
               RandomSource& random, RestClient& rest, ApprovalBackend& backend);
  ~OutboxWorker();

  // Start-up: rows left inflight by a crash go back to pending, due now.
  Status Recover();
  // Handles the rows due now; returns how many it handled (0 while rate limited).
  int RunOnce();

  void Start();
  void Stop();
  void Wake();

  // Called after a message was posted (the reactions poller starts looking sooner).
  void SetOnPosted(std::function<void()> f) { on_posted_ = std::move(f); }
  // Until when every call is paused by a 429 (ms since epoch, clock time).
  TimeMs paused_until_ms() const { return paused_until_ms_.load(); }

 private:
  struct Outcome;
  void Process(int64_t row_id);
  // Records a dead row's failure on its request; the row leaves the dead-unrecorded list
  // in the same transaction. An unknown request also takes it off the list.
  void RecordDead(const store::OutboxRow& row);
  Outcome Perform(const store::OutboxRow& row);
  Outcome PostMessage(const store::OutboxRow& row, const std::string& request_id);
  Outcome EditMessage(const store::OutboxRow& row, const std::string& request_id);
  Outcome React(const store::OutboxRow& row, const std::string& request_id,
                const std::string& emoji);
  Outcome FromRest(const RestResult& r);
  void NoteBucket(const RestResult& r);
  void Loop();

  const DiscordConfig& config_;
  store::Store& store_;
  Clock& clock_;
  RandomSource& random_;
  RestClient& rest_;
  ApprovalBackend& backend_;
  std::function<void()> on_posted_;
  std::atomic<TimeMs> paused_until_ms_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace assent::discord
