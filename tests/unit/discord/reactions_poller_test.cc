// Reactions mode (ASSENT-DISC-009): votes from allowlisted reactions, the bot and strangers
// ignored, no resubmission, backoff while idle, rate-limit headers respected.
#include "approvers/discord/reactions_poller.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "approvers/discord/state.h"
#include "discord/fakes.h"
#include "store/sqlite_store.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::FakeBackend;
using testing::FakeTransport;
using testing::MakeRequest;

constexpr const char* kRid = "rq_00112233445566778899aabbccddeeff";
constexpr const char* kBot = "1575369956621684736";
constexpr const char* kAllowed = "1200000000000000001";
constexpr const char* kAllowed2 = "1200000000000000002";
constexpr const char* kStranger = "100000000000000666";

json User(const std::string& id, bool bot = false) {
  json u = {{"id", id}, {"username", "u" + id.substr(0, 3)}};
  if (bot) u["bot"] = true;
  return u;
}

class ReactionsPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    config_.mode = Mode::kReactions;
    config_.channel_id = "1100000000000000001";
    config_.allowed_users = {kAllowed, kAllowed2};
    config_.reactions_poll_ms = 1000;
    config_.reactions_poll_max_ms = 8000;
    shared_ = std::make_shared<FakeTransport::Shared>();
    shared_->fallback = [this](const HttpCall& call) {
      const bool approve = call.path.find("%E2%9C%85") != std::string::npos;
      return FakeTransport::Reply(200, (approve ? approvers_ : deniers_).dump(), headers_);
    };
    rest_ = std::make_unique<RestClient>(std::make_unique<FakeTransport>(shared_));
    backend_.Add(MakeRequest(kRid, 2));
    Status st = store_->WithTransaction([&](store::Tx& tx) -> Status {
      MessageRecord rec;
      rec.message_id = "1300000000000000001";
      rec.channel_id = config_.channel_id;
      ASSENT_RETURN_IF_ERROR(PutMessageRecord(tx, kRid, rec));
      return PutBotUserId(tx, kBot);
    });
    ASSERT_TRUE(st.ok());
    poller_ = std::make_unique<ReactionsPoller>(config_, *store_, clock_, *rest_, backend_);
    poller_->SetSleeper([this](int64_t ms) { sleeps_.push_back(ms); });
  }

  FakeClock clock_;
  DiscordConfig config_;
  FakeBackend backend_;
  std::shared_ptr<FakeTransport::Shared> shared_;
  std::unique_ptr<RestClient> rest_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ReactionsPoller> poller_;
  json approvers_ = json::array();
  json deniers_ = json::array();
  HeaderMap headers_;
  std::vector<int64_t> sleeps_;
};

TEST_F(ReactionsPollerTest, AllowlistedApproveCountsBotAndStrangersDoNot) {
  approvers_ = {User(kBot), User(kStranger), User(kAllowed)};
  EXPECT_EQ(poller_->PollOnce(), 1);
  ASSERT_EQ(backend_.vote_log.size(), 1u);
  EXPECT_EQ(backend_.vote_log[0], std::string(kRid) + " " + kAllowed + " approve");
}

TEST_F(ReactionsPollerTest, UsersFlaggedBotAreIgnoredEvenIfAllowlisted) {
  approvers_ = {User(kAllowed, /*bot=*/true)};
  EXPECT_EQ(poller_->PollOnce(), 0);
  EXPECT_EQ(backend_.votes(), 0u);
}

TEST_F(ReactionsPollerTest, AVoteIsSubmittedOnceAcrossPasses) {
  approvers_ = {User(kAllowed)};
  poller_->PollOnce();
  poller_->PollOnce();
  // A new poller (a restart) reads the durable list of submitted voters.
  ReactionsPoller again(config_, *store_, clock_, *rest_, backend_);
  again.PollOnce();
  EXPECT_EQ(backend_.votes(), 1u);
}

TEST_F(ReactionsPollerTest, QuorumOfTwoReactionsApproves) {
  approvers_ = {User(kAllowed), User(kAllowed2)};
  EXPECT_EQ(poller_->PollOnce(), 2);
  EXPECT_EQ(backend_.requests[kRid].state, "approved");
}

TEST_F(ReactionsPollerTest, DenyIsReadFirst) {
  approvers_ = {User(kAllowed)};
  deniers_ = {User(kAllowed)};
  poller_->PollOnce();
  EXPECT_EQ(backend_.requests[kRid].state, "denied");
  ASSERT_EQ(backend_.vote_log.size(), 1u);
  EXPECT_NE(backend_.vote_log[0].find("deny"), std::string::npos);
}

TEST_F(ReactionsPollerTest, IdlePassesBackOffUpToTheMaximumAndWakeResets) {
  EXPECT_EQ(poller_->next_delay_ms(), 1000);
  poller_->PollOnce();
  EXPECT_EQ(poller_->next_delay_ms(), 2000);
  poller_->PollOnce();
  poller_->PollOnce();
  poller_->PollOnce();
  EXPECT_EQ(poller_->next_delay_ms(), 8000);
  poller_->Wake();
  EXPECT_EQ(poller_->next_delay_ms(), 1000);
}

TEST_F(ReactionsPollerTest, ExhaustedBucketWaitsResetAfter) {
  headers_ = {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "0.75"}};
  poller_->PollOnce();
  ASSERT_FALSE(sleeps_.empty());
  EXPECT_EQ(sleeps_[0], 750);
}

TEST_F(ReactionsPollerTest, RateLimitPausesPolling) {
  shared_->script.push_back(FakeTransport::Reply(429, R"({"retry_after":3})"));
  approvers_ = {User(kAllowed)};
  EXPECT_EQ(poller_->PollOnce(), 0);
  size_t calls = shared_->calls.size();
  clock_.AdvanceMs(2999);
  EXPECT_EQ(poller_->PollOnce(), 0);
  EXPECT_EQ(shared_->calls.size(), calls);
  clock_.AdvanceMs(1);
  EXPECT_EQ(poller_->PollOnce(), 1);
}

TEST_F(ReactionsPollerTest, FinishedRequestsAreNotPolled) {
  backend_.requests[kRid].state = "cancelled";
  approvers_ = {User(kAllowed)};
  poller_->PollOnce();
  EXPECT_TRUE(shared_->calls.empty());
  EXPECT_EQ(backend_.votes(), 0u);
}

}  // namespace
}  // namespace assent::discord
