// Service: everything the `assent` CLI asks of an Assent server, one method per RPC.
//
// Two implementations share this interface, so every CLI command runs one code path in
// both modes: RemoteService (HTTP to assentd over the Unix socket or TCP) and
// LocalService (the same engine in-process on the same SQLite file, "standalone" mode).
// Both implement the single transport primitive Call(method, params); the typed
// wrappers below build the spec's params (spec/schemas/*.json) and return the spec's
// result objects unchanged, so `--json` output is exactly what the protocol defines.
//
// Errors: a ServiceError says which layer failed (the RPC answered with a spec error,
// the HTTP layer refused before JSON-RPC, the server could not be reached, or it sent
// something that is not the protocol) and carries the spec's code and stable name.
//
// Secrets: PutSecret is the only call that carries a plaintext value; Reveal returns it
// sealed to the caller's one-time key. Neither is ever logged here.
//
// Thread safety: implementations must allow concurrent calls from two threads (the
// `run` command long-polls on one thread while the main thread may cancel).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace assent::client {

using nlohmann::json;

struct ServiceError {
  enum class Kind {
    kRpc,          // a JSON-RPC error object from the server (code is a spec code)
    kHttp,         // an HttpError body before JSON-RPC (name e.g. "unauthorized")
    kUnreachable,  // no connection, connection refused, or no answer in time
    kProtocol,     // the server answered something that is not protocol v1
    kLocal,        // standalone mode could not open its database or key
  };
  Kind kind = Kind::kProtocol;
  int code = 0;            // JSON-RPC error code for kRpc, else 0
  std::string name;        // the spec's stable name: "not_found", "unauthorized", …
  std::string message;     // human-readable; never holds a secret, token or reason
  json data = nullptr;     // the error's `data` (kRpc) or the HttpError body (kHttp)
  int http_status = 0;     // the HTTP status when one was received

  // "not_found (-32002): no such request" — for messages and logs.
  std::string Describe() const;
};

// A value or a ServiceError.
template <typename T>
class Reply {
 public:
  Reply(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Reply(ServiceError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const ServiceError& error() const { return std::get<ServiceError>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, ServiceError> v_;
};

// A client identity minted by client.hello, presented on later calls.
struct ClientIdentity {
  std::string client_id;   // cl_…
  std::string client_key;  // base64url, no padding; proves client_id
};

struct CommandSpec {
  std::vector<std::string> argv;
  std::string cwd;  // absolute
};

struct AccessRequestParams {
  std::vector<std::string> secrets;
  std::string reason;
  std::optional<int64_t> ttl_s;
  std::optional<std::string> mode;  // interactive | unattended
  std::optional<int64_t> timeout_s;
  std::optional<CommandSpec> command;
  std::optional<std::string> client_request_id;
};

// One Server-Sent Event from GET /events.
struct ServerEvent {
  std::optional<int64_t> id;  // absent for gap's replay marker and shutdown
  std::string type;           // request.created, …, gap, shutdown
  json data;
};
// Called per event; return false to stop the stream.
using EventSink = std::function<bool(const ServerEvent&)>;

json CommandToJson(const CommandSpec& command);
// The spec's stable name of a JSON-RPC error code ("not_found" for -32002); codes the
// spec does not define get "error_<code>".
std::string ErrorNameForCode(int code);

class Service {
 public:
  virtual ~Service() = default;

  // The transport primitive: one JSON-RPC call, params by name.
  virtual Reply<json> Call(const std::string& method, const json& params) = 0;
  // Long-running calls (access.wait) need a longer transport deadline.
  virtual Reply<json> CallWithDeadline(const std::string& method, const json& params,
                                       int64_t deadline_s) = 0;
  // Presents this identity on every later call (after client.hello).
  virtual void SetIdentity(const ClientIdentity& identity) = 0;
  // Streams GET /events from `since` (exclusive) until `sink` returns false or the
  // stream ends; returns the id of the last event delivered (or `since`).
  virtual Reply<int64_t> StreamEvents(std::optional<int64_t> since, const EventSink& sink);
  // "unix:/path", "tcp://host:port" or "local:/data/dir": names the server in messages
  // and keys the stored client identities.
  virtual std::string Endpoint() const = 0;

  // ---- Typed wrappers, one per RPC (params as in spec/schemas) ----
  Reply<json> Ping() { return Call("system.ping", json::object()); }
  Reply<json> Info() { return Call("system.info", json::object()); }
  // Resumes `previous` when given; the result has client_key only when minted.
  Reply<json> Hello(const std::string& kind, const std::string& name,
                    const std::optional<ClientIdentity>& previous);

  Reply<json> PutSecret(const json& params) { return Call("secret.put", params); }
  Reply<json> ListSecrets() { return Call("secret.list", json::object()); }
  Reply<json> DescribeSecret(const std::string& name) {
    return Call("secret.describe", {{"name", name}});
  }
  Reply<json> DeleteSecret(const std::string& name) {
    return Call("secret.delete", {{"name", name}});
  }

  Reply<json> RequestAccess(const AccessRequestParams& params);
  Reply<json> GetRequest(const std::string& request_id) {
    return Call("access.get", {{"request_id", request_id}});
  }
  // Long-poll: at most `timeout_s` (≤ long_poll_s_max) on the server side.
  Reply<json> WaitRequest(const std::string& request_id, const std::string& known_state,
                          int64_t timeout_s);
  Reply<json> ListRequests(const std::optional<std::string>& state, int64_t limit,
                           const std::optional<std::string>& after);
  Reply<json> CancelRequest(const std::string& request_id) {
    return Call("access.cancel", {{"request_id", request_id}});
  }
  Reply<json> ExtendRequest(const std::string& request_id, int64_t timeout_s) {
    return Call("access.extend", {{"request_id", request_id}, {"timeout_s", timeout_s}});
  }
  Reply<json> Decide(const std::string& request_id, const std::string& decision,
                     std::optional<int64_t> ttl_s, const std::optional<std::string>& note);

  Reply<json> ListGrants(const std::optional<std::string>& state,
                         const std::optional<std::string>& request_id);
  Reply<json> RevokeGrant(const std::string& grant_id) {
    return Call("grant.revoke", {{"grant_id", grant_id}});
  }
  Reply<json> RevokeAll() { return Call("grant.revoke_all", json::object()); }

  Reply<json> Reveal(const std::string& grant_id, const std::string& name,
                     const std::string& recipient_key_b64,
                     const std::optional<CommandSpec>& command);

  Reply<json> AuditList(int64_t after_seq, int64_t limit) {
    return Call("audit.list", {{"after_seq", after_seq}, {"limit", limit}});
  }
  Reply<json> AuditVerify() { return Call("audit.verify", json::object()); }
};

}  // namespace assent::client
