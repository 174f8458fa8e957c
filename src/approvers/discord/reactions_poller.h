// ReactionsPoller: `reactions` mode, for daemons that Discord cannot reach
// (ASSENT-DISC-009).
//
// The approval message has no buttons; the bot adds ✅ and ❌ to it (outbox rows
// "discord.react") and this poller reads, for every pending request with a posted
// message, the users of each reaction. An allowlisted user's ❌ is a deny vote and ✅ an
// approve vote, through the same decision path as a button click (ApprovalBackend::Vote).
// ❌ is read first, so a user who put both denies. Ignored: the bot's own reactions (its
// user id, learnt from the author of its posts, and any user flagged `bot`), users not
// on the allowlist, and users whose vote on that request was already submitted (kept
// durably, so a restart does not resubmit and spam the audit log with refusals).
//
// Politeness: a pass that finds nothing new doubles the delay before the next one (up
// to reactions_poll_max_ms); a new post or a vote resets it. When Discord says a bucket
// is empty (X-RateLimit-Remaining: 0) the poller waits X-RateLimit-Reset-After before the
// next call; a 429 ends the pass and pauses polling for its retry_after.
//
// Thread safety: PollOnce() for one thread at a time; Start/Stop/Wake from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "approvers/discord/backend.h"
#include "approvers/discord/config.h"
#include "approvers/discord/rest_client.h"
#include "base/clock.h"
#include "store/store.h"

namespace assent::discord {

// Pending requests looked at per pass, and reaction pages (100 users) read per emoji.
inline constexpr int64_t kReactionsRequestsPerPassMax = 100;
inline constexpr int kReactionPagesMax = 5;

class ReactionsPoller {
 public:
  // `sleep_ms` waits between calls when a bucket is exhausted; the default waits on the
  // poller's own condition variable (so Stop() cuts it short). Tests pass a recorder.
  ReactionsPoller(const DiscordConfig& config, store::Store& store, Clock& clock,
                  RestClient& rest, ApprovalBackend& backend);
  ~ReactionsPoller();

  // One pass; returns the number of votes submitted.
  int PollOnce();
  // The delay before the next pass, after the passes so far.
  int64_t next_delay_ms() const { return delay_ms_.load(); }

  void SetSleeper(std::function<void(int64_t ms)> sleeper) { sleeper_ = std::move(sleeper); }

  void Start();
  void Stop();
  // Something changed (a new post): poll soon, at the base interval.
  void Wake();

 private:
  void Loop();
  void SleepMs(int64_t ms);
  // Waits if the last answer said the bucket is empty; returns false on stop.
  void RespectBucket(const RestResult& r);

  const DiscordConfig& config_;
  store::Store& store_;
  Clock& clock_;
  RestClient& rest_;
  ApprovalBackend& backend_;
  std::function<void(int64_t)> sleeper_;
  std::atomic<int64_t> delay_ms_;
  TimeMs paused_until_ms_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace assent::discord
