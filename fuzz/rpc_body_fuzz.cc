// Fuzz harness: the whole POST /rpc body path in-process (envelope, batches, params
// validation against the embedded spec, dispatch), no sockets.
//
// Property (issue 2, property (a)): for any byte string the answer is a valid JSON-RPC
// response, a non-empty batch of them, or 204 with no body — never a crash, an
// exception or a hang; and the HTTP status agrees with the error class.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"

namespace {

using nlohmann::json;

struct Harness {
  std::unique_ptr<assent::spec::SpecRegistry> registry;
  assent::rpc::Dispatcher dispatcher;
  std::unique_ptr<assent::rpc::RpcEndpoint> endpoint;
  Harness() {
    auto r = assent::spec::SpecRegistry::LoadEmbedded();
    if (!r.ok()) std::abort();
    registry = std::move(*r);
    assent::methods::RegisterSystemMethods(dispatcher, *registry, {"fuzz", {"core"}});
    assent::methods::RegisterRemainingAsNotImplemented(dispatcher, *registry);
    endpoint = std::make_unique<assent::rpc::RpcEndpoint>(*registry, dispatcher,
                                                          assent::rpc::EndpointOptions{true});
  }
};

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckResponse(const json& r) {
  Check(r.is_object() && r.value("jsonrpc", "") == "2.0" && r.contains("id"));
  Check(r.contains("result") != r.contains("error"));
  if (r.contains("error")) {
    Check(r["error"].is_object() && r["error"]["code"].is_number_integer() &&
          r["error"]["message"].is_string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  assent::rpc::CallContext ctx;
  ctx.role = size % 3 == 0 ? assent::rpc::Role::kAdmin : assent::rpc::Role::kAgent;
  assent::rpc::RpcReply reply = h.endpoint->Handle(ctx, body);
  if (reply.body.empty()) {
    Check(reply.http_status == 204);
    return 0;
  }
  json j = json::parse(reply.body, nullptr, false);
  Check(!j.is_discarded());
  if (j.is_array()) {
    Check(reply.http_status == 200 && !j.empty());
    for (const auto& e : j) CheckResponse(e);
  } else {
    CheckResponse(j);
    if (j.contains("error")) {
      auto code = static_cast<assent::ErrorCode>(j["error"]["code"].get<int>());
      Check(reply.http_status == assent::ErrorHttpStatus(code));
    } else {
      Check(reply.http_status == 200);
    }
  }
  return 0;
}
