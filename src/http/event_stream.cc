#include "http/event_stream.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "base/fault.h"
#include "base/log.h"

namespace assent::http {

using nlohmann::json;

namespace {

constexpr int64_t kReplayBatch = 256;
// EventSource clients reconnect after this many milliseconds (ASSENT-EVT-014).
constexpr int kRetryMs = 1000;
// A stream is given more events only while its unsent output is under this.
constexpr size_t kOutLowWater = 64u << 10;
// What a client may send on its event stream (nothing is expected) before it is closed.
constexpr size_t kInboundBytesMax = 64u << 10;
// The writer's CPU priority relative to the RPC workers (see the header).
constexpr int kWriterNice = 10;
// How long the destructor lets streams take their `shutdown` event.
constexpr int kStopGraceMs = 1000;

std::string Frame(const std::optional<int64_t>& id, const std::string& type, const json& data) {
  std::string out;
  if (id) out += "id: " + std::to_string(*id) + "\n";
  out += "event: " + type + "\n";
  out += "data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  return out;
}

std::string ShutdownFrame(const std::string& reason) {
  return Frame(std::nullopt, "shutdown", {{"reason", reason}});
}

store::EventScope ScopeOf(const rpc::CallContext& ctx) {
  if (ctx.role != rpc::Role::kAgent || ASSENT_FAULT("events-agent-sees-all")) return events::ScopeAll();
  return ctx.client_id ? events::ScopeClient(*ctx.client_id) : events::ScopeNothing();
}

std::string Hex(size_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

int64_t MsUntil(std::chrono::steady_clock::time_point t, std::chrono::steady_clock::time_point now) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count() + 1);
}

}  // namespace

SseStreamer::SseStreamer(events::EventLog& log, int64_t heartbeat_s, int64_t subscribers_max,
                         int64_t write_timeout_ms, int64_t fan_out_interval_ms)
    : log_(log),
      heartbeat_ms_(heartbeat_s * 1000),
      subscribers_max_(subscribers_max),
      write_timeout_ms_(write_timeout_ms),
      fan_out_interval_(fan_out_interval_ms),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (epoll_fd_ >= 0 && wake_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  } else {
    log::Error("events.writer_unavailable", {{"message", std::strerror(errno)}});
  }
}

SseStreamer::~SseStreamer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (writer_.joinable()) writer_.join();
  for (auto& s : pending_adopt_) Close(s.fd);  // adopted after the writer exited
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool SseStreamer::TryAcquireSlot() {
  int64_t n = subscribers_.load();
  while (n < subscribers_max_) {
    if (subscribers_.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

void SseStreamer::ReleaseSlot() { subscribers_.fetch_sub(1); }

void SseStreamer::Wake() {
  // One write until the writer takes it: a burst of commits wakes the writer once.
  if (wake_fd_ < 0 || wake_pending_.exchange(true)) return;
  uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void SseStreamer::Notify(int64_t last_event_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_event_id <= last_notified_id_) return;
    last_notified_id_ = last_event_id;
  }
  // Without a stream there is nothing to send; a stream adopted later reads anyway.
  if (subscribers_.load() > 0) Wake();
}

void SseStreamer::Shutdown(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    shutdown_reason_ = reason;
  }
  Wake();
}

bool SseStreamer::Open(const EventStreamRequest& req, int64_t* cursor, std::string* head) {
  if (req.since) {
    *cursor = *req.since + (ASSENT_FAULT("events-replay-skips-first") ? 1 : 0);
  } else {
    auto last = log_.LastId();
    if (!last.ok()) {
      log::Error("events.read_failed", {{"message", last.status().message()}});
      return false;
    }
    *cursor = *last;
  }
  // The retry hint and a comment: headers and a first line go out at once.
  *head = "retry: " + std::to_string(kRetryMs) + "\n: assent event stream\n\n";
  return true;
}

void SseStreamer::Adopt(int fd, const EventStreamRequest& req, int64_t cursor) {
  Stream s;
  s.fd = fd;
  s.scope = ScopeOf(req.ctx);
  s.cursor = cursor;
  s.last_write = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && epoll_fd_ >= 0 && wake_fd_ >= 0) {
      pending_adopt_.push_back(std::move(s));
      if (!writer_.joinable()) writer_ = std::thread([this] { Run(); });
      fd = -1;
    }
  }
  if (fd >= 0) {
    Close(fd);  // the streamer is gone or never worked: end the stream
    return;
  }
  Wake();
}

void SseStreamer::Close(int fd) {
  if (epoll_fd_ >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  ReleaseSlot();
}

void SseStreamer::TakeAdopted(std::vector<Stream>& adopted) {
  for (auto& s : adopted) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = s.fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
      log::Error("events.stream_not_watched", {{"message", std::strerror(errno)}});
      Close(s.fd);
      continue;
    }
    int fd = s.fd;
    streams_.insert_or_assign(fd, std::move(s));
  }
  adopted.clear();
}

void SseStreamer::Append(Stream& s, const std::string& bytes) {
  if (s.out_off == s.out.size()) {  // nothing waits: the stall clock starts now
    s.out.clear();
    s.out_off = 0;
    s.stalled_since = Clock::now();
  }
  s.out += bytes;
}

void SseStreamer::Queue(Stream& s, const std::string& payload) {
  if (payload.empty() || s.closing) return;
  Append(s, Hex(payload.size()) + "\r\n" + payload + "\r\n");
}

void SseStreamer::QueueEnd(Stream& s, const std::string& last_payload) {
  if (s.closing) return;
  Queue(s, last_payload);
  Append(s, "0\r\n\r\n");  // the last chunk: the response is complete
  s.closing = true;
}

void SseStreamer::Fill(int64_t notified, Clock::time_point now) {
  // This round's reads: streams at the same cursor and scope take the same frames (one
  // SQLite read per commit, not one per subscriber). Every read of the round saw at
  // least `notified`, so a stream lacking a later event is read again when its commit
  // is notified.
  struct Rendered {
    std::string chunk;
    int64_t next_after_id = 0;
    bool more = false;
    bool failed = false;
  };
  std::map<std::tuple<int64_t, bool, std::string>, Rendered> round;
  for (auto& [fd, s] : streams_) {
    if (s.closing) continue;
    if (WantsRead(s, notified)) {
      auto key = std::make_tuple(s.cursor, s.scope.all, s.scope.originator);
      auto it = round.find(key);
      if (it == round.end()) {
        Rendered r;
        auto batch = log_.ReadSince(s.cursor, s.scope, kReplayBatch);
        if (!batch.ok()) {
          log::Error("events.read_failed", {{"message", batch.status().message()}});
          r.failed = true;
        } else {
          if (batch->gap && !ASSENT_FAULT("events-no-gap"))
            r.chunk += Frame(batch->gap->to_id, "gap",
                             {{"from_id", batch->gap->from_id}, {"to_id", batch->gap->to_id}});
          for (const auto& e : batch->events)
            r.chunk += Frame(ASSENT_FAULT("events-without-ids") ? std::nullopt
                                                                : std::optional<int64_t>(e.id),
                             e.type, e.data);
          r.next_after_id = batch->next_after_id;
          r.more = static_cast<int64_t>(batch->events.size()) >= kReplayBatch;
        }
        it = round.emplace(key, std::move(r)).first;
      }
      if (it->second.failed) {
        QueueEnd(s, ShutdownFrame("error"));
        continue;
      }
      s.cursor = it->second.next_after_id;
      s.read_at_notified = notified;
      s.more = it->second.more;
      Queue(s, it->second.chunk);
    }
    bool idle = s.out_off == s.out.size();
    if (idle && now - s.last_write >= std::chrono::milliseconds(heartbeat_ms_)) {
      if (ASSENT_FAULT("events-no-heartbeat")) {
        s.last_write = now;
        continue;
      }
      Queue(s, ": heartbeat\n\n");
    }
  }
}

bool SseStreamer::Flush(Stream& s, Clock::time_point now) {
  while (s.out_off < s.out.size()) {
    ssize_t n = ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s.out_off += static_cast<size_t>(n);
      s.last_write = now;
      s.stalled_since = now;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;  // the client is gone
  }
  bool drained = s.out_off == s.out.size();
  if (drained) {
    s.out.clear();
    s.out_off = 0;
    if (s.closing) return false;  // everything, the last chunk included, went out
  } else {
    if (s.out_off >= kOutLowWater) {  // keep the buffer from growing with what went out
      s.out.erase(0, s.out_off);
      s.out_off = 0;
    }
    if (now - s.stalled_since >= std::chrono::milliseconds(write_timeout_ms_)) {
      log::Warn("events.stream_stalled", {{"fd", std::to_string(s.fd)}});
      return false;
    }
  }
  if (s.want_out == drained) {
    s.want_out = !drained;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (s.want_out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.fd = s.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &ev);
  }
  return true;
}

bool SseStreamer::WantsRead(const Stream& s, int64_t notified) {
  bool behind = s.read_at_notified < notified || s.more;  // never read: -1 < any id
  return !s.closing && behind && s.out.size() - s.out_off < kOutLowWater;
}

int SseStreamer::NextTimeoutMs(Clock::time_point now, int64_t notified) const {
  int64_t wait = heartbeat_ms_;
  for (const auto& [fd, s] : streams_) {
    // Behind and with room again (its output drained since the last read, or a replay
    // continues): read at once, not at the next commit or heartbeat.
    if (WantsRead(s, notified)) return 0;
    if (s.out_off < s.out.size()) {
      wait = std::min(wait, MsUntil(s.stalled_since + std::chrono::milliseconds(write_timeout_ms_), now));
    } else {
      wait = std::min(wait, MsUntil(s.last_write + std::chrono::milliseconds(heartbeat_ms_), now));
    }
  }
  return static_cast<int>(wait);
}

void SseStreamer::Run() {
  ::pthread_setname_np(::pthread_self(), "assent-events");
  // Linux: a thread's nice value is its own (setpriority on its thread id).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kWriterNice);
  std::vector<Stream> adopted;
  std::optional<Clock::time_point> stop_deadline;
  Clock::time_point last_fill{};
  epoll_event events[64];
  for (;;) {
    // Cleared before the state is read: what changes after this wakes the writer again.
    wake_pending_.store(false);
    int64_t notified;
    bool shutting;
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(mu_);
      adopted.swap(pending_adopt_);
      notified = last_notified_id_;
      shutting = shutting_down_ || stopping_;
      reason = shutting_down_ ? shutdown_reason_ : "error";
      if (stopping_ && !stop_deadline)
        stop_deadline = Clock::now() + std::chrono::milliseconds(kStopGraceMs);
    }
    const bool took_new = !adopted.empty();
    TakeAdopted(adopted);
    auto now = Clock::now();
    std::optional<Clock::time_point> hold;
    if (shutting) {
      for (auto& [fd, s] : streams_) QueueEnd(s, ShutdownFrame(reason));
    } else if (!took_new && now < last_fill + fan_out_interval_) {
      // Commits within the interval go to each subscriber together, in one write: the
      // fan-out cost is bounded by time, not by the commit rate.
      hold = last_fill + fan_out_interval_;
      wake_pending_.store(true);  // commits meanwhile need not wake the writer
    } else {
      Fill(notified, now);
      last_fill = now;
    }
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (Flush(it->second, now)) {
        ++it;
      } else {
        Close(it->first);
        it = streams_.erase(it);
      }
    }
    if (stop_deadline && (streams_.empty() || now >= *stop_deadline)) {
      for (auto& [fd, s] : streams_) Close(fd);
      streams_.clear();
      return;
    }
    int timeout = hold ? static_cast<int>(MsUntil(*hold, now)) : NextTimeoutMs(now, notified);
    if (shutting && !streams_.empty()) timeout = std::min(timeout, 100);
    int n = ::epoll_wait(epoll_fd_, events, 64, timeout);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t count;
        while (::read(wake_fd_, &count, sizeof count) > 0) {
        }
        continue;
      }
      auto it = streams_.find(fd);
      if (it == streams_.end()) continue;
      if (!(events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
      // Nothing is expected from the client: drop what it sends; its close ends the stream.
      bool gone = false;
      char buf[4096];
      for (;;) {
        ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          it->second.inbound += static_cast<size_t>(r);
          if (it->second.inbound > kInboundBytesMax) {
            gone = true;
            break;
          }
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        gone = r == 0 || !(errno == EAGAIN || errno == EWOULDBLOCK);
        break;
      }
      if (gone) {
        Close(fd);
        streams_.erase(it);
      }
    }
  }
}

}  // namespace assent::http
