#include "auth/tokens.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/crypto.h"
#include "base/limits.h"

namespace assent {
namespace {

std::string File(const std::string& tok, const std::string& role) {
  return R"({"version":1,"tokens":[{"name":"t1","role":")" + role + R"(","hash":")" +
         auth::TokenStore::HashForFile(tok) + R"("}]})";
}

TEST(TokenStore, FindsTokenByHashOnly) {
  ASSERT_TRUE(crypto::Init());
  auto s = auth::TokenStore::Parse(File("secret-token-0123456789", "approver"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto e = s->Find("secret-token-0123456789");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->role, rpc::Role::kApprover);
  EXPECT_EQ(e->name, "t1");
  EXPECT_FALSE(s->Find("secret-token-0123456788"));
  EXPECT_FALSE(s->Find(""));
}

TEST(TokenStore, RejectsMalformedFilesWithSpecificErrors) {
  EXPECT_NE(auth::TokenStore::Parse("nope").status().message().find("not valid JSON"),
            std::string::npos);
  // One fault per file: with several, the message names one of them.
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":1,"tokens":[{"name":"a","role":"root","hash":")" +
                                    auth::TokenStore::HashForFile("t") + R"("}]})")
                .status().message().find("role"),
            std::string::npos);
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":1,"tokens":[{"name":"a","role":"admin","hash":"sha1:00"}]})")
                .status().message().find("blake2b256"),
            std::string::npos);
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":2,"tokens":[]})").status().message().find("version"),
            std::string::npos);
}

std::string Message(const std::string& text) {
  auto r = auth::TokenStore::Parse(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

bool Mentions(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos;
}

// Fuzz: tokens-parse-throws. doc.value("version", 0) threw type_error.302 on a string
// version, and assentd died at start-up with `terminate called`. Every wrong type is an
// error value naming the member.
TEST(TokenStore, WrongTypesAreErrorsNotThrows) {
  const std::string h = auth::TokenStore::HashForFile("t");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"version":"1","tokens":[]})", "\"version\""},
      {R"({"version":null,"tokens":[]})", "\"version\""},
      {R"({"version":[1],"tokens":[]})", "\"version\""},
      {R"({"version":{"a":1},"tokens":[]})", "\"version\""},
      {R"({"version":true,"tokens":[]})", "\"version\""},
      {R"({"version":1,"tokens":{"a":1}})", "\"tokens\""},
      {R"({"version":1,"tokens":"x"})", "\"tokens\""},
      {R"({"version":1,"tokens":[1]})", "tokens[0]"},
      {R"({"version":1,"tokens":[null]})", "tokens[0]"},
      {R"({"version":1,"tokens":[{"name":1,"role":"admin","hash":")" + h + R"("}]})",
       "tokens[0].name"},
      {R"({"version":1,"tokens":[{"name":"a","role":["admin"],"hash":")" + h + R"("}]})",
       "tokens[0].role"},
      {R"({"version":1,"tokens":[{"name":"a","role":"admin","hash":7}]})", "tokens[0].hash"},
      {"[]", "object"},
      {"\"tokens\"", "object"},
  };
  for (const auto& [text, member] : cases) {
    std::string message;
    EXPECT_NO_THROW(message = Message(text)) << text;
    EXPECT_TRUE(Mentions(message, member)) << text << " → " << message;
  }
}

TEST(TokenStore, LoadFileNamesTheFileAndTheMember) {
  const std::string path = ::testing::TempDir() + "/tokens-parse-throws.json";
  {
    std::ofstream out(path);
    out << R"({"version":"1","tokens":[]})";
  }
  std::optional<Result<auth::TokenStore>> r;
  EXPECT_NO_THROW(r.emplace(auth::TokenStore::LoadFile(path)));
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->ok());
  EXPECT_TRUE(Mentions(r->status().message(), path)) << r->status().message();
  EXPECT_TRUE(Mentions(r->status().message(), "\"version\"")) << r->status().message();
  std::remove(path.c_str());
}

// Fuzz: tokens-parse-laxer-than-schema. The parser agrees with
// spec/schemas/tokens.json#/definitions/TokensFile, with a specific message.
TEST(TokenStore, RefusesWhatTheSchemaRefuses) {
  ASSERT_TRUE(crypto::Init());
  const std::string h = auth::TokenStore::HashForFile("t");
  auto entry = [&](const std::string& name, const std::string& hash = "") {
    return R"({"name":)" + nlohmann::json(name).dump() + R"(,"role":"agent","hash":")" +
           (hash.empty() ? h : hash) + R"("})";
  };
  auto file = [](const std::string& entries) {
    return R"({"version":1,"tokens":[)" + entries + "]}";
  };
  for (const std::string& name : std::vector<std::string>{"", "a b", "a\nb", "tab\t",
                                                          "caf\xc3\xa9", "a/b",
                                                          std::string(65, 'a')})
    EXPECT_TRUE(Mentions(Message(file(entry(name))), "tokens[0].name")) << name;
  std::string upper = h;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(0, 11, "blake2b256:");
  EXPECT_TRUE(Mentions(Message(file(entry("a", upper))), "tokens[0].hash"));
  EXPECT_TRUE(Mentions(Message(file(entry("a", h + "00"))), "tokens[0].hash"));
  EXPECT_TRUE(Mentions(Message(file(entry("ok") + "," + entry("b", "sha1:00"))), "tokens[1].hash"));
  EXPECT_TRUE(Mentions(Message(R"({"version":1,"tokens":[],"extra":1})"), "\"extra\""));
  EXPECT_TRUE(Mentions(Message(file(R"({"name":"a","role":"agent","hash":")" + h +
                                    R"(","note":"x"})")),
                       "\"note\""));
  EXPECT_TRUE(Mentions(Message(R"({"version":1.5,"tokens":[]})"), "\"version\""));
  EXPECT_TRUE(Mentions(Message(R"({"tokens":[]})"), "\"version\""));
  EXPECT_TRUE(Mentions(Message(R"({"version":1})"), "\"tokens\""));
  EXPECT_TRUE(Mentions(Message(file(R"({"name":"a","role":"agent"})")), "\"hash\""));

  // The bounds themselves are accepted: 64-character names, 1024 entries.
  std::string many;
  for (int i = 0; i < 1024; ++i) many += (i ? "," : "") + entry("t" + std::to_string(i));
  auto at_max = auth::TokenStore::Parse(file(many));
  ASSERT_TRUE(at_max.ok()) << at_max.status().message();
  EXPECT_EQ(at_max->size(), 1024u);
  EXPECT_TRUE(auth::TokenStore::Parse(file(entry(std::string(64, 'a')))).ok());
  EXPECT_TRUE(auth::TokenStore::Parse(file(entry("A-z_0.9"))).ok());
  EXPECT_TRUE(Mentions(Message(file(many + "," + entry("one-more"))), "1025"));
}

TEST(Lockout, LocksAfterMaxFailuresWithinWindow) {
  FakeClock clock;
  auth::Lockout l(clock);
  for (int64_t i = 0; i + 1 < limits::kAuthFailuresMax; ++i) EXPECT_FALSE(l.RecordFailure("p"));
  EXPECT_EQ(l.LockedForSeconds("p"), 0);  // N-1 failures: still open
  EXPECT_TRUE(l.RecordFailure("p"));       // N-th failure locks
  EXPECT_EQ(l.LockedForSeconds("p"), limits::kLockoutSeconds);
  EXPECT_EQ(l.LockedForSeconds("other"), 0);
  clock.AdvanceMs(limits::kLockoutSeconds * 1000 - 1);
  EXPECT_EQ(l.LockedForSeconds("p"), 1);
  clock.AdvanceMs(1);
  EXPECT_EQ(l.LockedForSeconds("p"), 0);
}

TEST(Lockout, FailuresOutsideTheWindowDoNotCount) {
  FakeClock clock;
  auth::Lockout l(clock);
  for (int64_t i = 0; i + 1 < limits::kAuthFailuresMax; ++i) l.RecordFailure("p");
  clock.AdvanceMs(limits::kAuthFailureWindowSeconds * 1000);
  EXPECT_FALSE(l.RecordFailure("p"));
  EXPECT_EQ(l.LockedForSeconds("p"), 0);
}

}  // namespace
}  // namespace assent
