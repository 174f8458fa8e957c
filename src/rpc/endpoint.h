// RpcEndpoint: the JSON-RPC 2.0 envelope over one HTTP request body.
//
// Input: the raw body of POST /rpc and the caller's CallContext (already authenticated
// by http/). Output: the HTTP status and body to send (an empty body means 204).
// Implements the envelope rules of spec/PROTOCOL.md (ASSENT-RPC-*): strict request
// objects, ids echoed with their type, notifications never answered, batches answered
// per element, the all-notification batch → 204, limits on body depth and batch length,
// params validated against the spec before dispatch and (optionally) results after.
//
// Never throws: a handler exception becomes -32603 and a log line.
//
// Thread safety: Handle() may be called concurrently; the endpoint holds only const
// references to the registry and the dispatcher.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "rpc/context.h"
#include "rpc/dispatcher.h"
#include "spec/registry.h"

namespace assent::rpc {

struct RpcReply {
  int http_status = 200;
  std::string body;  // empty ⇒ no body (204)
};

struct EndpointOptions {
  // Validate every result against its schema; a mismatch is a bug → -32603 + log line.
  bool validate_responses = false;
};

// Called once per executed call (notifications included) for metrics.
using CallObserver = std::function<void(const std::string& method, ErrorCode outcome)>;

class RpcEndpoint {
 public:
  RpcEndpoint(const spec::SpecRegistry& registry, const Dispatcher& dispatcher,
              EndpointOptions options);

  RpcReply Handle(const CallContext& ctx, std::string_view body) const;

  void SetObserver(CallObserver observer) { observer_ = std::move(observer); }

  // Builds a JSON-RPC error response object (exposed for tests and the HTTP layer).
  static nlohmann::json ErrorResponse(const nlohmann::json& id, const Status& status);
  // The x-roles gate: -32001 `role` or `client_identity_required`, or ok.
  static Status CheckRole(const CallContext& ctx, const std::vector<std::string>& roles);

 private:
  // Returns nullopt for a notification (nothing to send).
  std::optional<nlohmann::json> HandleOne(const CallContext& ctx,
                                          const nlohmann::json& request) const;
  std::optional<nlohmann::json> HandleOneUnchecked(const CallContext& ctx,
                                                   const nlohmann::json& request) const;
  nlohmann::json Execute(const CallContext& ctx, const std::string& method,
                         const nlohmann::json& params, const nlohmann::json& id) const;

  const spec::SpecRegistry& registry_;
  const Dispatcher& dispatcher_;
  EndpointOptions options_;
  CallObserver observer_;
};

}  // namespace assent::rpc
