#include "rpc/endpoint.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "base/limits.h"
#include "test_support.h"

namespace assent {
namespace {

using nlohmann::json;

struct Reply {
  int status;
  json body;  // null when there is no body
};

class EndpointTest : public ::testing::Test {
 protected:
  Reply Call(const std::string& body) {
    rpc::CallContext ctx;
    ctx.role = rpc::Role::kAdmin;
    auto r = f_.endpoint->Handle(ctx, body);
    return {r.http_status, r.body.empty() ? json(nullptr) : json::parse(r.body)};
  }
  testing::SystemFixture f_;
};

TEST_F(EndpointTest, PingAnswersWithResultAnd200) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.ping","id":1})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, json::parse(R"({"jsonrpc":"2.0","id":1,"result":{"pong":true}})"));
}

TEST_F(EndpointTest, IdTypeIsEchoed) {
  EXPECT_TRUE(Call(R"({"jsonrpc":"2.0","method":"system.ping","id":"1"})").body["id"].is_string());
  EXPECT_TRUE(Call(R"({"jsonrpc":"2.0","method":"system.ping","id":1})").body["id"].is_number_integer());
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping","id":1.5})").body["id"], 1.5);
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.ping","id":null})");
  EXPECT_EQ(r.status, 200);  // "id": null is a request, not a notification
  EXPECT_TRUE(r.body.contains("id") && r.body["id"].is_null());
}

TEST_F(EndpointTest, ObjectArrayAndBoolIdsAreInvalidWithNullId) {
  for (const char* id : {"{}", "[]", "true"}) {
    auto r = Call(std::string(R"({"jsonrpc":"2.0","method":"system.ping","id":)") + id + "}");
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_EQ(r.body["error"]["code"], -32600) << id;
    EXPECT_TRUE(r.body["id"].is_null()) << id;
  }
}

TEST_F(EndpointTest, OverlongStringIdIsInvalid) {
  std::string ok(limits::kIdStringBytesMax, 'x');
  std::string bad(limits::kIdStringBytesMax + 1, 'x');
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping","id":")" + ok + "\"}").status, 200);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping","id":")" + bad + "\"}")
                .body["error"]["code"],
            -32600);
}

TEST_F(EndpointTest, JsonrpcMustBeExactly20) {
  for (const char* v : {R"("2.0 ")", R"("2")", "2.0", "null"}) {
    auto r = Call(std::string(R"({"jsonrpc":)") + v + R"(,"method":"system.ping","id":7})");
    EXPECT_EQ(r.body["error"]["code"], -32600) << v;
    EXPECT_EQ(r.body["id"], 7) << v;
  }
  EXPECT_EQ(Call(R"({"method":"system.ping","id":7})").body["error"]["code"], -32600);
}

TEST_F(EndpointTest, UnknownMemberIsInvalidRequest) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.ping","id":1,"extra":0})");
  EXPECT_EQ(r.body["error"]["code"], -32600);
}

TEST_F(EndpointTest, NotificationGetsNoBodyEvenOnError) {
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping"})").status, 204);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"no.such"})").status, 204);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping","params":[1]})").status, 204);
}

TEST_F(EndpointTest, InvalidJsonIsParseErrorWithNullId) {
  auto r = Call(R"({"jsonrpc":"2.0","method")");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], -32700);
  EXPECT_TRUE(r.body["id"].is_null());
}

TEST_F(EndpointTest, InvalidUtf8IsParseError) {
  auto r = Call("{\"jsonrpc\":\"2.0\",\"method\":\"system.ping\",\"id\":\"\xff\"}");
  EXPECT_EQ(r.body["error"]["code"], -32700);
}

TEST_F(EndpointTest, EmptyBatchIsOneInvalidRequest) {
  auto r = Call("[]");
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(r.body.is_object());
  EXPECT_EQ(r.body["error"]["code"], -32600);
}

TEST_F(EndpointTest, BatchOfOneNonObjectIsArrayOfOneError) {
  auto r = Call("[1]");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.body.is_array());
  ASSERT_EQ(r.body.size(), 1u);
  EXPECT_EQ(r.body[0]["error"]["code"], -32600);
}

TEST_F(EndpointTest, AllNotificationBatchIs204) {
  auto r = Call(R"([{"jsonrpc":"2.0","method":"system.ping"},{"jsonrpc":"2.0","method":"x"}])");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.is_null());
}

TEST_F(EndpointTest, MixedBatchAnsweredPerElement) {
  auto r = Call(R"([{"jsonrpc":"2.0","method":"system.ping","id":1},
                    {"jsonrpc":"2.0","method":"system.ping"},
                    {"jsonrpc":"2.0","method":"nope","id":"b"},
                    5])");
  ASSERT_TRUE(r.body.is_array());
  ASSERT_EQ(r.body.size(), 3u);
  EXPECT_EQ(r.body[0]["result"]["pong"], true);
  EXPECT_EQ(r.body[1]["error"]["code"], -32601);
  EXPECT_EQ(r.body[1]["id"], "b");
  EXPECT_EQ(r.body[2]["error"]["code"], -32600);
}

TEST_F(EndpointTest, BatchLengthLimitAtNAndNPlus1) {
  auto batch = [](int64_t n) {
    json b = json::array();
    for (int64_t i = 0; i < n; ++i)
      b.push_back({{"jsonrpc", "2.0"}, {"method", "system.ping"}, {"id", i}});
    return b.dump();
  };
  auto ok = Call(batch(limits::kBatchLengthMax));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.size(), static_cast<size_t>(limits::kBatchLengthMax));
  auto over = Call(batch(limits::kBatchLengthMax + 1));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(over.body["error"]["code"], -32006);
  EXPECT_EQ(over.body["error"]["data"]["limit"], "batch_length_max");
}

TEST_F(EndpointTest, JsonDepthLimitAtNAndNPlus1) {
  // params object at depth 2; nest arrays inside a param to reach exactly N levels.
  auto nested = [](int64_t depth) {
    std::string inner;
    for (int64_t i = 0; i < depth - 2; ++i) inner += "[";
    for (int64_t i = 0; i < depth - 2; ++i) inner += "]";
    return R"({"jsonrpc":"2.0","method":"system.ping","id":1,"params":{"x":)" + inner + "}}";
  };
  auto at = Call(nested(limits::kJsonDepthMax));
  EXPECT_NE(at.body["error"]["code"], -32006);  // parsed; fails the schema instead
  EXPECT_EQ(at.body["error"]["code"], -32602);
  auto over = Call(nested(limits::kJsonDepthMax + 1));
  EXPECT_EQ(over.body["error"]["code"], -32006);
  EXPECT_EQ(over.body["error"]["data"]["limit"], "json_depth_max");
}

TEST_F(EndpointTest, ParamsMustBeAnObject) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.ping","params":[],"id":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], -32602);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"system.ping","params":null,"id":1})")
                .body["error"]["code"],
            -32602);
}

TEST_F(EndpointTest, InvalidParamsCarryPointers) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.ping","params":{"x":1},"id":1})");
  EXPECT_EQ(r.body["error"]["code"], -32602);
  EXPECT_TRUE(r.body["error"]["data"].contains("instance_path"));
  EXPECT_TRUE(r.body["error"]["data"].contains("schema_path"));
}

TEST_F(EndpointTest, ReservedRpcNamesAreNotFound) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"rpc.other","id":1})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"]["code"], -32601);
}

TEST_F(EndpointTest, DiscoverReturnsTheSpec) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"rpc.discover","id":1})");
  EXPECT_EQ(r.body["result"], testing::Registry().OpenRpcDocument());
}

TEST_F(EndpointTest, InfoReportsRoleAndLimits) {
  auto r = Call(R"({"jsonrpc":"2.0","method":"system.info","id":1})");
  EXPECT_EQ(r.body["result"]["role"], "admin");
  EXPECT_EQ(r.body["result"]["limits"]["batch_length_max"], limits::kBatchLengthMax);
}

TEST_F(EndpointTest, HandlerExceptionBecomesInternalError) {
  rpc::Dispatcher d;
  d.Register("system.ping", [](const rpc::CallContext&, const json&) -> Result<json> {
    throw std::runtime_error("boom");
  });
  rpc::RpcEndpoint e(testing::Registry(), d, {true});
  auto r = e.Handle({}, R"({"jsonrpc":"2.0","method":"system.ping","id":1})");
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], -32603);
}

TEST_F(EndpointTest, ResultSchemaViolationIsInternalErrorWhenValidating) {
  rpc::Dispatcher d;
  d.Register("system.ping", [](const rpc::CallContext&, const json&) -> Result<json> {
    return json{{"pong", "yes"}};
  });
  rpc::RpcEndpoint strict(testing::Registry(), d, {true});
  EXPECT_EQ(json::parse(strict.Handle({}, R"({"jsonrpc":"2.0","method":"system.ping","id":1})")
                            .body)["error"]["code"],
            -32603);
  rpc::RpcEndpoint lax(testing::Registry(), d, {false});
  EXPECT_EQ(json::parse(lax.Handle({}, R"({"jsonrpc":"2.0","method":"system.ping","id":1})")
                            .body)["result"]["pong"],
            "yes");
}

// ---- Properties -------------------------------------------------------------------------

bool IsResponseObject(const json& r) {
  if (!r.is_object() || r.value("jsonrpc", "") != "2.0" || !r.contains("id")) return false;
  bool has_result = r.contains("result"), has_error = r.contains("error");
  if (has_result == has_error) return false;
  if (has_error) {
    const json& e = r["error"];
    return e.is_object() && e.contains("code") && e["code"].is_number_integer() &&
           e.contains("message") && e["message"].is_string();
  }
  return true;
}

// (a) Any byte string as a body: a valid response, a batch of them, or 204.
RC_GTEST_PROP(EndpointProperty, AnyBodyGetsAValidAnswer, (const std::string& body)) {
  static testing::SystemFixture f;
  auto r = f.endpoint->Handle({}, body);
  if (r.body.empty()) {
    RC_ASSERT(r.http_status == 204);
    return;
  }
  json j = json::parse(r.body, nullptr, false);
  RC_ASSERT(!j.is_discarded());
  if (j.is_array()) {
    RC_ASSERT(!j.empty());
    for (const auto& e : j) RC_ASSERT(IsResponseObject(e));
  } else {
    RC_ASSERT(IsResponseObject(j));
  }
}

// Builds request-ish JSON values: mostly well-formed calls with random details.
rc::Gen<json> GenCall() {
  return rc::gen::apply(
      [](int kind, int id_kind, int64_t n, std::string s, bool notify) {
        static const char* kMethods[] = {"system.ping", "system.info", "rpc.discover",
                                         "nope", "access.get", "rpc.x"};
        json call = {{"jsonrpc", "2.0"}, {"method", kMethods[kind % 6]}};
        if (!notify) {
          switch (id_kind % 4) {
            case 0: call["id"] = n; break;
            case 1: call["id"] = std::to_string(n) + s.substr(0, 8); break;
            case 2: call["id"] = nullptr; break;
            default: call["id"] = static_cast<double>(n) / 4.0; break;
          }
        }
        if (kind % 5 == 0) call["params"] = json::array();
        if (kind % 7 == 0) call["params"] = {{"junk", n}};
        return call;
      },
      rc::gen::inRange(0, 1000), rc::gen::inRange(0, 4), rc::gen::inRange<int64_t>(-1000, 1000),
      rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'z')), rc::gen::arbitrary<bool>());
}

// (b) A batch gives the same responses as the same calls made one by one.
RC_GTEST_PROP(EndpointProperty, BatchEqualsCallsOneByOne, ()) {
  static testing::SystemFixture f;
  auto calls = *rc::gen::container<std::vector<json>>(GenCall());
  RC_PRE(!calls.empty() && static_cast<int64_t>(calls.size()) <= limits::kBatchLengthMax);
  json expected = json::array();
  for (const auto& c : calls) {
    auto r = f.endpoint->Handle({}, c.dump());
    if (!r.body.empty()) expected.push_back(json::parse(r.body));
  }
  auto batch = f.endpoint->Handle({}, json(calls).dump());
  if (expected.empty()) {
    RC_ASSERT(batch.http_status == 204);
  } else {
    RC_ASSERT(json::parse(batch.body) == expected);
  }
}

// (c) Ids come back with their type and value.
RC_GTEST_PROP(EndpointProperty, IdsKeepTheirType, (int64_t n, const std::string& s, bool as_string)) {
  static testing::SystemFixture f;
  // 40 bytes stay within the id limit even if every byte becomes a 3-byte U+FFFD.
  json id = as_string ? json(s.substr(0, 40)) : json(n);
  json call = {{"jsonrpc", "2.0"}, {"method", "system.ping"}, {"id", id}};
  std::string body = call.dump(-1, ' ', false, json::error_handler_t::replace);
  json sent = json::parse(body);
  auto r = f.endpoint->Handle({}, body);
  json answer = json::parse(r.body);
  RC_ASSERT(answer["id"] == sent["id"]);
  RC_ASSERT(answer["id"].type() == sent["id"].type());
}

}  // namespace
}  // namespace assent
