#include "methods/system.h"

#include "base/limits.h"

namespace assent::methods {

using nlohmann::json;

void RegisterSystemMethods(rpc::Dispatcher& d, const spec::SpecRegistry& registry,
                           SystemInfo info,
                           std::map<std::string, int64_t> configured_limits) {
  d.Register("rpc.discover", [&registry](const rpc::CallContext&, const json&)
                 -> Result<json> { return registry.OpenRpcDocument(); });
  d.Register("system.ping", [](const rpc::CallContext&, const json&) -> Result<json> {
    return json{{"pong", true}};
  });
  std::string protocol_version =
      registry.OpenRpcDocument().value("info", json::object()).value("version", "1.0.0");
  d.Register("system.info", [info, protocol_version, configured_limits](
                                 const rpc::CallContext& ctx, const json&) -> Result<json> {
    json limits = json::object();
    for (const auto& l : limits::kWireLimits) limits[l.name] = l.value;
    for (const auto& [name, value] : configured_limits) limits[name] = value;
    return json{{"name", "assentd"},
                {"daemon_version", info.daemon_version},
                {"protocol_version", protocol_version},
                {"profiles", info.profiles},
                {"limits", limits},
                {"role", rpc::RoleName(ctx.role)},
                {"client_id", ctx.client_id ? json(*ctx.client_id) : json(nullptr)}};
  });
}

void RegisterRemainingAsNotImplemented(rpc::Dispatcher& d,
                                       const spec::SpecRegistry& registry) {
  for (const auto& m : registry.MethodNames())
    if (!d.Find(m)) d.RegisterNotImplemented(m);
}

}  // namespace assent::methods
