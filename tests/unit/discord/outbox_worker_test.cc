// The durable outbox worker (ASSENT-DISC-007, -008): post with nonce, retries with capped
// backoff, 429 honoured, dead after N, restart without double posting, edits.
#include "approvers/discord/outbox_worker.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "approvers/discord/message.h"
#include "approvers/discord/state.h"
#include "crypto/crypto.h"
#include "discord/fakes.h"
#include "store/sqlite_store.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::FakeBackend;
using testing::FakeTransport;
using testing::MakeRequest;

constexpr const char* kRid = "rq_00112233445566778899aabbccddeeff";

TEST(BackoffTest, DoublesFromTheBaseAndStopsAtTheCap) {
  DiscordConfig c;
  c.backoff_base_ms = 500;
  c.backoff_cap_ms = 60000;
  EXPECT_EQ(BackoffMs(c, 0), 500);
  EXPECT_EQ(BackoffMs(c, 1), 500);
  EXPECT_EQ(BackoffMs(c, 2), 1000);
  EXPECT_EQ(BackoffMs(c, 3), 2000);
  EXPECT_EQ(BackoffMs(c, 7), 32000);
  EXPECT_EQ(BackoffMs(c, 8), 60000);
  EXPECT_EQ(BackoffMs(c, 1000), 60000);  // no overflow however many attempts
}

TEST(DiscordNonceTest, StablePerRowDistinctAcrossRowsAndWithinDiscordsLimit) {
  std::string a = DiscordNonce(1, "abc");
  EXPECT_EQ(a, DiscordNonce(1, "abc"));
  EXPECT_NE(a, DiscordNonce(2, "abc"));
  EXPECT_NE(a, DiscordNonce(1, "abd"));
  EXPECT_EQ(a.size(), static_cast<size_t>(kMessageNonceBytesMax));
}

class OutboxWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    config_.channel_id = "1100000000000000001";
    config_.host = "devbox";
    config_.backoff_base_ms = 500;
    config_.backoff_cap_ms = 4000;
    config_.max_attempts = 4;
    shared_ = std::make_shared<FakeTransport::Shared>();
    shared_->fallback = [](const HttpCall& call) {
      if (call.method == "POST")
        return FakeTransport::Reply(
            200, R"({"id":"1300000000000000001","author":{"id":"1575369956621684736"}})");
      if (call.method == "PUT") return FakeTransport::Reply(204, "");
      return FakeTransport::Reply(200, R"({"id":"1300000000000000001"})");
    };
    rest_ = std::make_unique<RestClient>(std::make_unique<FakeTransport>(shared_));
    backend_.Add(MakeRequest(kRid));
    backend_.store = store_.get();
    MakeWorker();
  }

  void MakeWorker() {
    worker_ = std::make_unique<OutboxWorker>(config_, *store_, clock_, random_, *rest_, backend_);
  }

  int64_t Enqueue(const std::string& kind, const std::string& nonce = "0123456789abcdef01234567") {
    int64_t id = 0;
    Status st = store_->WithTransaction([&](store::Tx& tx) -> Status {
      store::OutboxRow r;
      r.kind = kind;
      r.request_id = kRid;
      r.payload_json = json({{"request_id", kRid}}).dump();
      r.state = "pending";
      r.next_attempt_at = clock_.NowMs();
      r.nonce = nonce;
      r.created_at = clock_.NowMs();
      r.updated_at = clock_.NowMs();
      auto i = tx.InsertOutbox(r);
      if (!i.ok()) return i.status();
      id = *i;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return id;
  }

  store::OutboxRow Row(int64_t id) {
    store::OutboxRow out;
    (void)store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto r = tx.GetOutbox(id);
      if (r.ok() && r->has_value()) out = **r;
      return Status::Ok();
    });
    return out;
  }

  MessageRecord Record() {
    MessageRecord out;
    (void)store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto r = GetMessageRecord(tx, kRid);
      if (r.ok() && r->has_value()) out = **r;
      return Status::Ok();
    });
    return out;
  }

  std::set<int64_t> DeadUnrecorded() {
    std::set<int64_t> out;
    (void)store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto r = GetDeadUnrecorded(tx);
      if (r.ok()) out = *r;
      return Status::Ok();
    });
    return out;
  }

  std::vector<HttpCall> Calls() {
    std::lock_guard<std::mutex> l(shared_->mu);
    return shared_->calls;
  }
  void Script(HttpReply r) {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->script.push_back(std::move(r));
  }

  FakeClock clock_;
  SeededRandom random_{42};
  DiscordConfig config_;
  FakeBackend backend_;
  std::shared_ptr<FakeTransport::Shared> shared_;
  std::unique_ptr<RestClient> rest_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<OutboxWorker> worker_;
};

TEST_F(OutboxWorkerTest, PostsTheApprovalMessageWithNonceAndButtons) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  EXPECT_EQ(worker_->RunOnce(), 1);
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_EQ(calls[0].path, "/channels/1100000000000000001/messages");
  json body = json::parse(calls[0].body);
  EXPECT_EQ(body["nonce"], DiscordNonce(id, "0123456789abcdef01234567"));
  EXPECT_EQ(body["enforce_nonce"], true);
  ASSERT_EQ(body["components"].size(), 1u);
  auto buttons = body["components"][0]["components"];
  ASSERT_EQ(buttons.size(), 2u);
  EXPECT_EQ(buttons[0]["style"], 3);
  EXPECT_EQ(buttons[1]["style"], 4);
  auto cid = ParseCustomId(buttons[0]["custom_id"].get<std::string>());
  ASSERT_TRUE(cid);
  EXPECT_EQ(cid->request_id, kRid);
  EXPECT_EQ(cid->nonce, Record().button_nonce);
  EXPECT_EQ(Record().message_id, "1300000000000000001");
  store::OutboxRow row = Row(id);
  EXPECT_EQ(row.state, "done");
  EXPECT_EQ(row.attempts, 1);
  const std::string content = body["content"];
  for (const char* needle : {"claude-code", "GITHUB_TOKEN", "npm publish", "/home/dev/project",
                             "devbox", "5 min", kRid, "publish the release"})
    EXPECT_NE(content.find(needle), std::string::npos) << needle;
}

TEST_F(OutboxWorkerTest, ServerErrorsRetryWithBackoffThenSucceed) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  Script(FakeTransport::Reply(500, R"({"message":"500: Internal Server Error","code":0})"));
  Script(FakeTransport::Reply(502, "<html>bad gateway</html>"));
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "pending");
  EXPECT_EQ(Row(id).next_attempt_at, clock_.NowMs() + 500);
  EXPECT_EQ(Row(id).last_error.value_or(""), "HTTP 500 (Discord code 0)");
  EXPECT_EQ(worker_->RunOnce(), 0);  // not due yet
  clock_.AdvanceMs(500);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).next_attempt_at, clock_.NowMs() + 1000);
  clock_.AdvanceMs(1000);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "done");
  EXPECT_EQ(Row(id).attempts, 3);
  // Every attempt carried the same nonce: Discord posts once however many retries.
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(json::parse(calls[0].body)["nonce"], json::parse(calls[2].body)["nonce"]);
}

TEST_F(OutboxWorkerTest, RateLimitWaitsWhatDiscordAskedAndPausesEveryCall) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  int64_t other = Enqueue(kOutboxRequestCreated, "ffffffffffffffffffffffff");
  Script(FakeTransport::Reply(
      429, R"({"message":"You are being rate limited.","retry_after":1.5,"global":false})",
      {{"Retry-After", "2"}, {"X-RateLimit-Scope", "user"}}));
  EXPECT_EQ(worker_->RunOnce(), 1);  // the 429 pauses the rest of the batch
  EXPECT_EQ(Row(id).state, "pending");
  EXPECT_EQ(Row(id).next_attempt_at, clock_.NowMs() + 1500);
  EXPECT_EQ(Row(other).attempts, 0);
  EXPECT_EQ(worker_->paused_until_ms(), clock_.NowMs() + 1500);
  clock_.AdvanceMs(1499);
  EXPECT_EQ(worker_->RunOnce(), 0);
  EXPECT_EQ(Calls().size(), 1u);
  clock_.AdvanceMs(1);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "done");
  EXPECT_EQ(Row(id).attempts, 1);  // the 429 did not use up an attempt
}

TEST_F(OutboxWorkerTest, ALongRateLimitStormDoesNotKillAYoungRow) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  for (int i = 0; i < 3 * config_.max_attempts; ++i)
    Script(FakeTransport::Reply(429, R"({"retry_after":0.1})"));
  for (int i = 0; i < 3 * config_.max_attempts; ++i) {
    worker_->RunOnce();
    clock_.AdvanceMs(100);
  }
  EXPECT_EQ(Row(id).state, "pending");
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "done");
}

TEST_F(OutboxWorkerTest, RateLimitsCountOnceTheRowIsOld) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  clock_.AdvanceMs(kRateLimitedFreeMs);
  shared_->fallback = [](const HttpCall&) {
    return FakeTransport::Reply(429, R"({"retry_after":0.1})");
  };
  for (int i = 0; i < 2 * config_.max_attempts; ++i) {
    worker_->RunOnce();
    clock_.AdvanceMs(100);
  }
  EXPECT_EQ(Row(id).state, "dead");
}

TEST_F(OutboxWorkerTest, AnEmptyBucketPausesCallsUntilItRefills) {
  Enqueue(kOutboxRequestCreated);
  int64_t second = Enqueue(kOutboxRequestCreated, "ffffffffffffffffffffffff");
  Script(FakeTransport::Reply(200, R"({"id":"1300000000000000001"})",
                              {{"X-RateLimit-Remaining", "0"},
                               {"X-RateLimit-Reset-After", "0.8"}}));
  EXPECT_EQ(worker_->RunOnce(), 1);  // the second row waits for the bucket
  EXPECT_EQ(Row(second).attempts, 0);
  clock_.AdvanceMs(800);
  EXPECT_EQ(worker_->RunOnce(), 1);
  EXPECT_EQ(Row(second).state, "done");
}

TEST_F(OutboxWorkerTest, DeadAfterMaxAttemptsAndRecorded) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  shared_->fallback = [](const HttpCall&) { return FakeTransport::Reply(503, "<html/>"); };
  for (int i = 0; i < 10; ++i) {
    worker_->RunOnce();
    clock_.AdvanceMs(config_.backoff_cap_ms);
  }
  store::OutboxRow row = Row(id);
  EXPECT_EQ(row.state, "dead");
  EXPECT_EQ(row.attempts, config_.max_attempts);
  EXPECT_EQ(Calls().size(), static_cast<size_t>(config_.max_attempts));
  ASSERT_EQ(backend_.dead_log.size(), 1u);
  EXPECT_EQ(backend_.dead_log[0], std::string(kRid) + " request.created 4");
  EXPECT_EQ(row.last_error.value_or(""), "HTTP 503");
  EXPECT_TRUE(Record().dead);
  EXPECT_TRUE(DeadUnrecorded().empty());
}

TEST_F(OutboxWorkerTest, ADeadRowACrashLeftUnrecordedIsRecordedOnceAtTheNextStart) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  Script(FakeTransport::Reply(403, R"({"message":"Missing Access","code":50001})"));
  backend_.fail_dead_records = true;  // the daemon dies before the engine commits
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "dead");
  EXPECT_TRUE(backend_.dead_log.empty());
  EXPECT_EQ(DeadUnrecorded(), std::set<int64_t>{id});

  backend_.fail_dead_records = false;
  MakeWorker();  // the daemon restarts
  ASSERT_TRUE(worker_->Recover().ok());
  ASSERT_EQ(backend_.dead_log.size(), 1u);
  EXPECT_EQ(backend_.dead_log[0], std::string(kRid) + " request.created 1");
  EXPECT_TRUE(DeadUnrecorded().empty());
  MakeWorker();  // and again: nothing is recorded twice
  ASSERT_TRUE(worker_->Recover().ok());
  EXPECT_EQ(backend_.dead_log.size(), 1u);
}

TEST_F(OutboxWorkerTest, ADeadRowOfARequestThatIsGoneLeavesTheListAtRecovery) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  Script(FakeTransport::Reply(403, R"({"message":"Missing Access","code":50001})"));
  backend_.fail_dead_records = true;
  worker_->RunOnce();
  EXPECT_EQ(DeadUnrecorded(), std::set<int64_t>{id});
  backend_.fail_dead_records = false;
  backend_.requests.clear();
  MakeWorker();
  ASSERT_TRUE(worker_->Recover().ok());
  EXPECT_TRUE(backend_.dead_log.empty());
  EXPECT_TRUE(DeadUnrecorded().empty());
}

TEST_F(OutboxWorkerTest, ClientErrorIsDeadAtOnce) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  Script(FakeTransport::Reply(403, R"({"message":"Missing Access","code":50001})"));
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "dead");
  EXPECT_EQ(Row(id).last_error.value_or(""), "HTTP 403 (Discord code 50001)");
}

TEST_F(OutboxWorkerTest, NetworkFailureRetries) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  HttpReply dropped;
  dropped.transport_error = "Read";
  Script(dropped);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "pending");
  EXPECT_NE(Row(id).last_error.value_or("").find("no answer"), std::string::npos);
}

TEST_F(OutboxWorkerTest, ARowLeftInflightByACrashIsSentAgainWithTheSameNonce) {
  int64_t id = Enqueue(kOutboxRequestCreated);
  // Crash after the claim: the post went out, the answer was lost, nothing recorded.
  Script(FakeTransport::Reply(200, R"({"id":"1300000000000000001"})"));
  Status st = store_->WithTransaction([&](store::Tx& tx) -> Status {
    auto r = tx.GetOutbox(id);
    store::OutboxRow row = **r;
    row.state = "inflight";
    row.attempts = 1;
    ASSENT_RETURN_IF_ERROR(PutInflight(tx, {id}));
    MessageRecord rec;
    rec.button_nonce = "abcdef";
    ASSENT_RETURN_IF_ERROR(PutMessageRecord(tx, kRid, rec));
    return tx.UpdateOutbox(row);
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(worker_->RunOnce(), 0);  // inflight rows are not due
  MakeWorker();                      // the daemon restarts
  ASSERT_TRUE(worker_->Recover().ok());
  EXPECT_EQ(Row(id).state, "pending");
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "done");
  EXPECT_EQ(Row(id).attempts, 2);
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(json::parse(calls[0].body)["nonce"], DiscordNonce(id, "0123456789abcdef01234567"));
  // The button nonce chosen before the crash is kept: buttons already out still work.
  EXPECT_EQ(Record().button_nonce, "abcdef");
}

TEST_F(OutboxWorkerTest, EditWaitsForThePostThenEditsToTheCurrentState) {
  int64_t created = Enqueue(kOutboxRequestCreated);
  Script(FakeTransport::Reply(500, "{}"));
  worker_->RunOnce();  // the post failed and backs off
  backend_.requests[kRid].state = "cancelled";
  int64_t updated = Enqueue(kOutboxRequestUpdated);
  worker_->RunOnce();
  EXPECT_EQ(Row(updated).state, "pending");
  EXPECT_EQ(Row(updated).attempts, 0);  // waiting is not a failed attempt
  clock_.AdvanceMs(1000);
  worker_->RunOnce();  // posts (already showing "cancelled"), then edits
  worker_->RunOnce();
  EXPECT_EQ(Row(created).state, "done");
  EXPECT_EQ(Row(updated).state, "done");
  auto calls = Calls();
  ASSERT_GE(calls.size(), 3u);
  const HttpCall& post = calls[1];
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(json::parse(post.body)["components"], json::array());
  const HttpCall& edit = calls.back();
  EXPECT_EQ(edit.method, "PATCH");
  EXPECT_EQ(edit.path, "/channels/1100000000000000001/messages/1300000000000000001");
  json body = json::parse(edit.body);
  EXPECT_EQ(body["components"], json::array());
  EXPECT_NE(body["content"].get<std::string>().find("Cancelled"), std::string::npos);
  EXPECT_FALSE(body.contains("nonce"));
}

TEST_F(OutboxWorkerTest, TimedOutRequestEditRemovesButtons) {
  Enqueue(kOutboxRequestCreated);
  worker_->RunOnce();
  backend_.requests[kRid].state = "timed_out";
  Enqueue(kOutboxRequestUpdated);
  worker_->RunOnce();
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  json body = json::parse(calls[1].body);
  EXPECT_EQ(body["components"], json::array());
  EXPECT_NE(body["content"].get<std::string>().find("Timed out"), std::string::npos);
}

TEST_F(OutboxWorkerTest, EditOfADeadPostIsDropped) {
  Status st = store_->WithTransaction([&](store::Tx& tx) {
    MessageRecord rec;
    rec.dead = true;
    return PutMessageRecord(tx, kRid, rec);
  });
  ASSERT_TRUE(st.ok());
  int64_t id = Enqueue(kOutboxRequestUpdated);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "done");
  EXPECT_TRUE(Calls().empty());
}

TEST_F(OutboxWorkerTest, ReactionsModePostsWithoutButtonsAndAddsBothReactions) {
  config_.mode = Mode::kReactions;
  MakeWorker();
  Enqueue(kOutboxRequestCreated);
  worker_->RunOnce();
  worker_->RunOnce();
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(json::parse(calls[0].body)["components"], json::array());
  EXPECT_EQ(calls[1].method, "PUT");
  EXPECT_EQ(calls[1].path,
            "/channels/1100000000000000001/messages/1300000000000000001/reactions/%E2%9C%85/@me");
  EXPECT_EQ(calls[2].path,
            "/channels/1100000000000000001/messages/1300000000000000001/reactions/%E2%9D%8C/@me");
}

TEST_F(OutboxWorkerTest, PostForAnUnknownRequestIsDead) {
  backend_.requests.clear();
  int64_t id = Enqueue(kOutboxRequestCreated);
  worker_->RunOnce();
  EXPECT_EQ(Row(id).state, "dead");
  EXPECT_TRUE(Calls().empty());
}

TEST_F(OutboxWorkerTest, ThreadDeliversAfterWake) {
  config_.outbox_poll_ms = 20;
  MakeWorker();
  worker_->Start();
  int64_t id = Enqueue(kOutboxRequestCreated);
  worker_->Wake();
  for (int i = 0; i < 200 && Row(id).state != "done"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  worker_->Stop();
  EXPECT_EQ(Row(id).state, "done");
}

}  // namespace
}  // namespace assent::discord
