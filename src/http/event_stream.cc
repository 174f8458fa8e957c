#include "http/event_stream.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/fault.h"

namespace assent::http {

using nlohmann::json;

namespace {

constexpr int64_t kReplayBatch = 256;
// EventSource clients reconnect after this many milliseconds (ASSENT-EVT-014).
constexpr int kRetryMs = 1000;

std::string Frame(const std::optional<int64_t>& id, const std::string& type, const json& data) {
  std::string out;
  if (id) out += "id: " + std::to_string(*id) + "\n";
  out += "event: " + type + "\n";
  out += "data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  return out;
}

store::EventScope ScopeOf(const rpc::CallContext& ctx) {
  if (ctx.role != rpc::Role::kAgent || ASSENT_FAULT("events-agent-sees-all")) return events::ScopeAll();
  return ctx.client_id ? events::ScopeClient(*ctx.client_id) : events::ScopeNothing();
}

}  // namespace

SseStreamer::SseStreamer(events::EventLog& log, int64_t heartbeat_s, int64_t subscribers_max)
    : log_(log), heartbeat_ms_(heartbeat_s * 1000), subscribers_max_(subscribers_max) {}

bool SseStreamer::TryAcquireSlot() {
  int64_t n = subscribers_.load();
  while (n < subscribers_max_) {
    if (subscribers_.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

void SseStreamer::ReleaseSlot() { subscribers_.fetch_sub(1); }

void SseStreamer::Notify(int64_t last_event_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_event_id > last_notified_id_) last_notified_id_ = last_event_id;
  }
  cv_.notify_all();
}

void SseStreamer::Shutdown(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    shutdown_reason_ = reason;
  }
  cv_.notify_all();
}

bool SseStreamer::Next(const EventStreamRequest& req, int64_t* cursor, std::string* chunk) {
  chunk->clear();
  auto shutdown_frame = [this]() {
    std::lock_guard<std::mutex> lock(mu_);
    return Frame(std::nullopt, "shutdown", {{"reason", shutdown_reason_}});
  };
  if (*cursor < 0) {
    // First call: place the cursor (replay from `since`, or live only) and open the
    // stream with the retry hint so headers and a first line go out at once.
    if (req.since) {
      *cursor = *req.since + (ASSENT_FAULT("events-replay-skips-first") ? 1 : 0);
    } else {
      auto last = log_.LastId();
      if (!last.ok()) return false;
      *cursor = *last;
    }
    *chunk = "retry: " + std::to_string(kRetryMs) + "\n: assent event stream\n\n";
    return true;
  }
  const store::EventScope scope = ScopeOf(req.ctx);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_ms_);
  for (;;) {
    // Snapshot what has been notified BEFORE reading: a commit that lands after the
    // read raises last_notified_id_ above `seen` and wakes the wait below at once.
    int64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) {
        *chunk = Frame(std::nullopt, "shutdown", {{"reason", shutdown_reason_}});
        return false;
      }
      seen = last_notified_id_;
    }
    const ReadKey key{*cursor, scope.all, scope.originator, seen, log_.PruneGeneration()};
    bool cached = false;
    {
      std::lock_guard<std::mutex> lock(read_cache_mu_);
      if (auto it = read_cache_.find(key); it != read_cache_.end()) {
        *chunk = it->second.chunk;
        *cursor = it->second.next_after_id;
        cached = true;
      }
    }
    if (!cached) {
      auto batch = log_.ReadSince(*cursor, scope, kReplayBatch);
      if (!batch.ok()) {
        log::Error("events.read_failed", {{"message", batch.status().message()}});
        *chunk = shutdown_frame();
        return false;
      }
      if (batch->gap && !ASSENT_FAULT("events-no-gap"))
        *chunk += Frame(batch->gap->to_id, "gap",
                        {{"from_id", batch->gap->from_id}, {"to_id", batch->gap->to_id}});
      for (const auto& e : batch->events) *chunk += Frame(ASSENT_FAULT("events-without-ids") ? std::nullopt : std::optional<int64_t>(e.id), e.type, e.data);
      *cursor = batch->next_after_id;
      std::lock_guard<std::mutex> lock(read_cache_mu_);
      if (read_cache_.size() >= 16) read_cache_.clear();
      read_cache_.emplace(key, Rendered{*chunk, *cursor});
    }
    if (!chunk->empty()) return true;

    std::unique_lock<std::mutex> lock(mu_);
    bool woke = cv_.wait_until(lock, deadline,
                               [&] { return shutting_down_ || last_notified_id_ > seen; });
    if (!woke && ASSENT_FAULT("events-no-heartbeat")) { deadline += std::chrono::milliseconds(heartbeat_ms_); continue; }
    if (!woke) {
      *chunk = ": heartbeat\n\n";
      return true;
    }
  }
}

}  // namespace assent::http
