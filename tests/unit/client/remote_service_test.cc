#include "client/remote_service.h"

#include <gtest/gtest.h>

namespace assent::client {
namespace {

TEST(ServerAddress, ParsesUnixAndTcp) {
  std::string why;
  auto u = ParseServerAddress("unix:/run/a.sock", &why);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, ServerAddress::Kind::kUnix);
  EXPECT_EQ(u->path, "/run/a.sock");
  EXPECT_EQ(u->ToString(), "unix:/run/a.sock");
  auto t = ParseServerAddress("tcp://127.0.0.1:8750", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8750);
  auto v6 = ParseServerAddress("tcp://[::1]:8750", &why);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(ParseServerAddress("http://localhost:1/", &why));
  for (const char* bad : {"", "unix:", "unix:rel", "tcp://", "tcp://h", "tcp://h:", "tcp://:80",
                          "tcp://h:0", "tcp://h:65536", "tcp://h:80x", "https://h:443", "/run/a.sock"}) {
    EXPECT_FALSE(ParseServerAddress(bad, &why)) << bad;
  }
}

TEST(InterpretRpcAnswer, ResultIsTheValue) {
  auto r = InterpretRpcAnswer(200, R"({"jsonrpc":"2.0","id":1,"result":{"pong":true}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["pong"], true);
}

TEST(InterpretRpcAnswer, JsonRpcErrorKeepsCodeNameAndData) {
  auto r = InterpretRpcAnswer(
      404, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"not found","data":{"kind":"secret","id":"X"}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ServiceError::Kind::kRpc);
  EXPECT_EQ(r.error().code, -32002);
  EXPECT_EQ(r.error().name, "not_found");
  EXPECT_EQ(r.error().data["kind"], "secret");
  EXPECT_EQ(r.error().http_status, 404);
}

TEST(InterpretRpcAnswer, HttpErrorBodyIsKHttp) {
  auto r = InterpretRpcAnswer(401, R"({"error":"unauthorized","message":"bad token"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ServiceError::Kind::kHttp);
  EXPECT_EQ(r.error().name, "unauthorized");
  EXPECT_EQ(r.error().http_status, 401);
}

TEST(InterpretRpcAnswer, AnythingElseIsAProtocolError) {
  for (const char* body : {"", "ok", "[]", R"({"result":1})", R"({"jsonrpc":"1.0","result":1})",
                           R"({"jsonrpc":"2.0","id":1})"}) {
    auto r = InterpretRpcAnswer(200, body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ServiceError::Kind::kProtocol) << body;
  }
}

TEST(InterpretRpcAnswer, MembersOfTheWrongTypeAreAProtocolErrorNotAnException) {
  for (const char* body : {R"({"jsonrpc":2,"id":1,"result":1})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":"-32002","message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":99999999999,"message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})"}) {
    auto r = InterpretRpcAnswer(400, body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ServiceError::Kind::kProtocol) << body;
  }
  // A message that is not a string is left out; the error itself still reaches the user.
  auto rpc = InterpretRpcAnswer(404, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":{}}})");
  ASSERT_FALSE(rpc.ok());
  EXPECT_EQ(rpc.error().name, "not_found");
  EXPECT_EQ(rpc.error().message, "");
  auto http = InterpretRpcAnswer(401, R"({"error":"unauthorized","message":401})");
  ASSERT_FALSE(http.ok());
  EXPECT_EQ(http.error().name, "unauthorized");
  EXPECT_EQ(http.error().message, "");
}

TEST(InterpretRpcAnswer, UnknownCodesGetAGenericName) {
  auto r = InterpretRpcAnswer(500, R"({"jsonrpc":"2.0","id":1,"error":{"code":-31999,"message":"x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().name, "error_-31999");
}

TEST(SseParser, ParsesEventsAcrossArbitraryChunks) {
  const std::string stream =
      "retry: 3000\n\n"
      "id: 42\nevent: request.created\ndata: {\"request_id\":\"rq_1\"}\n\n"
      ": heartbeat\n\n"
      "event: shutdown\r\ndata: {}\r\n\r\n";
  for (size_t step = 1; step <= stream.size(); ++step) {
    SseParser p;
    std::vector<ServerEvent> got;
    for (size_t i = 0; i < stream.size(); i += step)
      ASSERT_TRUE(p.Feed(stream.substr(i, step), [&](const ServerEvent& e) {
        got.push_back(e);
        return true;
      }));
    ASSERT_EQ(got.size(), 2u) << "step " << step;
    EXPECT_EQ(got[0].type, "request.created");
    ASSERT_TRUE(got[0].id);
    EXPECT_EQ(*got[0].id, 42);
    EXPECT_EQ(got[0].data["request_id"], "rq_1");
    EXPECT_EQ(got[1].type, "shutdown");
    EXPECT_FALSE(got[1].id) << "shutdown carries no id";
  }
}

TEST(SseParser, StopsWhenTheSinkSaysSo) {
  SseParser p;
  int n = 0;
  EXPECT_FALSE(p.Feed("data: 1\n\ndata: 2\n\n", [&](const ServerEvent&) { return ++n < 1; }));
  EXPECT_EQ(n, 1);
}

TEST(RemoteService, UnreachableSocketSaysWhy) {
  ServerAddress a;
  a.kind = ServerAddress::Kind::kUnix;
  a.path = "/nonexistent/assentd.sock";
  RemoteService s(a, "");
  auto r = s.Ping();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ServiceError::Kind::kUnreachable);
  EXPECT_NE(r.error().message.find("no socket at /nonexistent/assentd.sock"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(s.Healthy(200));
}

}  // namespace
}  // namespace assent::client
