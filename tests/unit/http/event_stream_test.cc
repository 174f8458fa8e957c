#include "http/event_stream.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "sse_socket_reader.h"
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
  int64_t Add(const std::string& type, const std::string& originator,
              const std::string& data_json = R"({"n":1})") {
    int64_t id = 0;
    Status st = store_->WithTransaction([&](store::Tx& tx) {
      store::EventRow row;
      row.time = clock_.NowMs();
      row.type = type;
      row.originator = originator;
      row.data_json = data_json;
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

  using Client = testing::SseSocketReader;
  // Opens a stream as the HTTP server does: a slot, Open, then Adopt of one end of a
  // socket pair (the other is the client's). The worker's first bytes are not sent
  // here; `head` receives them.
  // `sndbuf`: the server end's send buffer (0: the system's), so that tests of a slow
  // client do not depend on the host's socket buffer sizes.
  std::unique_ptr<Client> Start(http::SseStreamer& s, const http::EventStreamRequest& req,
                                std::string* head = nullptr, int sndbuf = 0) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (sndbuf > 0) {
      EXPECT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    EXPECT_TRUE(s.TryAcquireSlot());
    int64_t cursor = -1;
    std::string first;
    EXPECT_TRUE(s.Open(req, &cursor, &first));
    if (head) *head = first;
    s.Adopt(sv[0], req, cursor);
    return std::make_unique<Client>(sv[1]);
  }
  static auto HasIds(size_t n) {
    return [n](const std::string& t) { return Ids(t).size() >= n; };
  }
  static auto Contains(const std::string& needle) {
    return [needle](const std::string& t) { return t.find(needle) != std::string::npos; };
  }
  static bool WaitFor(const std::function<bool()>& cond, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!cond()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<events::EventLog> log_;
};

TEST_F(SseStreamerTest, ReplaysAfterSinceInOrderThenWaitsWithHeartbeat) {
  for (int i = 0; i < 5; ++i) Add("request.created", "cl_a");
  http::SseStreamer s(*log_, 1, 64);
  std::string head;
  auto c = Start(s, Req(rpc::Role::kApprover, std::nullopt, 2), &head);
  EXPECT_EQ(head.rfind("retry: ", 0), 0u) << head;
  ASSERT_TRUE(c->ReadUntil(HasIds(3)));
  EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{3, 4, 5}));
  // Nothing new: a heartbeat comment within the 1 s interval (and some slack).
  ASSERT_TRUE(c->ReadUntil(Contains(": heartbeat\n\n"), 3000)) << c->Text();
  EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{3, 4, 5}));
}

TEST_F(SseStreamerTest, WithoutSinceOnlyLiveEventsAreSent) {
  Add("request.created", "cl_a");
  http::SseStreamer s(*log_, 5, 64);
  auto c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  s.Notify(Add("grant.used", "cl_b"));
  ASSERT_TRUE(c->ReadUntil(HasIds(1)));
  EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{2}));
}

TEST_F(SseStreamerTest, AnEventCommittedBeforeAdoptionIsNotLost) {
  http::SseStreamer s(*log_, 5, 64);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  auto req = Req(rpc::Role::kAdmin, std::nullopt, std::nullopt);
  ASSERT_TRUE(s.TryAcquireSlot());
  int64_t cursor = -1;
  std::string head;
  ASSERT_TRUE(s.Open(req, &cursor, &head));
  s.Notify(Add("grant.used", "cl_b"));  // between the worker's Open and the hand-over
  s.Adopt(sv[0], req, cursor);
  Client c(sv[1]);
  ASSERT_TRUE(c.ReadUntil(HasIds(1)));
  EXPECT_EQ(Ids(c.Text()), (std::vector<int64_t>{1}));
}

TEST_F(SseStreamerTest, AnAgentSeesOnlyItsOwnOriginator) {
  Add("request.created", "cl_a");
  Add("request.created", "cl_b");
  Add("request.approved", "cl_a");
  http::SseStreamer s(*log_, 1, 64);
  auto c = Start(s, Req(rpc::Role::kAgent, std::string("cl_a"), 0));
  ASSERT_TRUE(c->ReadUntil(HasIds(2)));
  EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{1, 3}));
  auto anonymous = Start(s, Req(rpc::Role::kAgent, std::nullopt, 0));
  ASSERT_TRUE(anonymous->ReadUntil(Contains(": heartbeat\n\n"), 3000));
  EXPECT_EQ(anonymous->Text(), ": heartbeat\n\n") << "an agent without identity sees no events";
}

TEST_F(SseStreamerTest, PrunedHistoryStartsWithAGap) {
  for (int i = 0; i < 6; ++i) Add("request.created", "cl_a");
  ASSERT_TRUE(store_->WithTransaction([](store::Tx& tx) {
    auto r = tx.PruneEvents(0, 4, 100);
    return r.ok() ? Status::Ok() : r.status();
  }).ok());
  http::SseStreamer s(*log_, 1, 64);
  auto c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, 1));
  ASSERT_TRUE(c->ReadUntil(HasIds(3)));
  std::string text = c->Text();
  EXPECT_EQ(text.rfind("id: 4\nevent: gap\ndata: {\"from_id\":2,\"to_id\":4}\n\n", 0), 0u) << text;
  EXPECT_EQ(Ids(text), (std::vector<int64_t>{4, 5, 6}));
}

TEST_F(SseStreamerTest, StreamsAtOneCursorGetTheSameEventsUntilAPruneChangesWhatIsRetained) {
  events::RetentionConfig retention;
  retention.retention_count_max = 2;
  events::EventLog log(*store_, clock_, retention);
  for (int i = 0; i < 5; ++i) Add("request.created", "cl_a");
  http::SseStreamer s(log, 1, 64);
  auto req = Req(rpc::Role::kAdmin, std::nullopt, 1);
  auto a = Start(s, req);
  auto b = Start(s, req);
  for (auto* c : {a.get(), b.get()}) {
    ASSERT_TRUE(c->ReadUntil(HasIds(4)));
    EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{2, 3, 4, 5}));
  }
  auto pruned = log.PruneOnce();
  ASSERT_TRUE(pruned.ok());
  ASSERT_EQ(*pruned, 3);
  // A stream opened after the prune from the same cursor: a gap, then what is retained.
  auto late = Start(s, req);
  ASSERT_TRUE(late->ReadUntil(HasIds(3)));
  std::string text = late->Text();
  EXPECT_EQ(text.rfind("id: 3\nevent: gap\ndata: {\"from_id\":2,\"to_id\":3}\n\n", 0), 0u) << text;
  EXPECT_EQ(Ids(text), (std::vector<int64_t>{3, 4, 5}));
}

TEST_F(SseStreamerTest, ALongReplayArrivesWholeInOrderAcrossBatches) {
  // More than two read batches (256), each event a few hundred bytes: the replay is
  // read batch by batch as the client drains it.
  const int n = 700;
  for (int i = 0; i < n; ++i) Add("request.created", "cl_a");
  http::SseStreamer s(*log_, 30, 64);
  auto c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, 0));
  ASSERT_TRUE(c->ReadUntil(HasIds(n), 20000)) << Ids(c->Text()).size();
  std::vector<int64_t> want;
  for (int i = 1; i <= n; ++i) want.push_back(i);
  EXPECT_EQ(Ids(c->Text()), want);
}

TEST_F(SseStreamerTest, OneCommitReachesEverySubscriber) {
  http::SseStreamer s(*log_, 30, 64);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(Start(s, Req(rpc::Role::kApprover, std::nullopt, std::nullopt)));
  EXPECT_EQ(s.Subscribers(), 64);
  s.Notify(Add("request.created", "cl_a"));
  for (auto& c : clients) {
    ASSERT_TRUE(c->ReadUntil(HasIds(1)));
    EXPECT_EQ(Ids(c->Text()), (std::vector<int64_t>{1}));
  }
}

TEST_F(SseStreamerTest, ABurstOfCommitsArrivesWholeInOrderAtEveryStream) {
  // Commits faster than the writer's fan-out interval: each stream still gets each
  // event exactly once, in order (they are batched, not dropped or repeated).
  http::SseStreamer s(*log_, 30, 64);
  auto admin = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  auto agent = Start(s, Req(rpc::Role::kAgent, std::string("cl_a"), std::nullopt));
  std::vector<int64_t> all, mine;
  for (int i = 0; i < 200; ++i) {
    const bool a = i % 3 == 0;
    int64_t id = Add("request.created", a ? "cl_a" : "cl_b");
    all.push_back(id);
    if (a) mine.push_back(id);
    s.Notify(id);
  }
  ASSERT_TRUE(admin->ReadUntil(HasIds(all.size())));
  ASSERT_TRUE(agent->ReadUntil(HasIds(mine.size())));
  EXPECT_EQ(Ids(admin->Text()), all);
  EXPECT_EQ(Ids(agent->Text()), mine);
}

TEST_F(SseStreamerTest, AnEventNotifiedWhileAClientWasBehindArrivesOnceItCatchesUp) {
  // The stream's output is over its low-water mark when a commit is notified, so the
  // writer does not read it then; when a slow client has drained the output, the writer
  // must read at once, not at the next commit or heartbeat (30 s here). Review finding:
  // with the socket buffers of a usual Linux host the last write drained more than the
  // low-water mark at once, and the event waited for the heartbeat.
  const std::string big = R"({"pad":")" + std::string(4000, 'x') + R"("})";
  for (int i = 0; i < 250; ++i) Add("request.created", "cl_a", big);
  http::SseStreamer s(*log_, 30, 64);
  auto c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the replay fills the buffers
  s.Notify(Add("grant.used", "cl_b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(c->ReadUntil(HasIds(251), 10000, /*pause_ms=*/50)) << Ids(c->Text()).size();
  EXPECT_EQ(Ids(c->Text()).back(), 251);
}

TEST_F(SseStreamerTest, AClientThatClosesFreesItsSlot) {
  http::SseStreamer s(*log_, 30, 64);
  auto c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  EXPECT_EQ(s.Subscribers(), 1);
  c->CloseNow();
  EXPECT_TRUE(WaitFor([&] { return s.Subscribers() == 0; })) << s.Subscribers();
}

TEST_F(SseStreamerTest, AClientThatStopsReadingIsClosedAfterTheWriteTimeout) {
  // Enough history (3 MB) to fill the socket buffers many times over.
  const std::string big = R"({"pad":")" + std::string(1000, 'x') + R"("})";
  for (int i = 0; i < 3000; ++i) Add("request.created", "cl_a", big);
  http::SseStreamer s(*log_, 30, 64, /*write_timeout_ms=*/300);
  auto stuck = Start(s, Req(rpc::Role::kAdmin, std::nullopt, 0), nullptr, 64 << 10);
  auto healthy = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  EXPECT_TRUE(WaitFor([&] { return s.Subscribers() == 1; })) << s.Subscribers();
  // The stalled stream did not hold up the others.
  s.Notify(Add("grant.used", "cl_b"));
  ASSERT_TRUE(healthy->ReadUntil(HasIds(1)));
  EXPECT_EQ(Ids(healthy->Text()), (std::vector<int64_t>{3001}));
  // The stuck client finds its stream ended: what arrived is a prefix, then EOF (raw:
  // the last chunk it got is cut short).
  EXPECT_TRUE(stuck->ReadToEof(20000));
  auto ids = Ids(stuck->raw());
  ASSERT_FALSE(ids.empty());
  EXPECT_LT(ids.size(), 3000u);
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], static_cast<int64_t>(i + 1));
}

TEST_F(SseStreamerTest, ShutdownEndsEveryStreamWithAShutdownEventAndTheLastChunk) {
  http::SseStreamer s(*log_, 30, 64);
  auto a = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  auto b = Start(s, Req(rpc::Role::kAgent, std::string("cl_a"), std::nullopt));
  s.Shutdown("signal");
  for (auto* c : {a.get(), b.get()}) {
    EXPECT_TRUE(c->ReadToEof());
    bool last_chunk = false;
    bool framing_ok = false;
    EXPECT_EQ(c->Text(&last_chunk, &framing_ok), "event: shutdown\ndata: {\"reason\":\"signal\"}\n\n");
    EXPECT_TRUE(last_chunk);
    EXPECT_TRUE(framing_ok) << c->raw();
  }
  EXPECT_TRUE(WaitFor([&] { return s.Subscribers() == 0; }));
  // A stream adopted after the shutdown ends at once, the same way.
  auto late = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  EXPECT_TRUE(late->ReadToEof());
  EXPECT_EQ(late->Text(), "event: shutdown\ndata: {\"reason\":\"signal\"}\n\n");
  EXPECT_TRUE(WaitFor([&] { return s.Subscribers() == 0; }));
}

TEST_F(SseStreamerTest, DestroyingTheStreamerEndsItsStreams) {
  std::unique_ptr<Client> c;
  {
    http::SseStreamer s(*log_, 30, 64);
    c = Start(s, Req(rpc::Role::kAdmin, std::nullopt, std::nullopt));
  }
  EXPECT_TRUE(c->ReadToEof());
  EXPECT_EQ(c->Text(), "event: shutdown\ndata: {\"reason\":\"error\"}\n\n");
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
