#include "cli/exit_codes.h"

#include <gtest/gtest.h>

#include "cli/secret_binding.h"


namespace assent::cli {
namespace {

using client::ServiceError;

ServiceError Rpc(int code, nlohmann::json data = nullptr) {
  ServiceError e;
  e.kind = ServiceError::Kind::kRpc;
  e.code = code;
  e.name = client::ErrorNameForCode(code);
  e.data = std::move(data);
  return e;
}

ServiceError Http(const std::string& name, int status) {
  ServiceError e;
  e.kind = ServiceError::Kind::kHttp;
  e.name = name;
  e.http_status = status;
  return e;
}

TEST(ExitCodes, UnreachableDaemonIs5WithAStartHint) {
  ServiceError e;
  e.kind = ServiceError::Kind::kUnreachable;
  e.message = "no socket at /x";
  EXPECT_EQ(ExitCodeFor(e), kExitUnreachable);
  EXPECT_NE(Advice(e, "unix:/x").find("assent daemon start"), std::string::npos);
}

TEST(ExitCodes, AuthenticationProblemsAre6) {
  EXPECT_EQ(ExitCodeFor(Http("unauthorized", 401)), kExitAuth);
  EXPECT_EQ(ExitCodeFor(Http("peer_forbidden", 403)), kExitAuth);
  EXPECT_EQ(ExitCodeFor(Http("locked_out", 429)), kExitAuth);
  EXPECT_EQ(ExitCodeFor(Rpc(-32001, {{"reason", "role"}, {"required_roles", {"approver"}}})),
            kExitAuth);
}

TEST(ExitCodes, SpecErrorsMapToTheirCodes) {
  EXPECT_EQ(ExitCodeFor(Rpc(-32002, {{"kind", "secret"}, {"id", "X"}})), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(Rpc(-32602)), kExitUsage);
  for (int code : {-32700, -32600, -32601, -32603, -32003, -32004, -32005, -32006, -32007, -32008})
    EXPECT_EQ(ExitCodeFor(Rpc(code)), kExitFailure) << code;
  EXPECT_EQ(ExitCodeFor(Http("unsupported_version", 426)), kExitFailure);
  ServiceError protocol;
  protocol.kind = ServiceError::Kind::kProtocol;
  EXPECT_EQ(ExitCodeFor(protocol), kExitFailure);
}

TEST(ExitCodes, FinalRequestStates) {
  EXPECT_EQ(ExitCodeForRequestState("approved"), kExitOk);
  EXPECT_EQ(ExitCodeForRequestState("denied"), kExitDenied);
  EXPECT_EQ(ExitCodeForRequestState("timed_out"), kExitTimedOut);
  EXPECT_EQ(ExitCodeForRequestState("cancelled"), kExitCancelled);
  EXPECT_EQ(ExitCodeForRequestState("pending"), kExitFailure);
}

TEST(ExitCodes, CodesAreDistinctAndDocumented) {
  std::string help = ExitCodesHelp();
  for (int code : {kExitOk, kExitFailure, kExitUsage, kExitDenied, kExitTimedOut,
                   kExitUnreachable, kExitAuth, kExitNotFound, kExitCancelled,
                   kExitNotExecutable, kExitCommandNotFound, kExitInterrupted})
    EXPECT_NE(help.find("  " + std::to_string(code) + " "), std::string::npos) << code;
}

TEST(ExitCodes, AdviceNamesTheMissingRoleAndNeverEchoesData) {
  std::string a = Advice(Rpc(-32001, {{"reason", "role"}, {"required_roles", {"admin"}}}), "unix:/s");
  EXPECT_NE(a.find("admin"), std::string::npos);
  EXPECT_NE(a.find("--token-file"), std::string::npos);
  EXPECT_NE(Advice(Rpc(-32001, {{"reason", "self_approval"}}), "").find("another client"),
            std::string::npos);
  EXPECT_NE(Advice(Rpc(-32002, {{"kind", "secret"}, {"id", "GH"}}), "").find("secret list"),
            std::string::npos);
}

TEST(SecretBinding, DefaultsTheVariableToTheName) {
  std::string why;
  auto b = ParseSecretBinding("GITHUB_TOKEN", &why);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name, "GITHUB_TOKEN");
  EXPECT_EQ(b->env, "GITHUB_TOKEN");
  b = ParseSecretBinding("db.password-prod", &why);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->env, "db_password_prod");
  b = ParseSecretBinding("GITHUB_TOKEN=GH_TOKEN", &why);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->env, "GH_TOKEN");
}

TEST(SecretBinding, RejectsBadNamesAndVariables) {
  std::string why;
  EXPECT_FALSE(ParseSecretBinding("", &why));
  EXPECT_FALSE(ParseSecretBinding("1ABC", &why));
  EXPECT_FALSE(ParseSecretBinding("A B", &why));
  EXPECT_FALSE(ParseSecretBinding("OK=1BAD", &why));
  EXPECT_FALSE(ParseSecretBinding("OK=", &why));
  EXPECT_FALSE(ParseSecretBinding("OK=A-B", &why));
  EXPECT_FALSE(ParseSecretBinding(std::string(129, 'a'), &why));
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace assent::cli
