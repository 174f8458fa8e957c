// SseStreamer: GET /events as Server-Sent Events over the durable event log.
//
// A stream opens on the HTTP worker that authenticated it: Open() places the cursor
// (replay from `since` / Last-Event-ID, the header winning, or live only) and gives the
// first bytes (the retry hint), which the worker sends after the response headers. Then
// the worker hands the connection over with Adopt() and goes back to serving RPC.
//
// From there ONE writer thread serves every stream (issue 4: with 64 subscribers and
// events flowing, RPC latency must stay within +20 % — one thread per stream meant 64
// wake-ups per event on 2 cores). It waits in epoll on the streams' sockets and an
// eventfd that Notify (after every commit, via Engine::Subscribe), Adopt and Shutdown
// write (once until the writer takes it). It reads the log once per distinct (cursor,
// scope) — streams at the same place share that read and its rendered frames — and
// appends the frames, as HTTP/1.1 chunks, to each stream's output, which it writes
// without blocking. It does so at most once per 20 ms: an isolated commit goes out at
// once, commits in a burst go to each subscriber together in one write, so the fan-out
// cost is bounded by time, not by the commit rate. bench/report.py, commits every ~1 ms:
// RPC p99 with 64 subscribers +20-40 % at 5-10 ms, +9-19 % at 20 ms; delivery p99 22 ms
// against a 50 ms budget.
// Further:
//   - replay goes in batches of 256 events, the next batch read only once a stream's
//     unsent output is under 64 KiB (a long replay never holds the whole history);
//   - a stream whose output made no progress for the write timeout, or whose client
//     closed, is closed (an EventSource reconnects with Last-Event-ID: nothing is lost,
//     the log is durable);
//   - a stream with nothing written for the heartbeat interval gets a comment;
//   - a gap event precedes history that was pruned (ASSENT-EVT-006);
//   - Shutdown() gives every stream a `shutdown` event and the last chunk, then closes it.
// The writer runs at nice +10, below the RPC workers: event delivery has a 50 ms budget,
// an RPC answer a fraction of a millisecond (bench/report.py: RPC p99 with 64 subscribers
// +5 to +25 % at nice +10, +17 to +30 % at nice 0). It holds the store's lock for one
// short read per fan-out; if busy RPC threads preempt it there, those that need the store
// block on the lock and stop competing, so the wait is bounded by the writer's next slice.
//
// Implements ASSENT-EVT-001..014 on the server side; scoping comes from the caller's
// authenticated context only (ASSENT-EVT-008).
//
// Thread safety: every public method may be called from any thread. The writer thread
// alone touches the streams; the rest is under mu_.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/event_log.h"
#include "http/server.h"

namespace assent::http {

class SseStreamer final : public EventStreamer {
 public:
  // `write_timeout_ms`: how long a stream's unsent output may make no progress;
  // `fan_out_interval_ms`: the least time between two fan-outs (0: none; tests, fuzzing).
  SseStreamer(events::EventLog& log, int64_t heartbeat_s, int64_t subscribers_max,
              int64_t write_timeout_ms = 5000, int64_t fan_out_interval_ms = 20);
  // Closes every stream (with `shutdown`, reason "error", unless Shutdown ran) and joins
  // the writer thread.
  ~SseStreamer() override;

  bool TryAcquireSlot() override;
  void ReleaseSlot() override;
  bool Open(const EventStreamRequest& req, int64_t* cursor, std::string* head) override;
  void Adopt(int fd, const EventStreamRequest& req, int64_t cursor) override;

  // Wakes the writer: events up to `last_event_id` are committed.
  void Notify(int64_t last_event_id);
  // Every stream sends `shutdown` and ends; streams adopted later end at once.
  void Shutdown(const std::string& reason);
  int64_t Subscribers() const { return subscribers_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Stream {
    int fd = -1;
    store::EventScope scope;
    int64_t cursor = 0;
    int64_t read_at_notified = -1;  // last_notified_ when last read (-1: never read)
    bool more = false;              // the last read was a full batch: read again
    std::string out;                // unsent bytes (HTTP chunks)
    size_t out_off = 0;
    Clock::time_point last_write;     // when bytes last went out (heartbeat)
    Clock::time_point stalled_since;  // when `out` last made progress, while non-empty
    bool closing = false;             // the last chunk is queued: close once written
    bool want_out = false;            // watched for EPOLLOUT (output is waiting)
    size_t inbound = 0;               // bytes the client sent (dropped)
  };

  void Run();
  void Wake();
  void TakeAdopted(std::vector<Stream>& adopted);
  // Reads and renders what each stream lacks (sharing reads), queues heartbeats.
  void Fill(int64_t notified, Clock::time_point now);
  // Adds bytes to the stream's output (starting its stall clock if none were waiting).
  static void Append(Stream& s, const std::string& bytes);
  // Adds `payload` as one HTTP/1.1 chunk.
  void Queue(Stream& s, const std::string& payload);
  void QueueEnd(Stream& s, const std::string& last_payload);
  // Writes what it can; false when the stream is to be closed now.
  bool Flush(Stream& s, Clock::time_point now);
  void Close(int fd);
  // The stream lacks notified events (or its replay goes on) and has room for them.
  static bool WantsRead(const Stream& s, int64_t notified);
  int NextTimeoutMs(Clock::time_point now, int64_t notified) const;

  events::EventLog& log_;
  const int64_t heartbeat_ms_;
  const int64_t subscribers_max_;
  const int64_t write_timeout_ms_;
  const std::chrono::milliseconds fan_out_interval_;
  std::atomic<int64_t> subscribers_{0};
  std::atomic<bool> wake_pending_{false};  // the eventfd was written and not yet taken
  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  std::mutex mu_;  // guards the members below it
  int64_t last_notified_id_ = 0;
  bool shutting_down_ = false;
  bool stopping_ = false;  // the destructor runs: end everything and exit
  std::string shutdown_reason_;
  std::vector<Stream> pending_adopt_;
  std::thread writer_;  // started by the first Adopt

  std::map<int, Stream> streams_;  // the writer thread's own: fd → stream
};

}  // namespace assent::http
