#include "http/event_stream.h"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "store/sqlite_store.h"

namespace assent {
namespace {

class SseStreamerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
    log_ = std::make_unique<events::EventLog>(*store_, clock_);
  }
  int64_t Add(const std::string& type, const std::string& originator) {
    int64_t id = 0;
    Status st = store_->WithTransaction([&](store::Tx& tx) {
      store::EventRow row;
      row.time = clock_.NowMs();
      row.type = type;
      row.originator = originator;
      row.data_json = R"({"n":1})";
      auto r = tx.InsertEvent(row);
      if (!r.ok()) return r.status();
      id = *r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return id;
  }
  static std::vector<int64_t> Ids(const std::string& chunk) {
    std::vector<int64_t> ids;
    std::regex re("id: ([0-9]+)\nevent: ([a-z_.]+)\n");
    for (std::sregex_iterator it(chunk.begin(), chunk.end(), re), end; it != end; ++it)
      ids.push_back(std::stoll((*it)[1]));
    return ids;
  }
  http::EventStreamRequest Req(rpc::Role role, std::optional<std::string> client,
                               std::optional<int64_t> since) {
    http::EventStreamRequest r;
    r.ctx.role = role;
    r.ctx.client_id = client;
    r.since = since;
    return r;
  }

  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<events::EventLog> log_;
};

TEST_F(SseStreamerTest, ReplaysAfterSinceInOrderThenWaitsWithHeartbeat) {
  for (int i = 0; i < 5; ++i) Add("request.created", "cl_a");
  http::SseStreamer s(*log_, 1, 64);
  int64_t cursor = -1;
  std::string chunk;
  auto req = Req(rpc::Role::kApprover, std::nullopt, 2);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  EXPECT_NE(chunk.find("retry: "), std::string::npos);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{3, 4, 5}));
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));  // nothing new: a heartbeat after 1 s
  EXPECT_EQ(chunk, ": heartbeat\n\n");
}

TEST_F(SseStreamerTest, WithoutSinceOnlyLiveEventsAreSent) {
  Add("request.created", "cl_a");
  http::SseStreamer s(*log_, 5, 64);
  int64_t cursor = -1;
  std::string chunk;
  auto req = Req(rpc::Role::kAdmin, std::nullopt, std::nullopt);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.Notify(Add("grant.used", "cl_b"));
  });
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  writer.join();
  EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{2}));
}

TEST_F(SseStreamerTest, AnAgentSeesOnlyItsOwnOriginator) {
  Add("request.created", "cl_a");
  Add("request.created", "cl_b");
  Add("request.approved", "cl_a");
  http::SseStreamer s(*log_, 1, 64);
  int64_t cursor = -1;
  std::string chunk;
  auto req = Req(rpc::Role::kAgent, std::string("cl_a"), 0);
  s.Next(req, &cursor, &chunk);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{1, 3}));
  cursor = -1;
  auto anonymous = Req(rpc::Role::kAgent, std::nullopt, 0);
  s.Next(anonymous, &cursor, &chunk);
  ASSERT_TRUE(s.Next(anonymous, &cursor, &chunk));
  EXPECT_EQ(chunk, ": heartbeat\n\n") << "an agent without identity sees no events";
}

TEST_F(SseStreamerTest, PrunedHistoryStartsWithAGap) {
  for (int i = 0; i < 6; ++i) Add("request.created", "cl_a");
  ASSERT_TRUE(store_->WithTransaction([](store::Tx& tx) {
    auto r = tx.PruneEvents(0, 4, 100);
    return r.ok() ? Status::Ok() : r.status();
  }).ok());
  http::SseStreamer s(*log_, 1, 64);
  int64_t cursor = -1;
  std::string chunk;
  auto req = Req(rpc::Role::kAdmin, std::nullopt, 1);
  s.Next(req, &cursor, &chunk);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  EXPECT_EQ(chunk.rfind("id: 4\nevent: gap\ndata: {\"from_id\":2,\"to_id\":4}\n\n", 0), 0u) << chunk;
  EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{4, 5, 6}));
}

TEST_F(SseStreamerTest, StreamsShareAReadUntilAPruneChangesWhatIsRetained) {
  events::RetentionConfig retention;
  retention.retention_count_max = 2;
  events::EventLog log(*store_, clock_, retention);
  for (int i = 0; i < 5; ++i) Add("request.created", "cl_a");
  http::SseStreamer s(log, 1, 64);
  auto req = Req(rpc::Role::kAdmin, std::nullopt, 1);
  std::string chunk;
  for (int stream = 0; stream < 2; ++stream) {  // the second takes the first one's read
    int64_t cursor = -1;
    s.Next(req, &cursor, &chunk);
    ASSERT_TRUE(s.Next(req, &cursor, &chunk));
    EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{2, 3, 4, 5})) << stream;
    EXPECT_EQ(cursor, 5);
  }
  auto pruned = log.PruneOnce();
  ASSERT_TRUE(pruned.ok());
  ASSERT_EQ(*pruned, 3);
  // A stream opened after the prune from the same cursor: a gap, then what is retained.
  int64_t cursor = -1;
  s.Next(req, &cursor, &chunk);
  ASSERT_TRUE(s.Next(req, &cursor, &chunk));
  EXPECT_EQ(chunk.rfind("id: 3\nevent: gap\ndata: {\"from_id\":2,\"to_id\":3}\n\n", 0), 0u) << chunk;
  EXPECT_EQ(Ids(chunk), (std::vector<int64_t>{3, 4, 5}));
}

TEST_F(SseStreamerTest, ShutdownEndsEveryStreamWithAShutdownEvent) {
  http::SseStreamer s(*log_, 30, 64);
  int64_t cursor = -1;
  std::string chunk;
  auto req = Req(rpc::Role::kAdmin, std::nullopt, std::nullopt);
  s.Next(req, &cursor, &chunk);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.Shutdown("test");
  });
  EXPECT_FALSE(s.Next(req, &cursor, &chunk));
  stopper.join();
  EXPECT_EQ(chunk, "event: shutdown\ndata: {\"reason\":\"test\"}\n\n");
}

TEST_F(SseStreamerTest, SubscriberCapAtNAndNPlus1) {
  http::SseStreamer s(*log_, 1, 3);
  EXPECT_TRUE(s.TryAcquireSlot());
  EXPECT_TRUE(s.TryAcquireSlot());
  EXPECT_TRUE(s.TryAcquireSlot());
  EXPECT_FALSE(s.TryAcquireSlot());
  s.ReleaseSlot();
  EXPECT_TRUE(s.TryAcquireSlot());
}

}  // namespace
}  // namespace assent
