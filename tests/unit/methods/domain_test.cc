// Domain method handlers against the spec itself: every params object the tests send is
// checked against the method's params schema, every result against its result schema,
// every error against errors.json, every stored event against its x-events schema and
// every audit entry against AuditEntry. A handler that drifts from the spec fails here.
#include "methods/domain.h"

#include <gtest/gtest.h>

#include <set>

#include "base/clock.h"
#include "base/random.h"
#include "crypto/crypto.h"
#include "events/event_log.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"
#include "store/sqlite_store.h"

namespace assent::methods {
namespace {

using json = nlohmann::json;

class MethodsDomain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto::Init());
    auto r = spec::SpecRegistry::LoadEmbedded();
    ASSERT_TRUE(r.ok()) << r.status().message();
    registry_ = std::move(r).value().release();
  }

  void SetUp() override {
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto e = core::Engine::Create(*store_, clock_, random_, std::string(32, 'k'));
    ASSERT_TRUE(e.ok());
    engine_ = std::move(e).value();
    RegisterDomainMethods(dispatcher_, *engine_);
  }

  static rpc::CallContext Ctx(rpc::Role role, std::optional<std::string> client_id = {},
                              std::string token = "") {
    rpc::CallContext c;
    c.role = role;
    c.client_id = std::move(client_id);
    c.token_name = token.empty() && role != rpc::Role::kAgent ? "tok-" + std::string(rpc::RoleName(role))
                                                              : token;
    c.peer = "unix:uid=1000";
    return c;
  }
  static rpc::CallContext Admin() { return Ctx(rpc::Role::kAdmin); }
  static rpc::CallContext Approver(const std::string& token = "alice") {
    return Ctx(rpc::Role::kApprover, {}, token);
  }
  static rpc::CallContext Agent(const std::string& client_id) {
    return Ctx(rpc::Role::kAgent, client_id);
  }

  // Calls a method the way the endpoint would, checking params and result against the
  // spec; returns the result, or the error object (also checked) on failure.
  json Call(const std::string& method, const rpc::CallContext& ctx, const json& params) {
    auto perr = registry_->ValidateParams(method, params);
    EXPECT_FALSE(perr.has_value()) << method << " test params invalid: "
                                   << (perr ? perr->ToJson().dump() : "");
    const rpc::Handler* h = dispatcher_.Find(method);
    EXPECT_NE(h, nullptr) << method;
    if (!h) return json();
    Result<json> r = (*h)(ctx, params);
    if (!r.ok()) {
      json error = rpc::RpcEndpoint::ErrorResponse(1, r.status())["error"];
      auto eerr = registry_->ValidateRef("schemas/errors.json#/definitions/ErrorObject", error);
      EXPECT_FALSE(eerr.has_value())
          << method << " error does not match errors.json: " << error.dump() << " — "
          << (eerr ? eerr->ToJson().dump() : "");
      return json{{"error", error}};
    }
    auto rerr = registry_->ValidateResult(method, *r);
    EXPECT_FALSE(rerr.has_value()) << method << " result does not match its schema: "
                                   << r->dump() << " — " << (rerr ? rerr->ToJson().dump() : "");
    return *r;
  }

  int ErrorCodeOf(const json& r) {
    return r.contains("error") ? r["error"]["code"].get<int>() : 0;
  }

  std::string Hello(const std::string& kind = "agent") {
    json r = Call("client.hello", Ctx(rpc::Role::kAgent), {{"kind", kind}, {"name", "bot"}});
    return r.value("client_id", "");
  }

  static spec::SpecRegistry* registry_;
  FakeClock clock_;
  SeededRandom random_{7};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<core::Engine> engine_;
  rpc::Dispatcher dispatcher_;
};

spec::SpecRegistry* MethodsDomain::registry_ = nullptr;

const std::vector<std::string> kDomainMethods = {
    "client.hello",   "secret.put",     "secret.list",     "secret.describe",
    "secret.delete",  "access.request", "access.get",      "access.wait",
    "access.list",    "access.cancel",  "access.extend",   "access.decide",
    "grant.list",     "grant.revoke",   "grant.revoke_all", "secret.reveal",
    "audit.list",     "audit.verify"};

TEST_F(MethodsDomain, EverySpecMethodOutsideSystemHasAHandler) {
  std::set<std::string> registered;
  for (const auto& m : dispatcher_.Methods()) registered.insert(m);
  std::set<std::string> expected;
  for (const auto& m : registry_->MethodNames())
    if (m.rfind("system.", 0) != 0 && m.rfind("rpc.", 0) != 0) expected.insert(m);
  EXPECT_EQ(registered, expected);
  EXPECT_EQ(registered, std::set<std::string>(kDomainMethods.begin(), kDomainMethods.end()));
}

// The checks below can fail: a drifted result, event or error is rejected.
TEST_F(MethodsDomain, TheSpecChecksRejectDrift) {
  EXPECT_TRUE(registry_->ValidateResult("grant.revoke_all",
                                        {{"revoked_grants", 1}, {"cancelled_requests", 0},
                                         {"extra", true}})
                  .has_value());
  EXPECT_TRUE(registry_->ValidateEvent("grant.revoked", {{"grant_id", "gr_1"}}).has_value());
  EXPECT_TRUE(registry_
                  ->ValidateRef("schemas/errors.json#/definitions/ErrorObject",
                                {{"code", -32001}, {"message", "m"}, {"data", {{"reason", "x"}}}})
                  .has_value());
}

TEST_F(MethodsDomain, AWholeJourneyMatchesTheSpecEverywhere) {
  const std::string agent = Hello();
  ASSERT_FALSE(agent.empty());
  json put = Call("secret.put", Admin(),
                  {{"name", "GITHUB_TOKEN"}, {"value", "ghp_x"}, {"description", "CI"},
                   {"policy", {{"approvals_required", 2}, {"bind_command", true}}}});
  EXPECT_EQ(put["created"], true);
  Call("secret.put", Admin(), {{"name", "NPM_TOKEN"}, {"value_base64", "AAEC"}});
  Call("secret.put", Admin(), {{"name", "NPM_TOKEN"}, {"value_base64", "AAECAw=="}});
  EXPECT_EQ(Call("secret.describe", Admin(), {{"name", "NPM_TOKEN"}})["secret"]["version"], 2);
  EXPECT_EQ(Call("secret.list", Admin(), json::object())["secrets"].size(), 2u);

  const json command = {{"argv", {"gh", "release", "create"}}, {"cwd", "/src"}};
  json req = Call("access.request", Agent(agent),
                  {{"secrets", {"GITHUB_TOKEN", "NPM_TOKEN"}},
                   {"reason", "release v1"},
                   {"ttl_s", 120},
                   {"mode", "unattended"},
                   {"timeout_s", 60},
                   {"command", command},
                   {"client_request_id", "rel-1"}});
  const std::string rq = req["request"]["request_id"];
  EXPECT_EQ(req["request"]["state"], "pending");
  EXPECT_EQ(Call("access.get", Approver(), {{"request_id", rq}})["request"]["reason"],
            "release v1");
  json waited = Call("access.wait", Agent(agent), {{"request_id", rq}, {"timeout_s", 0}});
  EXPECT_EQ(waited["changed"], false);
  EXPECT_EQ(Call("access.list", Agent(agent), {{"state", "pending"}, {"limit", 10}})["requests"]
                .size(),
            1u);
  Call("access.extend", Agent(agent), {{"request_id", rq}, {"timeout_s", 30}});

  json vote = Call("access.decide", Approver("alice"),
                   {{"request_id", rq}, {"decision", "approve"}, {"ttl_s", 100}});
  EXPECT_TRUE(vote["grant"].is_null());
  json decided = Call("access.decide", Approver("bob"),
                      {{"request_id", rq}, {"decision", "approve"}, {"note", "ok"}});
  ASSERT_TRUE(decided["grant"].is_object());
  const std::string gr = decided["grant"]["grant_id"];
  EXPECT_EQ(decided["grant"]["uses_total"], 2);

  auto kp = crypto::NewBoxKeyPair();
  json revealed = Call("secret.reveal", Agent(agent),
                       {{"grant_id", gr},
                        {"name", "NPM_TOKEN"},
                        {"recipient_key", crypto::Base64Encode(kp.public_key)},
                        {"command", command}});
  ASSERT_TRUE(revealed.contains("sealed_value")) << revealed.dump();
  EXPECT_EQ(revealed["encoding"], "base64");
  auto sealed = crypto::Base64Decode(revealed["sealed_value"].get<std::string>());
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(crypto::SealOpen(kp.public_key, kp.secret_key, *sealed),
            std::string("\x00\x01\x02\x03", 4));

  EXPECT_EQ(Call("grant.list", Agent(agent), json::object())["grants"].size(), 1u);
  Call("grant.list", Admin(), {{"state", "live"}, {"request_id", rq}});
  Call("grant.revoke", Agent(agent), {{"grant_id", gr}});

  json other = Call("access.request", Agent(agent),
                    {{"secrets", {"NPM_TOKEN"}}, {"reason", "again"}});
  const std::string rq2 = other["request"]["request_id"];
  Call("access.cancel", Agent(agent), {{"request_id", rq2}});
  json third = Call("access.request", Agent(agent), {{"secrets", {"NPM_TOKEN"}}, {"reason", "x"}});
  Call("access.decide", Approver(),
       {{"request_id", third["request"]["request_id"]}, {"decision", "deny"}, {"note", "no"}});
  Call("access.request", Agent(agent), {{"secrets", {"NPM_TOKEN"}}, {"reason", "y"}});
  json all = Call("grant.revoke_all", Admin(), json::object());
  EXPECT_EQ(all["cancelled_requests"], 1);
  Call("access.request", Agent(agent),
       {{"secrets", {"NPM_TOKEN"}}, {"reason", "z"}, {"timeout_s", 1}});
  clock_.AdvanceMs(1000);
  Call("access.list", Admin(), {{"state", "timed_out"}});
  Call("secret.delete", Admin(), {{"name", "GITHUB_TOKEN"}});

  json page = Call("audit.list", Admin(), {{"after_seq", 0}, {"limit", 3}});
  EXPECT_EQ(page["entries"].size(), 3u);
  EXPECT_EQ(page["next_after_seq"], 3);
  json verify = Call("audit.verify", Admin(), json::object());
  EXPECT_EQ(verify["ok"], true);
  EXPECT_TRUE(verify["first_bad_seq"].is_null());

  // Every event that journey stored matches its x-events schema ...
  events::EventLog log(*store_, clock_);
  auto batch = log.ReadSince(0, events::ScopeAll(), 1000);
  ASSERT_TRUE(batch.ok());
  std::set<std::string> types;
  for (const auto& e : batch->events) {
    types.insert(e.type);
    auto err = registry_->ValidateEvent(e.type, e.data);
    EXPECT_FALSE(err.has_value()) << e.type << " " << e.data.dump() << " — "
                                  << (err ? err->ToJson().dump() : "");
    // ... and never carries reason text or notes.
    EXPECT_EQ(e.data.dump().find("release v1"), std::string::npos);
  }
  for (const char* t : {"request.created", "request.approved", "request.denied",
                        "request.timed_out", "request.cancelled", "request.extended",
                        "grant.used", "grant.revoked"})
    EXPECT_TRUE(types.count(t)) << t;
  // Every audit entry matches AuditEntry, and none carries the reason or a value.
  json entries = Call("audit.list", Admin(), {{"limit", 1000}})["entries"];
  for (const auto& entry : entries) {
    auto err = registry_->ValidateRef("schemas/audit.json#/definitions/AuditEntry", entry);
    EXPECT_FALSE(err.has_value()) << entry.dump() << " — " << (err ? err->ToJson().dump() : "");
    EXPECT_EQ(entry.dump().find("release v1"), std::string::npos);
    EXPECT_EQ(entry.dump().find("ghp_x"), std::string::npos);
  }
}

TEST_F(MethodsDomain, AGrantExpiryEventMatchesItsSchema) {
  const std::string agent = Hello();
  Call("secret.put", Admin(), {{"name", "A"}, {"value", "v"}, {"policy", {{"approval", "never"}}}});
  json r = Call("access.request", Agent(agent), {{"secrets", {"A"}}, {"reason", "r"}, {"ttl_s", 1}});
  EXPECT_EQ(r["request"]["state"], "approved");
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(engine_->Sweep().ok());
  events::EventLog log(*store_, clock_);
  bool saw_expired = false;
  auto batch = log.ReadSince(0, events::ScopeAll(), 100);
  ASSERT_TRUE(batch.ok());
  for (const auto& e : batch->events) {
    EXPECT_FALSE(registry_->ValidateEvent(e.type, e.data).has_value()) << e.data.dump();
    saw_expired = saw_expired || e.type == "grant.expired";
  }
  EXPECT_TRUE(saw_expired);
}

TEST_F(MethodsDomain, AGivenUpApproverDeliveryShowsOnTheRequestAndInTheAudit) {
  const std::string agent = Hello();
  Call("secret.put", Admin(), {{"name", "A"}, {"value", "v"}});
  json r = Call("access.request", Agent(agent), {{"secrets", {"A"}}, {"reason", "r"}});
  const std::string rid = r["request"]["request_id"];
  EXPECT_TRUE(r["request"]["approver_delivery_failed"].is_null());
  clock_.AdvanceMs(2500);
  ASSERT_TRUE(engine_->RecordApproverDeliveryFailed(rid, 10).ok());
  // Call() checks each result against its schema (ApproverDeliveryFailure included).
  for (const auto& ctx : {Agent(agent), Approver(), Admin()}) {
    json got = Call("access.get", ctx, {{"request_id", rid}});
    EXPECT_EQ(got["request"]["approver_delivery_failed"],
              (json{{"at", FormatTimeMs(clock_.NowMs())}, {"attempts", 10}}));
  }
  json listed = Call("access.list", Admin(), json::object());
  EXPECT_EQ(listed["requests"][0]["approver_delivery_failed"]["attempts"], 10);
  json entries = Call("audit.list", Admin(), {{"limit", 1000}})["entries"];
  ASSERT_FALSE(entries.empty());
  const json& last = entries.back();
  EXPECT_EQ(last["action"], "approver.delivery_failed");
  EXPECT_EQ(last["subject"], (json{{"request_id", rid}, {"count", 10}}));
  auto err = registry_->ValidateRef("schemas/audit.json#/definitions/AuditEntry", last);
  EXPECT_FALSE(err.has_value()) << last.dump();
}

TEST_F(MethodsDomain, AWrongRoleIsForbiddenWithTheRequiredRoles) {
  const std::string agent = Hello();
  const std::string rq = "rq_" + std::string(32, '1');
  const std::string gr = "gr_" + std::string(32, '1');
  const std::string key = crypto::Base64Encode(std::string(32, 'k'));
  struct Case {
    std::string method;
    rpc::CallContext ctx;
    json params;
    std::vector<std::string> required;
  };
  const std::vector<Case> cases = {
      {"secret.put", Agent(agent), {{"name", "A"}, {"value", "v"}}, {"admin"}},
      {"secret.list", Approver(), json::object(), {"admin"}},
      {"secret.describe", Agent(agent), {{"name", "A"}}, {"admin"}},
      {"secret.delete", Approver(), {{"name", "A"}}, {"admin"}},
      {"access.request", Admin(), {{"secrets", {"A"}}, {"reason", "r"}}, {"agent"}},
      {"access.request", Approver(), {{"secrets", {"A"}}, {"reason", "r"}}, {"agent"}},
      {"access.cancel", Admin(), {{"request_id", rq}}, {"agent"}},
      {"access.extend", Approver(), {{"request_id", rq}, {"timeout_s", 5}}, {"agent"}},
      {"access.decide", Agent(agent), {{"request_id", rq}, {"decision", "approve"}}, {"approver"}},
      {"access.decide", Admin(), {{"request_id", rq}, {"decision", "deny"}}, {"approver"}},
      {"grant.revoke_all", Approver(), json::object(), {"admin"}},
      {"secret.reveal", Admin(), {{"grant_id", gr}, {"name", "A"}, {"recipient_key", key}},
       {"agent"}},
      {"secret.reveal", Approver(), {{"grant_id", gr}, {"name", "A"}, {"recipient_key", key}},
       {"agent"}},
      {"audit.list", Agent(agent), json::object(), {"admin"}},
      {"audit.verify", Approver(), json::object(), {"admin"}},
  };
  for (const auto& c : cases) {
    json r = Call(c.method, c.ctx, c.params);
    ASSERT_TRUE(r.contains("error")) << c.method;
    EXPECT_EQ(r["error"]["code"], -32001) << c.method;
    EXPECT_EQ(r["error"]["data"], (json{{"reason", "role"}, {"required_roles", c.required}}))
        << c.method;
  }
}

TEST_F(MethodsDomain, OriginatorOnlyMethodsNeedAClientIdentity) {
  const std::string rq = "rq_" + std::string(32, '1');
  const std::string gr = "gr_" + std::string(32, '1');
  const auto anon = Ctx(rpc::Role::kAgent);
  const std::string key = crypto::Base64Encode(std::string(32, 'k'));
  for (const auto& [method, params] : std::vector<std::pair<std::string, json>>{
           {"access.request", {{"secrets", {"A"}}, {"reason", "r"}}},
           {"access.get", {{"request_id", rq}}},
           {"access.wait", {{"request_id", rq}, {"timeout_s", 0}}},
           {"access.cancel", {{"request_id", rq}}},
           {"access.extend", {{"request_id", rq}, {"timeout_s", 1}}},
           {"grant.revoke", {{"grant_id", gr}}},
           {"secret.reveal", {{"grant_id", gr}, {"name", "A"}, {"recipient_key", key}}}}) {
    json r = Call(method, anon, params);
    EXPECT_EQ(r["error"]["data"], (json{{"reason", "client_identity_required"}})) << method;
  }
  // Lists simply come back empty.
  EXPECT_TRUE(Call("access.list", anon, json::object())["requests"].empty());
  EXPECT_TRUE(Call("grant.list", anon, json::object())["grants"].empty());
}

TEST_F(MethodsDomain, EveryApplicationErrorMatchesItsSchema) {
  const std::string agent = Hello();
  const std::string other = Hello();
  Call("secret.put", Admin(), {{"name", "A"}, {"value", "v"}});
  Call("secret.put", Admin(),
       {{"name", "N"}, {"value", "v"}, {"policy", {{"approval", "never"}}}});
  json r = Call("access.request", Agent(agent),
                {{"secrets", {"A"}}, {"reason", "r"}, {"client_request_id", "k1"}});
  const std::string rq = r["request"]["request_id"];
  const std::string gr =
      Call("access.request", Agent(agent), {{"secrets", {"N"}}, {"reason", "r"}})["request"]
          ["grant_id"];
  const std::string key = crypto::Base64Encode(std::string(32, 'k'));

  EXPECT_EQ(ErrorCodeOf(Call("access.get", Agent(other), {{"request_id", rq}})), -32001);
  EXPECT_EQ(ErrorCodeOf(Call("secret.describe", Admin(), {{"name", "NOPE"}})), -32002);
  EXPECT_EQ(ErrorCodeOf(Call("access.decide", Agent(agent),
                             {{"request_id", rq}, {"decision", "approve"}})),
            -32001);
  Call("access.cancel", Agent(agent), {{"request_id", rq}});
  EXPECT_EQ(ErrorCodeOf(Call("access.cancel", Agent(agent), {{"request_id", rq}})), -32003);
  Call("secret.reveal", Agent(agent), {{"grant_id", gr}, {"name", "N"}, {"recipient_key", key}});
  EXPECT_EQ(ErrorCodeOf(Call("secret.reveal", Agent(agent),
                             {{"grant_id", gr}, {"name", "N"}, {"recipient_key", key}})),
            -32004);
  EXPECT_EQ(ErrorCodeOf(Call("access.request", Agent(agent),
                             {{"secrets", {"A"}}, {"reason", "other"}, {"client_request_id", "k1"}})),
            -32005);
  EXPECT_EQ(ErrorCodeOf(Call("access.request", Agent(agent),
                             {{"secrets", {"A"}}, {"reason", "r"}, {"ttl_s", 3601}})),
            -32006);
  EXPECT_EQ(ErrorCodeOf(Call("secret.put", Admin(),
                             {{"name", "B"}, {"value", "v"},
                              {"policy", {{"ttl_s_default", 10}, {"ttl_s_max", 5}}}})),
            -32602);
}

TEST_F(MethodsDomain, StringLimitsCountUtf8Bytes) {
  const std::string agent = Hello();
  Call("secret.put", Admin(), {{"name", "A"}, {"value", "v"}});
  // "é" is two bytes: 1024 of them are 2048 bytes (the limit), 1025 are 2050 bytes but
  // only 1025 characters, which the schema's maxLength lets through.
  std::string at_limit, over;
  for (int i = 0; i < 1024; ++i) at_limit += "\xc3\xa9";
  over = at_limit + "\xc3\xa9";
  json ok = Call("access.request", Agent(agent), {{"secrets", {"A"}}, {"reason", at_limit}});
  EXPECT_FALSE(ok.contains("error")) << ok.dump().substr(0, 200);
  json bad = Call("access.request", Agent(agent), {{"secrets", {"A"}}, {"reason", over}});
  EXPECT_EQ(bad["error"]["code"], -32602);
  EXPECT_EQ(bad["error"]["data"]["instance_path"], "/reason");
  EXPECT_EQ(bad["error"]["data"]["schema_path"], "#/properties/reason/maxLength");

  std::string note(511, 'x');
  note += std::string(257, 'x');  // 768 one-byte chars: fine
  std::string wide_note;
  for (int i = 0; i < 342; ++i) wide_note += "\xe2\x82\xac";  // 342 × 3 = 1026 bytes
  json d = Call("access.decide", Approver(),
                {{"request_id", ok["request"]["request_id"]}, {"decision", "deny"},
                 {"note", wide_note}});
  EXPECT_EQ(d["error"]["data"]["instance_path"], "/note");
  std::string wide_name;
  for (int i = 0; i < 43; ++i) wide_name += "\xe2\x82\xac";  // 129 bytes
  json h = Call("client.hello", Ctx(rpc::Role::kAgent), {{"kind", "cli"}, {"name", wide_name}});
  EXPECT_EQ(h["error"]["data"]["instance_path"], "/name");
}

TEST_F(MethodsDomain, Base64ThatDoesNotDecodeIsInvalidParams) {
  json r = Call("secret.put", Admin(), {{"name", "A"}, {"value_base64", "not base64!"}});
  EXPECT_EQ(r["error"]["code"], -32602);
  EXPECT_EQ(r["error"]["data"]["instance_path"], "/value_base64");
  // Bytes >= 0x80 are outside the alphabet, though libsodium 1.0.18 decodes them as 63
  // (ASSENT-RPC-028; fuzz: base64-accepts-high-bytes): "ÿÿ" must not store ff ff ff.
  json high = Call("secret.put", Admin(), {{"name", "A"}, {"value_base64", "\xc3\xbf\xc3\xbf"}});
  EXPECT_EQ(high["error"]["code"], -32602);
  EXPECT_EQ(high["error"]["data"]["instance_path"], "/value_base64");
}

}  // namespace
}  // namespace assent::methods
