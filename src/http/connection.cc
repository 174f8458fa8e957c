#include "http/connection.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/limits.h"
#include "base/wipe.h"

namespace assent::http {

namespace {

// What the connection loop learns about the request being served on this thread.
struct RequestState {
  bool parsed = false;         // the request line and headers parsed (routing ran)
  bool has_body = false;       // Content-Length > 0 or Transfer-Encoding present
  bool body_consumed = false;  // a handler read the whole body
  bool close = false;          // end the connection after this response
  std::function<void(socket_t)> hand_over;  // takes the connection after the response
};
thread_local RequestState tl_request;

// After a `Connection: close` answer, what the client still sends is read and dropped
// (so that closing does not reset the connection under the answer), within these bounds.
constexpr size_t kDrainBytesMax = 4u << 20;
constexpr int kDrainMs = 2000;
constexpr int kPollSliceMs = 100;
// The most one request may make the server read: its line, headers and body framing
// included. Twice the body limit leaves room for chunk framing of chunks of 8 bytes or
// more; beyond it the read fails and the request is answered 400 and the connection
// closed.
constexpr size_t kRequestBytesMax =
    2 * static_cast<size_t>(limits::kRpcBodyBytesMax) + (64u << 10);

int Poll(socket_t sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

int Ms(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

// One buffered stream for the whole connection (cpp-httplib's own stream is per
// request and drops the bytes it read ahead).
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(socket_t sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_ms_(read_timeout_ms), write_ms_(write_timeout_ms), buf_(4096) {}

  ~ConnectionStream() override { WipeBytes(buf_.data(), buf_.size()); }

  bool HasBuffered() const { return off_ < len_; }
  // Overwrites the bytes already handed out (they may be a secret's, in a body); the
  // buffered rest is the next request's.
  void WipeConsumed() { WipeBytes(buf_.data(), off_); }

  bool is_readable() const override {
    return HasBuffered() || Poll(sock_, POLLIN, read_ms_) > 0;
  }
  // Like cpp-httplib: writable, and the peer has not closed (an event stream stops
  // when its client goes away).
  bool is_writable() const override {
    if (Poll(sock_, POLLOUT, write_ms_) <= 0) return false;
    if (Poll(sock_, POLLIN, 0) == 0) return true;
    char c;
    return ::recv(sock_, &c, 1, MSG_PEEK) > 0;
  }

  // Starts a request's read budget (kRequestBytesMax).
  void ResetBudget() { budget_ = kRequestBytesMax; }

  ssize_t read(char* ptr, size_t size) override {
    // cpp-httplib reads the request line, header lines and chunk-size lines with no
    // length limit: the budget bounds what one request may make us read at all.
    if (budget_ == 0) return -1;
    size = std::min(size, budget_);
    ssize_t n = ReadSome(ptr, size);
    if (n > 0) budget_ -= static_cast<size_t>(n);
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    for (;;) {
      ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    if (addr.ss_family == AF_UNIX) {
      // As cpp-httplib does: the peer's PID stands for the port.
      struct ucred cred {};
      socklen_t clen = sizeof cred;
      if (::getsockopt(sock_, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) port = cred.pid;
      return;
    }
    Numeric(addr, len, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    if (addr.ss_family != AF_UNIX) Numeric(addr, len, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  ssize_t ReadSome(char* ptr, size_t size) {
    if (HasBuffered()) {
      size_t n = std::min(size, len_ - off_);
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (Poll(sock_, POLLIN, read_ms_) <= 0) return -1;
    if (size >= buf_.size()) return Recv(ptr, size);
    ssize_t n = Recv(buf_.data(), buf_.size());
    if (n <= 0) return n;
    len_ = static_cast<size_t>(n);
    size_t give = std::min(size, len_);
    std::memcpy(ptr, buf_.data(), give);
    off_ = give;
    return static_cast<ssize_t>(give);
  }

  ssize_t Recv(char* ptr, size_t size) {
    for (;;) {
      ssize_t n = ::recv(sock_, ptr, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  static void Numeric(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, serv,
                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host;
      port = std::atoi(serv);
    }
  }

  socket_t sock_;
  int read_ms_;
  int write_ms_;
  std::vector<char> buf_;
  size_t off_ = 0;
  size_t len_ = 0;
  size_t budget_ = kRequestBytesMax;
};

// Waits for the next request: buffered bytes, or the socket readable within the
// keep-alive idle time; gives up early when the server stops.
bool WaitForRequest(const ConnectionStream& strm, socket_t sock, time_t idle_s,
                    const std::atomic<socket_t>& svr_sock) {
  if (strm.HasBuffered()) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(idle_s);
  while (svr_sock != INVALID_SOCKET) {
    int n = Poll(sock, POLLIN, kPollSliceMs);
    if (n != 0) return n > 0;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
  return false;
}

// Half-closes, then reads and drops what the client still sends until it closes its
// side or the bounds run out, so the close does not turn into a reset that could
// destroy the answer before the client read it.
void LingeringClose(socket_t sock) {
  ::shutdown(sock, SHUT_WR);
  char buf[16384];
  size_t drained = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
  while (drained < kDrainBytesMax && std::chrono::steady_clock::now() < deadline) {
    if (Poll(sock, POLLIN, kPollSliceMs) <= 0) continue;
    ssize_t n = ::recv(sock, buf, sizeof buf, 0);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    if (n > 0) drained += static_cast<size_t>(n);
  }
}

bool HeaderIsDigits(const std::string& v) {
  if (v.empty()) return false;
  for (char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

// Runs once the request line and headers parsed, before routing.
void OnParsed(httplib::Request& req) {
  tl_request.parsed = true;
  // Ranges are ignored (RFC 9110 §14.2 allows it): no answer of ours is partial.
  req.ranges.clear();
  bool has_te = req.has_header("Transfer-Encoding");
  bool has_cl = req.has_header("Content-Length");
  std::string cl = req.get_header_value("Content-Length");
  tl_request.has_body =
      has_te || (has_cl && !(HeaderIsDigits(cl) && cl.find_first_not_of('0') == std::string::npos));
  // Framing we cannot trust: the handler answers 400, and the connection ends.
  if ((has_te && has_cl) || req.get_header_value_count("Content-Length") > 1 ||
      req.get_header_value_count("Transfer-Encoding") > 1)
    ConnectionServer::CloseAfterResponse(req);
  const std::string& m = req.method;
  bool library_reads = m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
  if (tl_request.has_body && !library_reads) ConnectionServer::CloseAfterResponse(req);
}

}  // namespace

void ConnectionServer::CloseAfterResponse(const httplib::Request& req) {
  tl_request.close = true;
  // cpp-httplib writes `Connection: close` (and no Keep-Alive) when the request asks
  // for it. The request object is not const where cpp-httplib owns it (a local of
  // process_request), so changing it through this reference is defined.
  auto& mutable_req = const_cast<httplib::Request&>(req);
  mutable_req.headers.erase("Connection");
  mutable_req.headers.emplace("Connection", "close");
}

void ConnectionServer::BodyConsumed() { tl_request.body_consumed = true; }

void ConnectionServer::HandOver(std::function<void(socket_t)> adopt) {
  tl_request.hand_over = std::move(adopt);
}

void ConnectionServer::SetErrorHandler(HandlerWithResponse handler) {
  set_error_handler(HandlerWithResponse(
      [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        bool raised_by_library = res.body.empty();
        if (!tl_request.parsed || (tl_request.has_body && !tl_request.body_consumed) ||
            (raised_by_library && res.status != 404))
          CloseAfterResponse(req);
        return handler(req, res);
      }));
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  OnConnection(sock);
  ConnectionStream strm(sock, Ms(read_timeout_sec_, read_timeout_usec_),
                        Ms(write_timeout_sec_, write_timeout_usec_));
  bool ret = false;
  bool linger = false;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (!WaitForRequest(strm, sock, keep_alive_timeout_sec_, svr_sock_)) break;
    // At the limit, the connection ends only if another waits for a worker.
    if (left == 1 && waiting_connections_.load() == 0) left = keep_alive_max_count_;
    // The last request of this connection: its answer says `Connection: close`.
    const bool last = left == 1;
    tl_request = RequestState{};
    strm.ResetBudget();
    bool connection_closed = false;
    ret = process_request(strm, last, connection_closed, OnParsed);
    strm.WipeConsumed();
    if (tl_request.hand_over) {
      // The connection is the adopter's now: neither read from it nor close it here.
      auto adopt = std::move(tl_request.hand_over);
      tl_request = RequestState{};
      adopt(sock);
      return true;
    }
    // A body nobody read would be parsed as the next request: never reuse then.
    bool unread = tl_request.has_body && !tl_request.body_consumed;
    // (cpp-httplib sets connection_closed only from the request's Connection header, not
    // at our limit: `last` is checked here so that the close below lingers too.)
    if (!ret || last || connection_closed || tl_request.close || !tl_request.parsed || unread) {
      // Also when the client already sent more (pipelined past the keep-alive limit):
      // closing with unread data would reset the connection under the last answer.
      linger = ret && (tl_request.close || unread || !tl_request.parsed || strm.HasBuffered() ||
                       Poll(sock, POLLIN, 0) > 0);
      break;
    }
  }
  tl_request = RequestState{};
  if (linger) LingeringClose(sock);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace assent::http
