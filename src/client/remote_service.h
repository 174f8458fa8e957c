// RemoteService: Service over HTTP to a running assentd, on its Unix socket or TCP.
//
// The only client-side user of httplib.h. Every call opens its own connection with
// explicit timeouts (connect 3 s, write 10 s, read 20 s, or the call's deadline for the
// access.wait long-poll), so two threads may call at once without sharing a socket.
// Headers per spec/PROTOCOL.md section 3: Assent-Api-Version 1, Content-Type
// application/json, Authorization when a token is configured (optional on the Unix
// socket, where no token means the agent role), and the client identity pair once set.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "client/service.h"

namespace assent::client {

// Where a server listens: "unix:/abs/path" or "tcp://host:port".
struct ServerAddress {
  enum class Kind { kUnix, kTcp } kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp
  int port = 0;      // kTcp
  std::string ToString() const;
};
// Parses "unix:PATH" (PATH absolute), "tcp://HOST:PORT" or "http://HOST:PORT"; nullopt
// and a message on anything else.
std::optional<ServerAddress> ParseServerAddress(const std::string& text, std::string* error);

struct RemoteOptions {
  int64_t connect_timeout_ms = 3000;
  int64_t read_timeout_s = 20;
  int64_t write_timeout_s = 10;
  // An idle event stream gets a heartbeat every heartbeat_s (15 s by default).
  int64_t events_read_timeout_s = 45;
};

class RemoteService final : public Service {
 public:
  RemoteService(ServerAddress address, std::string token, RemoteOptions options = {});

  Reply<json> Call(const std::string& method, const json& params) override;
  Reply<json> CallWithDeadline(const std::string& method, const json& params,
                               int64_t deadline_s) override;
  void SetIdentity(const ClientIdentity& identity) override;
  Reply<int64_t> StreamEvents(std::optional<int64_t> since, const EventSink& sink) override;
  std::string Endpoint() const override { return address_.ToString(); }

  // GET /healthz with a short timeout: true when a server answers "ok".
  bool Healthy(int64_t timeout_ms = 1000) const;

 private:
  Reply<json> Post(const std::string& method, const json& params, int64_t read_timeout_s);

  const ServerAddress address_;
  const std::string token_;
  const RemoteOptions options_;
  mutable std::mutex mu_;
  std::optional<ClientIdentity> identity_;
  int64_t next_id_ = 1;
};

// Interprets one HTTP answer to POST /rpc (exposed for unit tests): an HttpError body
// becomes kHttp, a JSON-RPC error kRpc, a result the value; anything else kProtocol.
Reply<json> InterpretRpcAnswer(int http_status, const std::string& body);

// Incremental parser of a text/event-stream body (exposed for unit tests).
class SseParser {
 public:
  // Feeds bytes; calls `sink` for each complete event. Returns false when the sink
  // asked to stop.
  bool Feed(const std::string& bytes, const EventSink& sink);

 private:
  bool Dispatch(const EventSink& sink);
  std::string line_buffer_;
  std::string event_type_;
  std::string data_;
  bool has_data_ = false;
  std::optional<int64_t> id_;
};

}  // namespace assent::client
