#include "spec/registry.h"

#include <gtest/gtest.h>

#include <set>

#include "base/limits.h"
#include "test_support.h"

namespace assent {
namespace testing {

const spec::SpecRegistry& Registry() {
  static std::unique_ptr<spec::SpecRegistry> r = [] {
    auto loaded = spec::SpecRegistry::LoadEmbedded();
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status().message();
      std::abort();
    }
    return std::move(*loaded);
  }();
  return *r;
}

SystemFixture::SystemFixture() {
  methods::RegisterSystemMethods(dispatcher, Registry(), {"test", {"core"}});
  methods::RegisterRemainingAsNotImplemented(dispatcher, Registry());
  endpoint = std::make_unique<rpc::RpcEndpoint>(Registry(), dispatcher,
                                                rpc::EndpointOptions{true});
}

}  // namespace testing

namespace {

using nlohmann::json;
using testing::Registry;

TEST(SpecRegistry, LoadsEveryV1Method) {
  std::set<std::string> names;
  for (const auto& m : Registry().MethodNames()) names.insert(m);
  for (const char* m :
       {"rpc.discover", "system.ping", "system.info", "client.hello", "secret.put",
        "secret.list", "secret.describe", "secret.delete", "access.request", "access.get",
        "access.wait", "access.list", "access.cancel", "access.extend", "access.decide",
        "grant.list", "grant.revoke", "grant.revoke_all", "secret.reveal", "audit.list",
        "audit.verify"})
    EXPECT_TRUE(names.count(m)) << m;
}

TEST(SpecRegistry, EveryExamplePairingValidates) {
  const json& doc = Registry().OpenRpcDocument();
  int checked = 0;
  for (const auto& m : doc["methods"]) {
    std::string name = m["name"];
    for (const auto& ex : m.value("examples", json::array())) {
      if (!ex.contains("params") || !ex.contains("result")) continue;
      json params = json::object();
      for (const auto& p : ex["params"]) params[p["name"].get<std::string>()] = p["value"];
      const json& result = ex["result"];
      bool is_error = result.contains("value") && result["value"].is_object() &&
                      result["value"].contains("code") && result["value"].contains("message") &&
                      result["value"].size() <= 3 && result["value"]["code"].is_number_integer() &&
                      result["value"]["code"].get<int>() < 0;
      if (is_error) continue;  // error pairings carry deliberately failing params
      auto pe = Registry().ValidateParams(name, params);
      EXPECT_FALSE(pe) << name << " example '" << ex.value("name", "") << "' params: "
                       << pe->message << " at " << pe->instance_path;
      if (result.contains("value")) {
        auto re = Registry().ValidateResult(name, result["value"]);
        EXPECT_FALSE(re) << name << " example '" << ex.value("name", "")
                         << "' result: " << re->message << " at " << re->instance_path
                         << " (" << re->schema_path << ")";
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 21);
}

TEST(SpecRegistry, UnknownParamIsRejectedWithPointers) {
  auto e = Registry().ValidateParams("system.ping", {{"bogus", 1}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->instance_path, "");
  EXPECT_FALSE(e->schema_path.empty());
}

TEST(SpecRegistry, OverlongPatternedStringIsRejectedWithoutRunningTheRegex) {
  // std::regex recurses per character; a 200 KB string must be refused before it.
  json params = {{"kind", "agent"}, {"name", std::string(200000, 'a')}};
  auto e = Registry().ValidateParams("client.hello", params);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->instance_path, "/name");
  EXPECT_NE(e->schema_path.find("maxLength"), std::string::npos) << e->schema_path;
}

TEST(SpecRegistry, TheResponseShortcutAgreesWithTheFullEnvelopeSchema) {
  const std::string body = "schemas/envelope.json#/definitions/ResponseBody";
  const json error = {{"code", -32601}, {"message", "method not found: x"}};
  const std::vector<json> responses = {
      {{"jsonrpc", "2.0"}, {"id", 1}, {"result", {{"pong", true}}}},
      {{"jsonrpc", "2.0"}, {"id", "a"}, {"result", nullptr}},
      {{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", error}},
      {{"jsonrpc", "2.0"}, {"id", 1}, {"error", error}},
      {{"jsonrpc", "2.0"}, {"id", 1}, {"result", 1}, {"error", error}},  // both
      {{"jsonrpc", "2.0"}, {"id", 1}},                                    // neither
      {{"jsonrpc", "1.0"}, {"id", 1}, {"result", 1}},
      {{"jsonrpc", "2.0"}, {"result", 1}},                                // no id
      {{"jsonrpc", "2.0"}, {"id", {1}}, {"result", 1}},                  // id an array
      {{"jsonrpc", "2.0"}, {"id", std::string(129, 'x')}, {"result", 1}},
      {{"jsonrpc", "2.0"}, {"id", 1}, {"result", 1}, {"extra", 1}},
      {{"jsonrpc", "2.0"}, {"id", 1}, {"error", {{"code", "x"}}}},
      {{"jsonrpc", "2.0"}, {"id", 1}, {"error", nullptr}},
      json::array({{{"jsonrpc", "2.0"}, {"id", 1}, {"result", 1}}}),
      json::array(),
      json("text"),
      json(nullptr),
  };
  int accepted = 0;
  for (const auto& r : responses) {
    const bool fast = !Registry().ValidateResponse(r).has_value();
    const bool full = !Registry().ValidateRef(body, r).has_value();
    EXPECT_EQ(fast, full) << r.dump();
    accepted += full;
  }
  EXPECT_EQ(accepted, 5);  // the first four and the one-element batch
}

TEST(SpecRegistry, LimitsHeaderMatchesSpecLimitsJson) {
  const json& spec_limits = Registry().Limits();
  ASSERT_TRUE(spec_limits.is_object());
  std::set<std::string> header_names;
  for (const auto& l : limits::kWireLimits) {
    header_names.insert(l.name);
    ASSERT_TRUE(spec_limits.contains(l.name)) << "spec/limits.json lacks " << l.name;
    EXPECT_EQ(spec_limits[l.name]["value"].get<int64_t>(), l.value) << l.name;
  }
  for (auto it = spec_limits.begin(); it != spec_limits.end(); ++it) {
    if (it.value().is_object() && it.value().contains("value")) {
      EXPECT_TRUE(header_names.count(it.key())) << "src/base/limits.h lacks " << it.key();
    }
  }
}

TEST(SpecRegistry, EveryEventTypeHasASchema) {
  std::set<std::string> types;
  for (const auto& t : Registry().EventTypes()) types.insert(t);
  for (const char* t : {"request.created", "request.approved", "request.denied",
                        "request.timed_out", "request.cancelled", "request.extended",
                        "grant.used", "grant.expired", "grant.revoked", "gap", "shutdown"})
    EXPECT_TRUE(types.count(t)) << t;
}

TEST(SpecRegistry, DispatchTableMatchesSpec) {
  testing::SystemFixture f;
  EXPECT_EQ(f.dispatcher.CheckAgainstSpec(Registry().MethodNames()), "");
  rpc::Dispatcher extra;
  extra.Register("not.in.spec", [](const rpc::CallContext&, const json&) -> Result<json> {
    return json::object();
  });
  EXPECT_NE(extra.CheckAgainstSpec(Registry().MethodNames()).find("not.in.spec"),
            std::string::npos);
}

}  // namespace
}  // namespace assent
