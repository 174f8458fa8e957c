#include "http/server.h"

#include "http/connection.h"
#include "http/httplib_seam.h"
#include "http/request_parse.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/fault.h"
#include "base/limits.h"
#include "base/wipe.h"

namespace assent::http {

using nlohmann::json;

namespace {

// Peer of the connection this worker thread is serving (set per connection).
struct PeerCred {
  bool is_unix = false;
  bool known = false;
  uint32_t uid = 0;
};
thread_local PeerCred tl_peer;

// Reads SO_PEERCRED on the accepted socket; the connection then runs on this thread.
class UnixServer : public ConnectionServer {
 protected:
  void OnConnection(socket_t sock) override {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    tl_peer = PeerCred{};
    tl_peer.is_unix = true;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      tl_peer.known = true;
      tl_peer.uid = cred.uid;
    }
  }
};

class TcpServer : public ConnectionServer {
 protected:
  void OnConnection(socket_t) override { tl_peer = PeerCred{}; }
};

// The endpoints of spec/PROTOCOL.md §1 with the methods they serve. HEAD is served
// wherever GET is, as GET without a body (RFC 9110 §9.3.2), so `Allow` names both.
struct Known {
  const char* path;
  const char* allow;
};
constexpr Known kKnown[] = {{"/rpc", "POST"},           {"/events", "GET, HEAD"},
                            {"/healthz", "GET, HEAD"},  {"/readyz", "GET, HEAD"},
                            {"/metrics", "GET, HEAD"},  {"/discord/interactions", "POST"}};

const Known* FindKnown(const std::string& path) {
  for (const Known& k : kKnown)
    if (path == k.path) return &k;
  return nullptr;
}

bool EqualsIgnoreCase(const std::string& a, const char* b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

json HttpError(const std::string& name, const std::string& message) {
  return {{"error", name}, {"message", message}};
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

json PayloadTooLarge() {
  json body = HttpError("payload_too_large", "request body exceeds " +
                                                 std::to_string(limits::kRpcBodyBytesMax) +
                                                 " bytes");
  body["limit_bytes"] = limits::kRpcBodyBytesMax;
  return body;
}

std::string ShownHeader(const std::string& v) {
  // Echo at most 64 printable ASCII characters of a header we reject.
  std::string out;
  for (char c : v.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

namespace {

// httplib::ThreadPool's contract (every queued job runs; shutdown() runs what is queued,
// then joins), but threads are started on demand, up to `max`, when a job arrives and no
// worker is idle, and a worker that finishes a job while `spare_max` others are idle
// exits. A burst (64 event streams opening at once) starts many workers; without the
// exit they would all stay, and a new connection would wake whichever had waited longest
// — a cold one (see kHttpSpareWorkersMax). Idle RSS falls back after a burst too.
class GrowingPool final : public httplib::TaskQueue {
 public:
  // `waiting`: kept equal to the number of queued jobs (connections without a worker).
  GrowingPool(size_t max, size_t spare_max, std::atomic<size_t>* waiting)
      : max_(max), spare_max_(spare_max), waiting_(waiting) {}
  ~GrowingPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::vector<std::thread> exited;
    {
      std::lock_guard<std::mutex> lock(mu_);
      exited.swap(exited_);
      jobs_.push_back(std::move(fn));
      waiting_->store(jobs_.size());
      if (idle_ < jobs_.size() && workers_.size() < max_) {
        workers_.emplace_back();
        auto self = std::prev(workers_.end());
        *self = std::thread([this, self] { Work(self); });
      }
    }
    cv_.notify_one();
    for (auto& t : exited) t.join();
  }

  void shutdown() override {
    std::list<std::thread> workers;
    std::vector<std::thread> exited;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
      workers.swap(workers_);
      exited.swap(exited_);
    }
    cv_.notify_all();
    for (auto& t : workers)
      if (t.joinable()) t.join();
    for (auto& t : exited) t.join();
  }

 private:
  void Work(std::list<std::thread>::iterator self) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // shutting down, nothing left to run
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      waiting_->store(jobs_.size());
      lock.unlock();
      fn();
      lock.lock();
      if (!shutdown_ && jobs_.empty() && idle_ >= spare_max_) {
        // Enough workers wait already: this one ends; the next enqueue joins it.
        exited_.push_back(std::move(*self));
        workers_.erase(self);
        return;
      }
    }
  }

  const size_t max_;
  const size_t spare_max_;
  std::atomic<size_t>* const waiting_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> workers_;   // running (their std::thread objects)
  std::vector<std::thread> exited_;  // ended or ending; joined by enqueue or shutdown
  size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServer& owner) : o_(owner) {}

  std::string PeerKey(const httplib::Request& req) const {
    if (tl_peer.is_unix) return "unix:uid=" + std::to_string(tl_peer.uid);
    return "tcp:" + req.remote_addr;
  }

  void Fail(httplib::Response& res, const std::string& peer, int status,
            const std::string& name, const std::string& message, bool count_failure) {
    json body = HttpError(name, message);
    if (count_failure) {
      bool locked = o_.lockout_.RecordFailure(peer);
      if (o_.auth_failure_sink_ && !ASSENT_FAULT("auth-failure-not-audited")) o_.auth_failure_sink_(peer, name, locked);
    }
    SendJson(res, status, body);
  }

  // The checks shared by /rpc and /events; returns the caller or answers the request.
  std::optional<rpc::CallContext> Admit(const httplib::Request& req, httplib::Response& res) {
    std::string peer = PeerKey(req);
    // API version (ASSENT-HTTP: 426 names expected and received).
    bool has_version = req.has_header("Assent-Api-Version");
    std::string version = req.get_header_value("Assent-Api-Version");
    auto parsed = ParseApiVersion(version);
    if (!has_version || !parsed ||
        (parsed->major != 1 && !ASSENT_FAULT("version-other-major-accepted"))) {
      json body = HttpError(
          "unsupported_version",
          has_version ? "Assent-Api-Version \"" + ShownHeader(version) +
                            "\" is not supported; this server speaks major version 1"
                      : "the Assent-Api-Version header is required; this server speaks "
                        "major version 1");
      body["expected"] = "1";
      body["received"] = has_version ? ShownHeader(version) : std::string();
      if (ASSENT_FAULT("version-426-without-received")) body.erase("received");
      SendJson(res, 426, body);
      return std::nullopt;
    }
    // Peer (Unix socket): same UID as the daemon or allowlisted.
    if (tl_peer.is_unix) {
      uint32_t self = static_cast<uint32_t>(::getuid());
      if (!tl_peer.known ||
          (tl_peer.uid != self && !o_.options_.allowed_uids.count(tl_peer.uid))) {
        SendJson(res, 403,
                 HttpError("peer_forbidden",
                           "this socket serves only its owner's UID and allowlisted UIDs"));
        return std::nullopt;
      }
    }
    // Lockout.
    if (int64_t left = o_.lockout_.LockedForSeconds(peer); left > 0 && !ASSENT_FAULT("lockout-never")) {
      json body = HttpError("locked_out", "too many authentication failures; retry in " +
                                              std::to_string(left) + " s");
      body["retry_after_s"] = left;
      if (!ASSENT_FAULT("lockout-without-retry-after")) res.set_header("Retry-After", std::to_string(left));
      SendJson(res, 429, body);
      return std::nullopt;
    }
    rpc::CallContext ctx;
    ctx.peer = peer;
    // Bearer token: required on TCP; optional on the socket (none = agent).
    std::string auth = req.get_header_value("Authorization");
    if (auth.empty()) {
      if (!tl_peer.is_unix) {
        Fail(res, peer, 401, "unauthorized",
             "a bearer token is required on TCP: send Authorization: Bearer <token>", true);
        return std::nullopt;
      }
      ctx.role = rpc::Role::kAgent;
    } else {
      auto token = ParseBearer(auth);
      if (!token) {
        Fail(res, peer, 401, "unauthorized",
             "the Authorization header must be \"Bearer <token>\" (a token of 16 to 256 "
             "characters from A-Z a-z 0-9 _ . ~ -)",
             true);
        return std::nullopt;
      }
      auto entry = o_.tokens_.Find(std::string(*token));
      if (!entry) {
        Fail(res, peer, 401, "unauthorized", "the bearer token is not valid", true);
        return std::nullopt;
      }
      ctx.role = entry->role;
      ctx.token_name = entry->name;
    }
    // Client identity: both headers or neither; the key must prove the id.
    bool has_id = req.has_header("Assent-Client-Id");
    bool has_key = req.has_header("Assent-Client-Key");
    if (has_id || has_key) {
      std::string id = req.get_header_value("Assent-Client-Id");
      std::string key = req.get_header_value("Assent-Client-Key");
      if (!has_id || !has_key) {
        Fail(res, peer, 401, "unauthorized",
             "Assent-Client-Id and Assent-Client-Key must be sent together", true);
        return std::nullopt;
      }
      if ((!o_.client_verifier_ || !o_.client_verifier_(id, key)) && !ASSENT_FAULT("client-key-unchecked")) {
        Fail(res, peer, 401, "unauthorized",
             "the client key does not prove this client id; call client.hello for a new "
             "identity",
             true);
        return std::nullopt;
      }
      ctx.client_id = id;
    }
    return ctx;
  }

  // Step 1 of the checks (ASSENT-HTTP-012): reads the body within rpc_body_bytes_max,
  // whatever its framing. False when it answered instead — 413 as soon as the limit is
  // passed (a declared length is not awaited, a chunked body is not read further,
  // ASSENT-LIM-005), 400 for framing it cannot trust — and then the connection closes.
  bool ReadBody(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader, const char* route, std::string* body) {
    const size_t limit = static_cast<size_t>(limits::kRpcBodyBytesMax) *
                         (ASSENT_FAULT("body-limit-ignored") ? 4 : 1);
    auto refuse = [&](int status, json error) {
      ConnectionServer::CloseAfterResponse(req);
      SendJson(res, status, error);
      Count(route, status);
      return false;
    };
    auto too_large = [&] { return refuse(413, PayloadTooLarge()); };
    auto bad = [&](const std::string& why) { return refuse(400, HttpError("bad_request", why)); };
    bool has_te = req.has_header("Transfer-Encoding");
    bool has_cl = req.has_header("Content-Length");
    if (req.get_header_value_count("Content-Length") > 1 ||
        req.get_header_value_count("Transfer-Encoding") > 1 || (has_te && has_cl))
      return bad("ambiguous body framing: send one Content-Length or Transfer-Encoding: chunked");
    if (has_te) {
      if (!EqualsIgnoreCase(req.get_header_value("Transfer-Encoding"), "chunked"))
        return bad("the only transfer coding served is chunked");
      // cpp-httplib 0.11's chunked decoder is lax (a chunk not followed by CRLF ends the
      // body without an error, sizes go through strtoul): whatever it leaves unread must
      // never be parsed as the next request, so a chunked request ends its connection.
      ConnectionServer::CloseAfterResponse(req);
    } else if (has_cl) {
      std::string cl = req.get_header_value("Content-Length");
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
      bool digits = !cl.empty() && cl.find_first_not_of("0123456789") == std::string::npos;
      if (digits && ec == std::errc::result_out_of_range) return too_large();
      if (!digits || ec != std::errc() || end != cl.data() + cl.size())
        return bad("Content-Length must be a decimal number of bytes");
      if (n > limit) return too_large();
      if (n == 0) {
        ConnectionServer::BodyConsumed();
        return true;
      }
      body->reserve(n);  // one allocation: no reallocated copy of a secret left behind
    } else {
      // Neither header: the request has no body (RFC 9112 §6.3).
      ConnectionServer::BodyConsumed();
      return true;
    }
    // cpp-httplib would parse a multipart body itself (and fail it): hide the media
    // type while reading; the media type check comes later, in its order.
    auto& mutable_req = const_cast<httplib::Request&>(req);
    auto range = mutable_req.headers.equal_range("Content-Type");
    std::vector<std::pair<std::string, std::string>> ctypes(range.first, range.second);
    mutable_req.headers.erase("Content-Type");
    bool over = false;
    bool ok = reader([&](const char* data, size_t n) {
      if (body->size() + n > limit) {
        over = true;
        return false;
      }
      if (body->size() + n > body->capacity()) {
        // Grow by hand so the old block is overwritten before it is freed (a chunked
        // body's size is not known in advance; it may hold a secret).
        std::string grown;
        grown.reserve(std::max(body->capacity() * 2, body->size() + n));
        grown.append(*body);
        WipeString(*body);
        *body = std::move(grown);
      }
      body->append(data, n);
      return true;
    });
    for (auto& h : ctypes) mutable_req.headers.insert(std::move(h));
    if (over) return too_large();
    if (!ok) {
      if (res.status == 415)
        return refuse(415, HttpError("unsupported_media_type",
                                     "the Content-Encoding of the body is not supported"));
      return bad("the body could not be read: malformed chunked framing, or it ended early");
    }
    ConnectionServer::BodyConsumed();
    return true;
  }

  void HandleRpc(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader) {
    res.set_header("Assent-Api-Version", "1.0");  // ASSENT-HTTP-018
    std::string body;
    // It may hold a secret (secret.put): overwritten whichever way this returns, a
    // refusal (401, 415, a partial body) as well as an answer.
    WipeOnExit<std::string> wipe_on_exit(body);
    if (!ReadBody(req, res, reader, "/rpc", &body)) return;
    auto ctx = Admit(req, res);
    if (!ctx) return Count("/rpc", res.status);
    std::string ctype = req.get_header_value("Content-Type");
    std::string base = ctype.substr(0, ctype.find(';'));
    while (!base.empty() && base.back() == ' ') base.pop_back();
    for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (base != "application/json" && !ASSENT_FAULT("media-type-unchecked")) {
      SendJson(res, 415,
               HttpError("unsupported_media_type",
                         "POST /rpc takes Content-Type: application/json"));
      return Count("/rpc", 415);
    }
    rpc::RpcReply reply = o_.endpoint_.Handle(*ctx, body);
    res.status = reply.http_status;
    if (!reply.body.empty()) res.set_content(reply.body, "application/json");
    Count("/rpc", res.status);
  }

  void HandleEvents(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Assent-Api-Version", "1.0");  // ASSENT-HTTP-018
    auto ctx = Admit(req, res);
    if (!ctx) return Count("/events", res.status);
    EventStreamer* streamer = o_.event_streamer_;
    if (!streamer) {
      SendJson(res, 501, HttpError("not_implemented", "this build serves no event stream"));
      return Count("/events", 501);
    }
    EventStreamRequest er{*ctx, std::nullopt};
    // Last-Event-ID wins over ?since= (ASSENT-EVT-005): it is what a reconnecting
    // EventSource sends, and it is newer than the URL it reuses.
    std::string since = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                                                        : req.get_param_value("since");
    bool since_given = req.has_header("Last-Event-ID") || req.has_param("since");
    if (since_given) {
      auto cursor = ParseEventCursor(since);
      if (!cursor && !ASSENT_FAULT("events-bad-since-accepted")) {
        SendJson(res, 400, HttpError("bad_request",
                                     "since / Last-Event-ID must be a non-negative event id "
                                     "(decimal digits only, at most 9223372036854775807)"));
        return Count("/events", 400);
      }
      er.since = cursor;
    }
    if (!streamer->TryAcquireSlot() && !ASSENT_FAULT("sse-subscribers-unbounded")) {
      res.set_header("Retry-After", "5");
      json body = HttpError("too_many_subscribers",
                            "the event stream subscriber cap (" +
                                std::to_string(limits::kSseSubscribersMax) + ") is reached");
      body["retry_after_s"] = 5;
      SendJson(res, 503, body);
      return Count("/events", 503);
    }
    Count("/events", 200);
    res.set_header("Cache-Control", "no-store");
    // The connection ends with the stream: say so, so that no client pools it.
    ConnectionServer::CloseAfterResponse(req);
    // cpp-httplib sends the headers, then calls the provider once: it sends the stream's
    // first bytes and hands the connection to the streamer, and returns false so that
    // cpp-httplib writes nothing more (no last chunk). A HEAD request never calls it.
    auto handed_over = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [streamer, er, handed_over, this](size_t, httplib::DataSink& sink) {
          int64_t cursor = 0;
          std::string head;
          if (stopping_ || !streamer->Open(er, &cursor, &head)) {
            sink.done();
            return true;
          }
          if (!sink.write(head.data(), head.size())) return false;
          *handed_over = true;
          ConnectionServer::HandOver(
              [streamer, er, cursor](socket_t fd) { streamer->Adopt(fd, er, cursor); });
          return false;
        },
        [streamer, handed_over](bool) {
          if (!*handed_over) streamer->ReleaseSlot();
        });
  }

  void Count(const std::string& route, int status) { o_.metrics_.CountHttp(route, status); }

  // 405 with Allow (ASSENT-HTTP-004).
  void NotAllowed(const Known& k, httplib::Response& r) {
    r.set_header("Allow", k.allow);
    json body = HttpError("method_not_allowed", std::string(k.path) + " takes " + k.allow + " only");
    body["allow"] = k.allow;
    SendJson(r, 405, body);
    Count(k.path, 405);
  }

  // 404 not_found (ASSENT-HTTP-003).
  static void NotFound(const httplib::Request& q, httplib::Response& r) {
    SendJson(r, 404, HttpError("not_found", "no route " + ShownHeader(q.path)));
  }

  void Routes(ConnectionServer& s) {
    using httplib::ContentReader;
    using httplib::Request;
    using httplib::Response;
    // Every method that may carry a body is routed to a content-reader handler, so no
    // body is read except by ReadBody, within the limit (cpp-httplib applies its
    // payload limit to Content-Length only, and parses some media types itself).
    s.Post("/rpc", [this](const Request& q, Response& r, const ContentReader& rd) {
      HandleRpc(q, r, rd);
    });
    s.Get("/events", [this](const Request& q, Response& r) { HandleEvents(q, r); });
    s.Get("/healthz", [this](const Request&, Response& r) {
      r.set_content("ok\n", "text/plain");
      Count("/healthz", 200);
    });
    s.Get("/readyz", [this](const Request&, Response& r) {
      bool ready = o_.ready_.load() && !stopping_;
      SendJson(r, ready ? 200 : 503, {{"ready", ready}});
      Count("/readyz", r.status);
    });
    s.Get("/metrics", [this](const Request& q, Response& r) {
      if (!o_.options_.unauthenticated_metrics) {
        std::string peer = PeerKey(q);
        if (int64_t left = o_.lockout_.LockedForSeconds(peer); left > 0) {
          r.set_header("Retry-After", std::to_string(left));
          json body = HttpError("locked_out", "too many authentication failures");
          body["retry_after_s"] = left;
          SendJson(r, 429, body);
          return Count("/metrics", 429);
        }
        const std::string auth = q.get_header_value("Authorization");
        auto token = ParseBearer(auth);  // a view into `auth`
        if (!token || !o_.tokens_.Find(std::string(*token))) {
          Fail(r, peer, 401, "unauthorized", "GET /metrics needs a bearer token", true);
          return Count("/metrics", 401);
        }
      }
      r.set_content(o_.metrics_.Render(), "text/plain; version=0.0.4");
      Count("/metrics", 200);
    });
    s.Post("/discord/interactions",
           [this](const Request& q, Response& r, const ContentReader& rd) {
             std::string body;
             if (!ReadBody(q, r, rd, "/discord/interactions", &body)) return;
             if (!o_.interactions_) {
               SendJson(r, 404, HttpError("not_found", "no Discord approver is configured"));
               return Count("/discord/interactions", 404);
             }
             RawRequest raw{body, [&q](const std::string& h) { return q.get_header_value(h); }};
             RawResponse out = o_.interactions_(raw);
             r.status = out.status;
             r.set_content(out.body, out.content_type.c_str());
             Count("/discord/interactions", out.status);
           });
    // A known path with another method: 405 with Allow (ASSENT-HTTP-004). The body of
    // such a request is not read; the connection closes after the answer.
    for (const Known& k : kKnown) {
      const Known* kp = &k;
      auto plain = [this, kp](const Request&, Response& r) { NotAllowed(*kp, r); };
      auto with_body = [this, kp](const Request&, Response& r, const ContentReader&) {
        NotAllowed(*kp, r);
      };
      if (std::string(k.allow) == "POST") s.Get(k.path, plain);
      else s.Post(k.path, with_body);
      s.Put(k.path, with_body);
      s.Delete(k.path, with_body);
      s.Patch(k.path, with_body);
      s.Options(k.path, plain);
    }
    // Any other path: 404, for every method (ASSENT-HTTP-003), without reading a body.
    auto not_found_body = [](const Request& q, Response& r, const ContentReader&) {
      NotFound(q, r);
    };
    s.Get(".*", NotFound);
    s.Options(".*", NotFound);
    s.Post(".*", not_found_body);
    s.Put(".*", not_found_body);
    s.Delete(".*", not_found_body);
    s.Patch(".*", not_found_body);
    // Methods cpp-httplib parses but does not route (TRACE, CONNECT, PRI) would get a
    // bare 400: answer them as any other method.
    s.set_pre_routing_handler([this](const Request& q, Response& r) {
      static const char* const kRouted[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
      // Ranges are ignored (http/connection.h): say so rather than the library's "bytes".
      if (q.method == "HEAD") r.set_header("Accept-Ranges", "none");
      for (const char* m : kRouted)
        if (q.method == m) return httplib::Server::HandlerResponse::Unhandled;
      if (const Known* k = FindKnown(q.path)) NotAllowed(*k, r);
      else NotFound(q, r);
      return httplib::Server::HandlerResponse::Handled;
    });
    // Bodies for errors raised inside cpp-httplib, mapped to the documented names and
    // statuses (spec/PROTOCOL.md §2): a request it could not parse is 400 bad_request.
    s.SetErrorHandler([](const Request& q, Response& r) {
      if (!r.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      if (r.status == 413) {
        SendJson(r, 413, PayloadTooLarge());
      } else if (r.status == 404) {
        NotFound(q, r);
      } else if (r.status >= 500) {
        SendJson(r, r.status, HttpError("internal_error", "internal error (logged as a bug)"));
      } else {
        const char* why = r.status == 414   ? "the request line is longer than 8192 bytes"
                          : r.status == 416 ? "the Range header is malformed"
                                            : "malformed HTTP request";
        SendJson(r, 400, HttpError("bad_request", why));
      }
      return httplib::Server::HandlerResponse::Handled;
    });
    s.set_exception_handler(
        [](const Request& q, Response& r, std::exception_ptr) {
          log::Error("http.exception", {{"path", ShownHeader(q.path)}});
          SendJson(r, 500, HttpError("internal_error", "internal error (logged as a bug)"));
        });
    // Every knob set explicitly (TOOLCHAIN.md): no library default is our policy.
    // A pool per listener: a client holding every worker of one listener (TCP is the one
    // that may face the network) cannot queue the others' clients behind it. Workers are
    // started as connections need them and end when more than a few are idle, so an idle
    // daemon holds a few threads, not 2 x 96.
    s.new_task_queue = [&s] {
      return new GrowingPool(static_cast<size_t>(limits::kHttpWorkerThreads),
                             static_cast<size_t>(limits::kHttpSpareWorkersMax),
                             &s.waiting_connections());
    };
    // ReadBody enforces the limit; this bounds any body cpp-httplib would read itself.
    s.set_payload_max_length(static_cast<size_t>(limits::kRpcBodyBytesMax) * (ASSENT_FAULT("body-limit-ignored") ? 4 : 1));
    s.set_keep_alive_max_count(static_cast<size_t>(limits::kKeepAliveRequestsMax));
    s.set_keep_alive_timeout(limits::kKeepAliveIdleSeconds);
    s.set_read_timeout(o_.options_.read_timeout_s, 0);
    s.set_write_timeout(limits::kReadTimeoutSeconds, 0);
    s.set_tcp_nodelay(true);
  }

  Status BindUnix(const ListenerConfig& l) {
    namespace fs = std::filesystem;
    if (l.path.size() >= sizeof(sockaddr_un{}.sun_path))
      return InvalidParams("socket path too long (max " +
                           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                           " bytes): " + l.path);
    fs::path dir = fs::path(l.path).parent_path();
    std::error_code ec;
    if (!dir.empty()) {
      fs::create_directories(dir, ec);
      if (ec) return Internal("cannot create socket directory " + dir.string() + ": " + ec.message());
      if (::chmod(dir.c_str(), 0700) != 0)
        return Internal("cannot chmod 0700 " + dir.string() + ": " + std::strerror(errno));
    }
    if (fs::exists(l.path, ec)) {
      // A live daemon answers on it: refuse. A dead one left a stale file: remove it.
      httplib::Client probe(l.path);
      probe.set_address_family(AF_UNIX);
      probe.set_connection_timeout(0, 300000);
      probe.set_read_timeout(1, 0);
      if (auto r = probe.Get("/healthz"))
        return Status::Error(ErrorCode::kInvalidState,
                             "another daemon is already serving on " + l.path);
      fs::remove(l.path, ec);
      log::Warn("http.stale_socket_removed", {{"path", l.path}});
    }
    auto server = std::make_unique<UnixServer>();
    Routes(*server);
    server->set_address_family(AF_UNIX);
    auto fd = std::make_shared<int>(-1);
    server->set_socket_options([fd](socket_t sock) { *fd = sock; });
    mode_t old = ::umask(0177);  // the socket is created 0600
    bool ok = server->bind_to_port(l.path, 80);
    ::umask(old);
    if (!ok) return Internal("cannot bind Unix socket " + l.path + ": " + std::strerror(errno));
    ::chmod(l.path.c_str(), 0600);
    RaiseBacklog(*fd);
    struct stat st {};
    if (::stat(l.path.c_str(), &st) == 0) socket_inodes_[l.path] = {st.st_dev, st.st_ino};
    o_.bound_.push_back({ListenerConfig::Kind::kUnix, l.path});
    servers_.push_back(std::move(server));
    return Status::Ok();
  }

  Status BindTcp(const ListenerConfig& l) {
    auto server = std::make_unique<TcpServer>();
    Routes(*server);
    auto fd = std::make_shared<int>(-1);
    server->set_socket_options([fd](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      *fd = sock;
    });
    int port = l.port;
    if (port == 0) {
      port = server->bind_to_any_port(l.host);
      if (port < 0) return Internal("cannot bind tcp://" + l.host + ":0");
    } else if (!server->bind_to_port(l.host, port)) {
      return Internal("cannot bind tcp://" + l.host + ":" + std::to_string(port) + ": " +
                      std::strerror(errno));
    }
    RaiseBacklog(*fd);
    o_.bound_.push_back({ListenerConfig::Kind::kTcp, l.host + ":" + std::to_string(port)});
    servers_.push_back(std::move(server));
    return Status::Ok();
  }

  // cpp-httplib listens with a backlog of 5; listen(2) again on the bound socket raises it.
  static void RaiseBacklog(int fd) {
    if (fd >= 0) ::listen(fd, static_cast<int>(limits::kListenBacklog));
  }

  Status Start() {
    for (const auto& l : o_.options_.listeners) {
      Status st = l.kind == ListenerConfig::Kind::kUnix ? BindUnix(l) : BindTcp(l);
      if (!st.ok()) return st;
    }
    for (auto& s : servers_) {
      httplib::Server* raw = s.get();
      threads_.emplace_back([raw] { raw->listen_after_bind(); });
    }
    for (auto& s : servers_)
      while (!s->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::Ok();
  }

  void Stop() {
    stopping_ = true;
    for (auto& s : servers_) s->stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    // Remove our socket file only if it is still ours: a daemon started after this one
    // began stopping may already have bound a new socket at the same path.
    for (const auto& b : o_.bound_) {
      if (b.kind != ListenerConfig::Kind::kUnix) continue;
      struct stat st {};
      auto it = socket_inodes_.find(b.address);
      if (it != socket_inodes_.end() && ::stat(b.address.c_str(), &st) == 0 &&
          st.st_dev == it->second.first && st.st_ino == it->second.second)
        ::unlink(b.address.c_str());
    }
    servers_.clear();
  }

  std::atomic<bool> stopping_{false};

 private:
  HttpServer& o_;
  std::vector<std::unique_ptr<ConnectionServer>> servers_;
  std::vector<std::thread> threads_;
  std::map<std::string, std::pair<dev_t, ino_t>> socket_inodes_;
};

HttpServer::HttpServer(ServerOptions options, const rpc::RpcEndpoint& endpoint,
                       const auth::TokenStore& tokens, auth::Lockout& lockout,
                       Metrics& metrics)
    : impl_(std::make_unique<Impl>(*this)),
      options_(std::move(options)),
      endpoint_(endpoint),
      tokens_(tokens),
      lockout_(lockout),
      metrics_(metrics) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() { return impl_->Start(); }
void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace assent::http
