// Discord REST client: request shapes, answer classification, rate-limit parsing, and the
// real cpp-httplib transport against a local server (Authorization, timeouts, 429).
#include "approvers/discord/rest_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "discord/fakes.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::FakeTransport;

TEST(ParseSecondsTest, WholeAndFractionalSeconds) {
  EXPECT_EQ(ParseSecondsToMs("0"), 0);
  EXPECT_EQ(ParseSecondsToMs("2"), 2000);
  EXPECT_EQ(ParseSecondsToMs("1.5"), 1500);
  EXPECT_EQ(ParseSecondsToMs("0.25"), 250);
  EXPECT_EQ(ParseSecondsToMs("1.234"), 1234);
  EXPECT_EQ(ParseSecondsToMs("1.2341"), 1235);  // below a millisecond rounds up
  EXPECT_EQ(ParseSecondsToMs("1.2340"), 1234);
}

TEST(ParseSecondsTest, RejectsWhatIsNotANonNegativeNumber) {
  for (const char* bad : {"", "-1", "1e3", "abc", "1.2.3", " 1", "."})
    EXPECT_FALSE(ParseSecondsToMs(bad)) << bad;
}

HttpReply Reply(int status, const std::string& body, HeaderMap h = {}) {
  return FakeTransport::Reply(status, body, std::move(h));
}

TEST(ClassifyTest, RateLimitPrefersTheBodysRetryAfter) {
  auto r = Classify(Reply(429, R"({"message":"You are being rate limited.","retry_after":0.25,"global":false,"code":0})",
                          {{"Retry-After", "1"}, {"X-RateLimit-Reset-After", "0.3"}}));
  EXPECT_EQ(r.outcome, RestOutcome::kRateLimited);
  EXPECT_EQ(r.retry_after_ms, 250);
  EXPECT_TRUE(r.retryable());
  EXPECT_FALSE(r.global);
}

TEST(ClassifyTest, RateLimitFallsBackToHeaders) {
  EXPECT_EQ(Classify(Reply(429, "", {{"Retry-After", "2"}})).retry_after_ms, 2000);
  EXPECT_EQ(Classify(Reply(429, "<html/>", {{"X-RateLimit-Reset-After", "1.234"}})).retry_after_ms,
            1234);
  EXPECT_EQ(Classify(Reply(429, "")).retry_after_ms, 1000);
  EXPECT_EQ(Classify(Reply(429, R"({"retry_after":1e12})")).retry_after_ms, kRetryAfterMsMax);
  EXPECT_EQ(Classify(Reply(429, R"({"retry_after":-3})", {{"Retry-After", "4"}})).retry_after_ms,
            4000);
}

TEST(ClassifyTest, GlobalRateLimitIsFlagged) {
  EXPECT_TRUE(Classify(Reply(429, R"({"retry_after":1,"global":true})")).global);
  EXPECT_TRUE(Classify(Reply(429, "", {{"X-RateLimit-Global", "true"}})).global);
}

TEST(ClassifyTest, BucketHeadersAreReadOnEveryAnswer) {
  auto r = Classify(Reply(200, "[]", {{"x-ratelimit-remaining", "0"},
                                      {"X-RateLimit-Reset-After", "0.5"}}));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after_ms, 500);
}

TEST(ClassifyTest, ServerNetworkAndClientErrors) {
  EXPECT_EQ(Classify(Reply(500, "{}")).outcome, RestOutcome::kServerError);
  EXPECT_EQ(Classify(Reply(503, "<html>")).outcome, RestOutcome::kServerError);
  EXPECT_EQ(Classify(Reply(0, "")).outcome, RestOutcome::kNetworkError);
  auto bad = Classify(Reply(400, R"({"code":50035,"message":"Invalid Form Body"})"));
  EXPECT_EQ(bad.outcome, RestOutcome::kClientError);
  EXPECT_FALSE(bad.retryable());
  // The error names status and code only: Discord's content is never logged.
  EXPECT_EQ(bad.error, "HTTP 400 (Discord code 50035)");
}

class RestClientTest : public ::testing::Test {
 protected:
  RestClientTest()
      : shared_(std::make_shared<FakeTransport::Shared>()),
        client_(std::make_unique<FakeTransport>(shared_)) {}
  std::shared_ptr<FakeTransport::Shared> shared_;
  RestClient client_;
};

TEST_F(RestClientTest, CreateMessageCarriesNonceAndEnforceNonce) {
  client_.CreateMessage("11", {{"content", "hi"}}, "n1");
  ASSERT_EQ(shared_->calls.size(), 1u);
  EXPECT_EQ(shared_->calls[0].method, "POST");
  EXPECT_EQ(shared_->calls[0].path, "/channels/11/messages");
  json body = json::parse(shared_->calls[0].body);
  EXPECT_EQ(body["nonce"], "n1");
  EXPECT_EQ(body["enforce_nonce"], true);
  EXPECT_EQ(body["content"], "hi");
}

TEST_F(RestClientTest, ReactionPathsAreUrlEncoded) {
  client_.AddReaction("11", "22", kApproveEmoji);
  client_.ListReactions("11", "22", kDenyEmoji, "33", 100);
  client_.ListReactions("11", "22", kDenyEmoji, "", 500);
  EXPECT_EQ(shared_->calls[0].path, "/channels/11/messages/22/reactions/%E2%9C%85/@me");
  EXPECT_EQ(shared_->calls[0].method, "PUT");
  EXPECT_EQ(shared_->calls[1].path,
            "/channels/11/messages/22/reactions/%E2%9D%8C?limit=100&after=33");
  EXPECT_EQ(shared_->calls[2].path, "/channels/11/messages/22/reactions/%E2%9D%8C?limit=100");
}

// The real transport, against a local server standing in for Discord.
class HttplibTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/api/v10/channels/11/messages",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   last_auth_ = req.get_header_value("Authorization");
                   last_ua_ = req.get_header_value("User-Agent");
                   last_ctype_ = req.get_header_value("Content-Type");
                   if (++posts_ == 1) {
                     res.status = 429;
                     res.set_header("Retry-After", "1");
                     res.set_header("X-RateLimit-Remaining", "0");
                     res.set_content(R"({"message":"You are being rate limited.","retry_after":0.75,"global":false,"code":0})",
                                     "application/json");
                     return;
                   }
                   res.set_content(R"({"id":"99"})", "application/json");
                 });
    server_.Get("/api/v10/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it (polled, not slept on).
    for (int i = 0; i < 2000 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(server_.is_running());
    config_.api_base = "http://127.0.0.1:" + std::to_string(port_) + "/api/v10";
    config_.bot_token = "mock.token.value";
    config_.read_timeout_ms = 400;
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  int posts_ = 0;
  std::string last_auth_, last_ua_, last_ctype_;
  DiscordConfig config_;
};

TEST_F(HttplibTransportTest, SendsBotAuthorizationAndParsesRateLimit) {
  RestClient client(MakeHttplibTransport(config_));
  auto first = client.CreateMessage("11", {{"content", "x"}}, "n");
  EXPECT_EQ(first.outcome, RestOutcome::kRateLimited);
  EXPECT_EQ(first.retry_after_ms, 750);
  EXPECT_EQ(first.remaining, 0);
  EXPECT_EQ(last_auth_, "Bot mock.token.value");
  EXPECT_EQ(last_ua_.rfind("DiscordBot (", 0), 0u);
  EXPECT_EQ(last_ctype_, "application/json");
  auto second = client.CreateMessage("11", {{"content", "x"}}, "n");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.body["id"], "99");
  EXPECT_EQ(second.error.find("mock.token.value"), std::string::npos);
}

TEST_F(HttplibTransportTest, ReadTimeoutIsANetworkErrorWithoutTheToken) {
  auto t = MakeHttplibTransport(config_);
  HttpReply r = t->Send({"GET", "/slow", ""});
  EXPECT_EQ(r.status, 0);
  RestResult c = Classify(r);
  EXPECT_EQ(c.outcome, RestOutcome::kNetworkError);
  EXPECT_EQ(c.error.find("mock.token.value"), std::string::npos);
}

TEST_F(HttplibTransportTest, RefusedConnectionIsANetworkError) {
  config_.api_base = "http://127.0.0.1:1/api/v10";
  auto t = MakeHttplibTransport(config_);
  EXPECT_EQ(Classify(t->Send({"GET", "/x", ""})).outcome, RestOutcome::kNetworkError);
}

}  // namespace
}  // namespace assent::discord
