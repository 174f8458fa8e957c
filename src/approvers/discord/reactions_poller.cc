#include "approvers/discord/reactions_poller.h"

#include <nlohmann/json.hpp>

#include "base/json_members.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "approvers/discord/state.h"
#include "base/log.h"

namespace assent::discord {

using nlohmann::json;

ReactionsPoller::ReactionsPoller(const DiscordConfig& config, store::Store& store,
                                 Clock& clock, RestClient& rest, ApprovalBackend& backend)
    : config_(config),
      store_(store),
      clock_(clock),
      rest_(rest),
      backend_(backend),
      delay_ms_(config.reactions_poll_ms) {}

ReactionsPoller::~ReactionsPoller() { Stop(); }

void ReactionsPoller::SleepMs(int64_t ms) {
  if (ms <= 0) return;
  if (sleeper_) {
    sleeper_(ms);
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
}

void ReactionsPoller::RespectBucket(const RestResult& r) {
  if (r.remaining && *r.remaining == 0 && r.reset_after_ms)
    SleepMs(std::min<int64_t>(*r.reset_after_ms, kRetryAfterMsMax));
}

int ReactionsPoller::PollOnce() {
  if (clock_.NowMs() < paused_until_ms_) return 0;
  auto pending = backend_.ListPending(kReactionsRequestsPerPassMax);
  if (!pending.ok()) {
    log::Warn("discord.reactions_list_failed");
    return 0;
  }
  std::string bot_id;
  (void)store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto b = GetBotUserId(tx);
    if (b.ok() && b->has_value()) bot_id = **b;
    return Status::Ok();
  });

  int votes = 0;
  bool rate_limited = false;
  for (const auto& request : *pending) {
    if (rate_limited) break;
    std::optional<MessageRecord> rec;
    std::set<std::string> voters;
    Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto r = GetMessageRecord(tx, request.request_id);
      if (!r.ok()) return r.status();
      rec = *r;
      auto v = GetReactionVoters(tx, request.request_id);
      if (!v.ok()) return v.status();
      voters = *v;
      return Status::Ok();
    });
    if (!st.ok() || !rec || rec->message_id.empty()) continue;
    const std::string channel = MessageChannel(*rec, config_.channel_id);

    bool finished = false;
    const std::set<std::string> voters_before = voters;
    for (const char* emoji : {kDenyEmoji, kApproveEmoji}) {
      if (finished || rate_limited) break;
      const bool approve = std::string(emoji) == kApproveEmoji;
      std::string after;
      for (int page = 0; page < kReactionPagesMax && !finished; ++page) {
        RestResult res = rest_.ListReactions(channel, rec->message_id, emoji, after, 100);
        if (res.outcome == RestOutcome::kRateLimited) {
          paused_until_ms_ = clock_.NowMs() + res.retry_after_ms;
          rate_limited = true;
          break;
        }
        if (!res.ok() || !res.body.is_array()) {
          log::Warn("discord.reactions_read_failed", {{"error", res.error}});
          break;
        }
        RespectBucket(res);
        for (const auto& user : res.body) {
          if (!user.is_object() || !user.contains("id") || !user["id"].is_string()) continue;
          const std::string id = user["id"].get<std::string>();
          after = id;
          if (id == bot_id || TrueMember(user, "bot")) continue;
          if (config_.allowed_users.count(id) == 0) continue;
          if (voters.count(id)) continue;
          auto vote = backend_.Vote(request.request_id, id, approve);
          if (!vote.ok()) {
            const ErrorCode code = vote.status().code();
            if (code == ErrorCode::kInternal || code == ErrorCode::kAuditUnavailable) {
              log::Warn("discord.reaction_vote_failed", {{"code", ErrorName(code)}});
              continue;  // not recorded as submitted: the next pass tries again
            }
            if (code == ErrorCode::kInvalidState || code == ErrorCode::kNotFound)
              finished = true;
          } else {
            ++votes;
            log::Info("discord.vote", {{"request_id", request.request_id},
                                       {"user_id", id},
                                       {"decision", approve ? "approve" : "deny"},
                                       {"via", "reaction"},
                                       {"state", vote->request.state}});
            if (vote->request.state != "pending") finished = true;
          }
          voters.insert(id);
          if (finished) break;
        }
        if (res.body.size() < 100) break;  // last page
      }
    }
    if (voters != voters_before) {
      Status ws = store_.WithTransaction(
          [&](store::Tx& tx) { return PutReactionVoters(tx, request.request_id, voters); });
      if (!ws.ok()) log::Warn("discord.reactions_store_failed");
    }
  }

  if (votes > 0) {
    delay_ms_ = config_.reactions_poll_ms;
  } else {
    delay_ms_ = std::min(delay_ms_.load() * 2, config_.reactions_poll_max_ms);
  }
  return votes;
}

void ReactionsPoller::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ReactionsPoller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReactionsPoller::Wake() {
  delay_ms_ = config_.reactions_poll_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void ReactionsPoller::Loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      wake_ = false;
    }
    PollOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) return;
    int64_t wait_ms = delay_ms_.load();
    const TimeMs now = clock_.NowMs();
    if (paused_until_ms_ > now) wait_ms = std::max(wait_ms, paused_until_ms_ - now);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)),
                 [&] { return stop_ || wake_; });
  }
}

}  // namespace assent::discord
