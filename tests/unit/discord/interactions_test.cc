// POST /discord/interactions: signature, timestamp window, PING, clicks, allowlist,
// forged buttons, finished requests and redelivered interactions (ASSENT-DISC-002..006).
#include "approvers/discord/interactions.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "approvers/discord/message.h"
#include "approvers/discord/state.h"
#include "crypto/crypto.h"
#include "discord/fakes.h"
#include "store/sqlite_store.h"
#include "store/temp_dir.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::DiscordSigner;
using testing::FakeBackend;
using testing::MakeRequest;

constexpr const char* kRid = "rq_00112233445566778899aabbccddeeff";
constexpr const char* kNonce = "a1b2c3d4e5f6a7b8c9d0e1f2";
constexpr const char* kAllowed = "1200000000000000001";
constexpr const char* kAllowed2 = "1200000000000000002";
constexpr const char* kStranger = "100000000000000666";

json Click(const std::string& interaction_id, const std::string& custom_id,
           const std::string& user_id, bool dm = false) {
  json j = {{"id", interaction_id},
            {"application_id", "1575369956621684736"},
            {"type", 3},
            {"token", "tok"},
            {"version", 1},
            {"channel_id", "1100000000000000001"},
            {"message", {{"id", "1300000000000000001"}}},
            {"data", {{"custom_id", custom_id}, {"component_type", 2}}}};
  if (dm) {
    j["user"] = {{"id", user_id}, {"username", "u"}};
  } else {
    j["member"] = {{"user", {{"id", user_id}, {"username", "u"}}}};
  }
  return j;
}

std::string ApproveId(const std::string& nonce = kNonce) {
  return FormatCustomId({true, kRid, nonce});
}
std::string DenyId() { return FormatCustomId({false, kRid, kNonce}); }

class InteractionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    OpenStore(":memory:");
    config_.public_key = signer_.public_key();
    config_.allowed_users = {kAllowed, kAllowed2};
    config_.host = "devbox";
    config_.channel_id = "1100000000000000001";
    backend_.Add(MakeRequest(kRid));
    SeedRecord();
  }

  void SeedRecord() {
    Status st = store_->WithTransaction([&](store::Tx& tx) {
      MessageRecord rec;
      rec.button_nonce = kNonce;
      rec.message_id = "1300000000000000001";
      rec.channel_id = config_.channel_id;
      return PutMessageRecord(tx, kRid, rec);
    });
    ASSERT_TRUE(st.ok());
  }

  void OpenStore(const std::string& path) {
    endpoint_.reset();
    store_.reset();
    auto s = store::SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    endpoint_ = std::make_unique<InteractionsEndpoint>(config_, *store_, clock_, backend_);
  }

  // Sends `body` signed at `ts_offset_s` from the clock, like Discord.
  InteractionResponse Send(const std::string& body, int64_t ts_offset_s = 0) {
    std::string ts = std::to_string(clock_.NowMs() / 1000 + ts_offset_s);
    std::string sig = signer_.SignHex(ts, body);
    return SendRaw(body, sig, ts);
  }
  InteractionResponse SendRaw(const std::string& body, const std::string& sig,
                              const std::string& ts) {
    InteractionRequest req;
    req.body = body;
    req.header = [sig, ts](const std::string& name) -> std::string {
      if (name == "X-Signature-Ed25519") return sig;
      if (name == "X-Signature-Timestamp") return ts;
      return "";
    };
    return endpoint_->Handle(req);
  }

  static void ExpectBadSignature(const InteractionResponse& r) {
    EXPECT_EQ(r.status, 401);
    json j = json::parse(r.body);
    EXPECT_EQ(j["error"], "bad_signature");
    EXPECT_TRUE(j["message"].is_string());
  }
  static void ExpectEphemeral(const InteractionResponse& r, const std::string& contains) {
    EXPECT_EQ(r.status, 200);
    json j = json::parse(r.body);
    EXPECT_EQ(j["type"], 4);
    EXPECT_EQ(j["data"]["flags"], 64);
    EXPECT_NE(j["data"]["content"].get<std::string>().find(contains), std::string::npos)
        << j.dump();
  }

  FakeClock clock_;
  DiscordSigner signer_;
  DiscordConfig config_;
  FakeBackend backend_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<InteractionsEndpoint> endpoint_;
};

TEST_F(InteractionsTest, SignedPingGetsPong) {
  auto r = Send(R"({"type":1,"id":"1","application_id":"2","token":"t","version":1})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json({{"type", 1}}));
  EXPECT_EQ(r.content_type, "application/json");
}

TEST_F(InteractionsTest, FlippedSignatureBitIsRefused) {
  std::string body = R"({"type":1})";
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  std::string sig = signer_.SignHex(ts, body);
  sig[0] = sig[0] == '0' ? '1' : '0';
  ExpectBadSignature(SendRaw(body, sig, ts));
}

TEST_F(InteractionsTest, SignatureByAnotherKeyIsRefused) {
  DiscordSigner other(9);
  std::string body = R"({"type":1})";
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  ExpectBadSignature(SendRaw(body, other.SignHex(ts, body), ts));
}

TEST_F(InteractionsTest, TamperedBodyIsRefused) {
  std::string body = Click("1", ApproveId(), kStranger).dump();
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  std::string sig = signer_.SignHex(ts, body);
  std::string tampered = Click("1", ApproveId(), kAllowed).dump();
  ExpectBadSignature(SendRaw(tampered, sig, ts));
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(InteractionsTest, SignatureOverAnotherTimestampIsRefused) {
  std::string body = R"({"type":1})";
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  std::string sig = signer_.SignHex(ts, body);
  ExpectBadSignature(SendRaw(body, sig, std::to_string(clock_.NowMs() / 1000 - 1)));
}

TEST_F(InteractionsTest, MissingHeadersAreRefused) {
  std::string body = R"({"type":1})";
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  ExpectBadSignature(SendRaw(body, "", ts));
  ExpectBadSignature(SendRaw(body, signer_.SignHex(ts, body), ""));
  ExpectBadSignature(SendRaw(body, "", ""));
  InteractionRequest no_lookup;
  no_lookup.body = body;
  ExpectBadSignature(endpoint_->Handle(no_lookup));
}

TEST_F(InteractionsTest, MalformedHeadersAreRefused) {
  std::string body = R"({"type":1})";
  std::string ts = std::to_string(clock_.NowMs() / 1000);
  std::string sig = signer_.SignHex(ts, body);
  ExpectBadSignature(SendRaw(body, sig.substr(2), ts));  // short
  ExpectBadSignature(SendRaw(body, "zz" + sig.substr(2), ts));  // not hex
  ExpectBadSignature(SendRaw(body, sig, ts + ".5"));  // not an integer
  ExpectBadSignature(SendRaw(body, sig, "-" + ts));
}

TEST_F(InteractionsTest, TimestampAtTheLimitIsAcceptedAndOneSecondMoreIsRefused) {
  // ASSENT-DISC-003 at N and N+1, both in the past and in the future.
  const int64_t max_age = limits::kDiscordSignatureMaxAgeSeconds;
  std::string ping = R"({"type":1})";
  EXPECT_EQ(Send(ping, -max_age).status, 200);
  EXPECT_EQ(Send(ping, +max_age).status, 200);
  ExpectBadSignature(Send(ping, -max_age - 1));
  ExpectBadSignature(Send(ping, +max_age + 1));
}

TEST_F(InteractionsTest, StaleClickDecidesNothing) {
  auto r = Send(Click("11", ApproveId(), kAllowed).dump(), -600);
  ExpectBadSignature(r);
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(InteractionsTest, SignedNonJsonBodyIsABadRequest) {
  auto r = Send("not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "bad_request");
}

TEST_F(InteractionsTest, AllowlistedApproveUpdatesTheMessageAndRemovesButtons) {
  auto r = Send(Click("21", ApproveId(), kAllowed).dump());
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], 7);
  EXPECT_EQ(j["data"]["components"], json::array());
  EXPECT_NE(j["data"]["content"].get<std::string>().find("Approved"), std::string::npos);
  ASSERT_EQ(backend_.vote_log.size(), 1u);
  EXPECT_EQ(backend_.vote_log[0], std::string(kRid) + " " + kAllowed + " approve");
}

TEST_F(InteractionsTest, DenyClickDenies) {
  auto r = Send(Click("22", DenyId(), kAllowed).dump());
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], 7);
  EXPECT_NE(j["data"]["content"].get<std::string>().find("Denied"), std::string::npos);
  EXPECT_EQ(backend_.requests[kRid].state, "denied");
}

TEST_F(InteractionsTest, ClickFromADirectMessageUsesUserId) {
  auto r = Send(Click("23", ApproveId(), kAllowed, /*dm=*/true).dump());
  EXPECT_EQ(json::parse(r.body)["type"], 7);
  EXPECT_EQ(backend_.votes(), 1u);
}

TEST_F(InteractionsTest, VoteShortOfQuorumKeepsTheButtonsAndShowsTheTally) {
  backend_.Add(MakeRequest(kRid, 2));
  auto r = Send(Click("24", ApproveId(), kAllowed).dump());
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], 7);
  ASSERT_EQ(j["data"]["components"].size(), 1u);
  EXPECT_NE(j["data"]["content"].get<std::string>().find("1 of 2"), std::string::npos);
  auto r2 = Send(Click("25", ApproveId(), kAllowed2).dump());
  json j2 = json::parse(r2.body);
  EXPECT_EQ(j2["data"]["components"], json::array());
  EXPECT_EQ(backend_.requests[kRid].state, "approved");
}

TEST_F(InteractionsTest, UnlistedUserGetsAnEphemeralRefusalAndDecidesNothing) {
  ExpectEphemeral(Send(Click("31", ApproveId(), kStranger).dump()), "not on");
  EXPECT_EQ(backend_.votes(), 0u);
  EXPECT_EQ(backend_.requests[kRid].state, "pending");
}

TEST_F(InteractionsTest, ForgedNonceDecidesNothing) {
  ExpectEphemeral(Send(Click("32", ApproveId("deadbeef"), kAllowed).dump()), "not valid");
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(InteractionsTest, ButtonForARequestWithoutAMessageDecidesNothing) {
  std::string other = FormatCustomId({true, "rq_ffffffffffffffffffffffffffffffff", kNonce});
  ExpectEphemeral(Send(Click("33", other, kAllowed).dump()), "not valid");
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(InteractionsTest, ForeignCustomIdDecidesNothing) {
  ExpectEphemeral(Send(Click("34", "someone_else:approve", kAllowed).dump()), "not an Assent");
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(InteractionsTest, ClickOnAFinishedRequestIsAlreadyDecided) {
  backend_.requests[kRid].state = "timed_out";
  ExpectEphemeral(Send(Click("41", ApproveId(), kAllowed).dump()), "already decided");
}

TEST_F(InteractionsTest, SecondVoteBySameUserIsRefusedEphemerally) {
  backend_.Add(MakeRequest(kRid, 2));
  Send(Click("42", ApproveId(), kAllowed).dump());
  ExpectEphemeral(Send(Click("43", ApproveId(), kAllowed).dump()), "already voted");
  EXPECT_EQ(backend_.requests[kRid].approvals, 1);
}

TEST_F(InteractionsTest, RedeliveredInteractionCountsOnceAndGetsTheSameAnswer) {
  backend_.Add(MakeRequest(kRid, 2));
  std::string body = Click("51", ApproveId(), kAllowed).dump();
  auto first = Send(body);
  auto second = Send(body);
  EXPECT_EQ(first.body, second.body);
  EXPECT_EQ(backend_.votes(), 1u);
  EXPECT_EQ(backend_.requests[kRid].approvals, 1);
}

TEST_F(InteractionsTest, RedeliveryAfterARestartStillCountsOnce) {
  assent::testing::TempDir dir;
  OpenStore(dir.File("assent.db"));
  SeedRecord();
  backend_.Add(MakeRequest(kRid, 2));
  std::string body = Click("52", ApproveId(), kAllowed).dump();
  auto first = Send(body);
  OpenStore(dir.File("assent.db"));  // the daemon restarts
  auto second = Send(body);
  EXPECT_EQ(first.body, second.body);
  EXPECT_EQ(backend_.requests[kRid].approvals, 1);
}

TEST_F(InteractionsTest, TransientVoteFailureIsNotRemembered) {
  backend_.fail_votes_with = ErrorCode::kAuditUnavailable;
  std::string body = Click("61", ApproveId(), kAllowed).dump();
  ExpectEphemeral(Send(body), "could not record");
  backend_.fail_votes_with = ErrorCode::kOk;
  auto r = Send(body);
  EXPECT_EQ(json::parse(r.body)["type"], 7);
  EXPECT_EQ(backend_.requests[kRid].state, "approved");
}

TEST_F(InteractionsTest, UnknownInteractionTypeIsAnsweredEphemerally) {
  auto r = Send(R"({"type":2,"id":"70"})");
  EXPECT_EQ(json::parse(r.body)["data"]["flags"], 64);
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST(ParseInteractionTest, ReadsMemberUserThenUser) {
  auto ix = ParseInteraction(
      R"({"type":3,"id":"9","member":{"user":{"id":"5"}},"user":{"id":"6"},"data":{"custom_id":"c"},"message":{"id":"8"}})");
  ASSERT_TRUE(ix);
  EXPECT_EQ(ix->user_id, "5");
  EXPECT_EQ(ix->custom_id, "c");
  EXPECT_EQ(ix->message_id, "8");
  auto dm = ParseInteraction(R"({"type":3,"id":"9","user":{"id":"6"}})");
  ASSERT_TRUE(dm);
  EXPECT_EQ(dm->user_id, "6");
}

TEST(ParseInteractionTest, RejectsNonObjectsAndMissingType) {
  EXPECT_FALSE(ParseInteraction(""));
  EXPECT_FALSE(ParseInteraction("[]"));
  EXPECT_FALSE(ParseInteraction(R"({"type":"1"})"));
  EXPECT_FALSE(ParseInteraction(R"({"id":"1"})"));
  EXPECT_FALSE(ParseInteraction("{\"type\":1"));
}

TEST(ParseInteractionTest, WrongMemberTypesAreIgnoredNotThrown) {
  auto ix = ParseInteraction(
      R"({"type":3,"id":5,"member":[],"user":"x","data":{"custom_id":7},"message":null})");
  ASSERT_TRUE(ix);
  EXPECT_EQ(ix->id, "");
  EXPECT_EQ(ix->user_id, "");
  EXPECT_EQ(ix->custom_id, "");
}

}  // namespace
}  // namespace assent::discord
