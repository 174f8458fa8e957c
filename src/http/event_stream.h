// SseStreamer: GET /events as Server-Sent Events over the durable event log.
//
// Each stream replays the retained events after its cursor (`since` / Last-Event-ID,
// the header winning), preceded by `gap` when history was pruned, then follows live
// events: it blocks on a condition variable that the daemon signals after every commit
// (Engine::Subscribe → Notify), and sends a heartbeat comment when idle for the
// heartbeat interval. Shutdown() makes every stream send `shutdown` and end.
//
// Implements ASSENT-EVT-001..014 on the server side; scoping comes from the caller's
// authenticated context only (ASSENT-EVT-008).
//
// Thread safety: every method may be called from any thread; one worker thread serves
// each stream.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "events/event_log.h"
#include "http/server.h"

namespace assent::http {

class SseStreamer final : public EventStreamer {
 public:
  SseStreamer(events::EventLog& log, int64_t heartbeat_s, int64_t subscribers_max);

  bool TryAcquireSlot() override;
  void ReleaseSlot() override;
  bool Next(const EventStreamRequest& req, int64_t* cursor, std::string* chunk) override;

  // Wakes the streams: events up to `last_event_id` are committed.
  void Notify(int64_t last_event_id);
  // Every stream sends `shutdown` and ends; new streams end at once.
  void Shutdown(const std::string& reason);
  int64_t Subscribers() const { return subscribers_.load(); }

 private:
  events::EventLog& log_;
  const int64_t heartbeat_ms_;
  const int64_t subscribers_max_;
  std::atomic<int64_t> subscribers_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t last_notified_id_ = 0;
  bool shutting_down_ = false;
  std::string shutdown_reason_;
};

}  // namespace assent::http
