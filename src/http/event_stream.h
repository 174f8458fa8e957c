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
#include <map>
#include <mutex>
#include <string>
#include <tuple>

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

  // Streams woken by the same commit read the same thing: the first one reads the log
  // and renders the frames, the others take its result (one SQLite read per event
  // instead of one per subscriber). A result is keyed by cursor, scope, and the notified
  // id and prune generation the reader saw before reading; it is valid for any reader
  // with that key, since an event it lacks was notified after that snapshot and wakes
  // the reader again, and a prune since then changes the key.
  struct Rendered {
    std::string chunk;
    int64_t next_after_id = 0;
  };
  // (cursor, scope.all, scope.originator, notified id seen, prune generation seen)
  using ReadKey = std::tuple<int64_t, bool, std::string, int64_t, int64_t>;
  std::mutex read_cache_mu_;
  std::map<ReadKey, Rendered> read_cache_;  // bounded: cleared at 16 entries (a few MB at most)
};

}  // namespace assent::http
