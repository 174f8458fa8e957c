#include "auth/tokens.h"

#include <gtest/gtest.h>

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
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":1,"tokens":[{"name":"a","role":"root","hash":"x"}]})")
                .status().message().find("role"),
            std::string::npos);
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":1,"tokens":[{"name":"a","role":"admin","hash":"sha1:00"}]})")
                .status().message().find("blake2b256"),
            std::string::npos);
  EXPECT_NE(auth::TokenStore::Parse(R"({"version":2,"tokens":[]})").status().message().find("version"),
            std::string::npos);
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
