// HttpServer: the daemon's listeners (Unix socket and/or TCP) and routes.
//
// The only server-side user of httplib.h. Owns one cpp-httplib server per listener,
// every library knob set explicitly from limits.h. Applies, in order, the checks of
// spec/PROTOCOL.md (payload size, API version, peer, lockout, token, client identity,
// content type) and hands authenticated bodies to the RpcEndpoint. Each connection runs
// through http/connection.h, which closes it after a request whose body was not read
// (ASSENT-HTTP-022) or that was not valid HTTP/1.1 (ASSENT-HTTP-023).
//
// Peer credentials: cpp-httplib exposes no accept hook and no UID, so the Unix listener
// subclasses httplib::Server and reads SO_PEERCRED in process_and_close_socket(), which
// runs the whole connection on one worker thread; the UID is passed to the handlers of
// that connection through a thread-local (see peer_cred.h). A unit test fails loudly if
// this seam moves in a cpp-httplib upgrade.
//
// Thread safety: Start/Stop from the owning thread; handlers run on worker threads and
// touch only thread-safe collaborators.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/tokens.h"
#include "base/clock.h"
#include "base/status.h"
#include "http/metrics.h"
#include "rpc/endpoint.h"

namespace assent::http {

struct ListenerConfig {
  enum class Kind { kUnix, kTcp } kind;
  std::string path;  // kUnix: socket path (its directory is created 0700)
  std::string host;  // kTcp
  int port = 0;      // kTcp: 0 = pick a free port
};

// Proves a client id with its key (ASSENT-ID); wired to the engine by main().
using ClientVerifier = std::function<bool(const std::string& id, const std::string& key)>;
// Records an authentication failure in the audit chain (or the log before it exists).
using AuthFailureSink =
    std::function<void(const std::string& peer, const std::string& reason, bool lockout)>;

// Serves GET /events once authenticated. The worker that admitted the request sends the
// response headers and Open's first bytes, then hands the connection to Adopt and goes
// back to serving requests: an open stream holds no worker thread.
struct EventStreamRequest {
  rpc::CallContext ctx;
  std::optional<int64_t> since;  // from ?since= or Last-Event-ID
};
class EventStreamer {
 public:
  virtual ~EventStreamer() = default;
  // Reserves a subscriber slot; false when the cap is reached (→ 503).
  virtual bool TryAcquireSlot() = 0;
  virtual void ReleaseSlot() = 0;
  // Places the stream's cursor and gives the stream's first bytes (unframed); false when
  // the stream cannot start (it ends at once).
  virtual bool Open(const EventStreamRequest& req, int64_t* cursor, std::string* head) = 0;
  // Takes over the connection `fd` (its response headers and first bytes sent, chunked)
  // and the slot: from here the streamer writes the stream's chunks and closes `fd`.
  virtual void Adopt(int fd, const EventStreamRequest& req, int64_t cursor) = 0;
};

// Handles POST /discord/interactions (authenticated by signature, not by token).
struct RawRequest {
  std::string body;
  std::function<std::string(const std::string&)> header;  // "" when absent
};
struct RawResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};
using InteractionsHandler = std::function<RawResponse(const RawRequest&)>;

struct ServerOptions {
  std::vector<ListenerConfig> listeners;
  std::set<uint32_t> allowed_uids;  // besides the daemon's own UID
  bool unauthenticated_metrics = false;
  int64_t read_timeout_s = 5;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const rpc::RpcEndpoint& endpoint,
             const auth::TokenStore& tokens, auth::Lockout& lockout, Metrics& metrics);
  ~HttpServer();

  void SetClientVerifier(ClientVerifier v) { client_verifier_ = std::move(v); }
  void SetAuthFailureSink(AuthFailureSink s) { auth_failure_sink_ = std::move(s); }
  void SetEventStreamer(EventStreamer* s) { event_streamer_ = s; }
  void SetInteractionsHandler(InteractionsHandler h) { interactions_ = std::move(h); }
  void SetReady(bool ready) { ready_ = ready; }

  // Binds every listener (removing a stale socket only if no daemon answers on it) and
  // starts serving on background threads. Error messages name the listener at fault.
  Status Start();
  // Stops accepting, closes streams, joins the threads. Idempotent.
  void Stop();

  // "127.0.0.1:PORT" or the socket path, per listener, after Start.
  struct Bound {
    ListenerConfig::Kind kind;
    std::string address;
  };
  const std::vector<Bound>& bound() const { return bound_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  ServerOptions options_;
  const rpc::RpcEndpoint& endpoint_;
  const auth::TokenStore& tokens_;
  auth::Lockout& lockout_;
  Metrics& metrics_;
  ClientVerifier client_verifier_;
  AuthFailureSink auth_failure_sink_;
  EventStreamer* event_streamer_ = nullptr;
  InteractionsHandler interactions_;
  std::atomic<bool> ready_{false};
  std::vector<Bound> bound_;
  friend class Impl;
};

}  // namespace assent::http
