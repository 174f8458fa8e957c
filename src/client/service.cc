#include "client/service.h"

#include "base/status.h"

namespace assent::client {

std::string ServiceError::Describe() const {
  std::string out = name.empty() ? std::string("error") : name;
  if (kind == Kind::kRpc) out += " (" + std::to_string(code) + ")";
  else if (kind == Kind::kHttp && http_status) out += " (HTTP " + std::to_string(http_status) + ")";
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string ErrorNameForCode(int code) {
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kParseError:
    case ErrorCode::kInvalidRequest:
    case ErrorCode::kMethodNotFound:
    case ErrorCode::kInvalidParams:
    case ErrorCode::kInternal:
    case ErrorCode::kForbidden:
    case ErrorCode::kNotFound:
    case ErrorCode::kInvalidState:
    case ErrorCode::kExpired:
    case ErrorCode::kConflict:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kAuditUnavailable:
    case ErrorCode::kNotImplemented:
      return ErrorName(static_cast<ErrorCode>(code));
    case ErrorCode::kOk:
      break;
  }
  return "error_" + std::to_string(code);
}

json CommandToJson(const CommandSpec& command) {
  return {{"argv", command.argv}, {"cwd", command.cwd}};
}

Reply<int64_t> Service::StreamEvents(std::optional<int64_t>, const EventSink&) {
  ServiceError e;
  e.kind = ServiceError::Kind::kLocal;
  e.name = "events_unavailable";
  e.message = "this mode has no event stream";
  return e;
}

Reply<json> Service::Hello(const std::string& kind, const std::string& name,
                           const std::optional<ClientIdentity>& previous) {
  json params = {{"kind", kind}, {"name", name}};
  if (previous) {
    params["client_id"] = previous->client_id;
    params["client_key"] = previous->client_key;
  }
  return Call("client.hello", params);
}

Reply<json> Service::RequestAccess(const AccessRequestParams& p) {
  json params = {{"secrets", p.secrets}, {"reason", p.reason}};
  if (p.ttl_s) params["ttl_s"] = *p.ttl_s;
  if (p.mode) params["mode"] = *p.mode;
  if (p.timeout_s) params["timeout_s"] = *p.timeout_s;
  if (p.command) params["command"] = CommandToJson(*p.command);
  if (p.client_request_id) params["client_request_id"] = *p.client_request_id;
  return Call("access.request", params);
}

Reply<json> Service::WaitRequest(const std::string& request_id, const std::string& known_state,
                                 int64_t timeout_s) {
  json params = {{"request_id", request_id}, {"known_state", known_state},
                 {"timeout_s", timeout_s}};
  // The transport waits a little longer than the server's bound, so a slow answer is
  // still an answer rather than a timeout.
  return CallWithDeadline("access.wait", params, timeout_s + 15);
}

Reply<json> Service::ListRequests(const std::optional<std::string>& state, int64_t limit,
                                  const std::optional<std::string>& after) {
  json params = {{"limit", limit}};
  if (state) params["state"] = *state;
  if (after) params["after"] = *after;
  return Call("access.list", params);
}

Reply<json> Service::Decide(const std::string& request_id, const std::string& decision,
                            std::optional<int64_t> ttl_s,
                            const std::optional<std::string>& note) {
  json params = {{"request_id", request_id}, {"decision", decision}};
  if (ttl_s) params["ttl_s"] = *ttl_s;
  if (note) params["note"] = *note;
  return Call("access.decide", params);
}

Reply<json> Service::ListGrants(const std::optional<std::string>& state,
                                const std::optional<std::string>& request_id) {
  json params = json::object();
  if (state) params["state"] = *state;
  if (request_id) params["request_id"] = *request_id;
  return Call("grant.list", params);
}

Reply<json> Service::Reveal(const std::string& grant_id, const std::string& name,
                            const std::string& recipient_key_b64,
                            const std::optional<CommandSpec>& command) {
  json params = {{"grant_id", grant_id}, {"name", name}, {"recipient_key", recipient_key_b64}};
  if (command) params["command"] = CommandToJson(*command);
  return Call("secret.reveal", params);
}

}  // namespace assent::client
