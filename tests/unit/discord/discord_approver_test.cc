// The facade: the wiring check posts one harmless message and reports Discord's verdict
// without the token; Start/Stop run the worker threads and stop them.
#include "approvers/discord/discord_approver.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "discord/fakes.h"
#include "store/sqlite_store.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::FakeBackend;
using testing::FakeTransport;

class DiscordApproverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    config_.channel_id = "1100000000000000001";
    config_.bot_token = "secret.bot.token";
    config_.host = "devbox";
    shared_ = std::make_shared<FakeTransport::Shared>();
  }
  std::unique_ptr<DiscordApprover> Make() {
    return std::make_unique<DiscordApprover>(config_, *store_, clock_, random_, backend_,
                                             std::make_unique<FakeTransport>(shared_));
  }
  FakeClock clock_;
  SeededRandom random_{3};
  DiscordConfig config_;
  FakeBackend backend_;
  std::unique_ptr<store::SqliteStore> store_;
  std::shared_ptr<FakeTransport::Shared> shared_;
};

TEST_F(DiscordApproverTest, WiringCheckPostsOneMessageWithoutButtons) {
  shared_->script.push_back(FakeTransport::Reply(200, R"({"id":"1300000000000000042"})"));
  auto approver = Make();
  auto r = approver->PostTestMessage();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->find("1300000000000000042"), std::string::npos);
  ASSERT_EQ(shared_->calls.size(), 1u);
  json body = json::parse(shared_->calls[0].body);
  EXPECT_FALSE(body.contains("components"));
  EXPECT_LE(body["nonce"].get<std::string>().size(), 25u);
}

TEST_F(DiscordApproverTest, WiringCheckExplainsARefusalWithoutTheToken) {
  shared_->script.push_back(FakeTransport::Reply(403, R"({"message":"Missing Access","code":50001})"));
  auto approver = Make();
  auto r = approver->PostTestMessage();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("permissions"), std::string::npos);
  EXPECT_EQ(r.status().message().find("secret.bot.token"), std::string::npos);
}

TEST_F(DiscordApproverTest, StartsAndStopsBothThreadsInReactionsMode) {
  config_.mode = Mode::kReactions;
  auto approver = Make();
  ASSERT_NE(approver->poller(), nullptr);
  ASSERT_TRUE(approver->Start().ok());
  approver->Wake();
  approver->Stop();
  approver->Stop();  // idempotent
}

TEST_F(DiscordApproverTest, InteractionsModeHasNoPoller) {
  auto approver = Make();
  EXPECT_EQ(approver->poller(), nullptr);
  auto handler = approver->InteractionsHandler();
  InteractionResponse r = handler({R"({"type":1})", nullptr});
  EXPECT_EQ(r.status, 401);  // no signature: nothing reaches the parser
}

}  // namespace
}  // namespace assent::discord
