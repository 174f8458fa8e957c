#include "events/event_log.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "store/sqlite_store.h"

namespace assent::events {
namespace {

class EventsLog : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
  }

  int64_t Emit(const std::string& originator, TimeMs time = 0) {
    int64_t id = 0;
    EXPECT_TRUE(store_
                    ->WithTransaction([&](store::Tx& tx) -> Status {
                      auto r = tx.InsertEvent(store::EventRow{
                          0, time ? time : clock_.NowMs(), "request.created", originator,
                          "{\"n\":1}"});
                      if (!r.ok()) return r.status();
                      id = *r;
                      return Status::Ok();
                    })
                    .ok());
    return id;
  }

  std::vector<int64_t> Ids(const ReadBatch& b) {
    std::vector<int64_t> ids;
    for (const auto& e : b.events) ids.push_back(e.id);
    return ids;
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(EventsLog, ReadsEventsAfterAnIdInOrder) {
  for (int i = 0; i < 5; ++i) Emit("cl_a");
  EventLog log(*store_, clock_);
  auto b = log.ReadSince(2, ScopeAll(), 100);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->gap.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(b->next_after_id, 5);
  EXPECT_EQ(b->events[0].type, "request.created");
  EXPECT_EQ(b->events[0].data["n"], 1);
  auto limited = log.ReadSince(0, ScopeAll(), 2);
  EXPECT_EQ(Ids(*limited), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(limited->next_after_id, 2);
}

TEST_F(EventsLog, AnAgentScopeSeesOnlyItsOwnOriginator) {
  Emit("cl_a");
  Emit("cl_b");
  Emit("cl_a");
  EventLog log(*store_, clock_);
  EXPECT_EQ(Ids(*log.ReadSince(0, ScopeClient("cl_a"), 100)), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Ids(*log.ReadSince(0, ScopeClient("cl_b"), 100)), (std::vector<int64_t>{2}));
  EXPECT_TRUE(log.ReadSince(0, ScopeNothing(), 100)->events.empty());
  EXPECT_EQ(Ids(*log.ReadSince(0, ScopeAll(), 100)).size(), 3u);
}

TEST_F(EventsLog, AReplayFromPrunedHistoryStartsWithAGap) {
  RetentionConfig config;
  config.retention_count_max = 3;
  for (int i = 0; i < 10; ++i) Emit("cl_a");
  EventLog log(*store_, clock_, config);
  auto pruned = log.PruneOnce();
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 7);
  EXPECT_EQ(*log.OldestRetainedId(), 8);
  auto b = log.ReadSince(4, ScopeAll(), 100);
  ASSERT_TRUE(b->gap.has_value());
  EXPECT_EQ(b->gap->from_id, 5);
  EXPECT_EQ(b->gap->to_id, 7);
  EXPECT_EQ(Ids(*b), (std::vector<int64_t>{8, 9, 10}));
  // Exactly at the edge: nothing missing after 7.
  EXPECT_FALSE(log.ReadSince(7, ScopeAll(), 100)->gap.has_value());
  EXPECT_TRUE(log.ReadSince(6, ScopeAll(), 100)->gap.has_value());
}

TEST_F(EventsLog, RetentionKeepsTheSmallerOfAgeAndCountAndIsBoundedPerRun) {
  RetentionConfig config;
  config.retention_s = 60;
  config.retention_count_max = 100;
  config.prune_rows_max = 2;
  const TimeMs t0 = clock_.NowMs();
  for (int i = 0; i < 5; ++i) Emit("cl_a", t0 + i * 10'000);  // 0 s .. 40 s
  EventLog log(*store_, clock_, config);
  clock_.SetMs(t0 + 60'000 + 25'000);  // events older than 25 s are past retention
  EXPECT_EQ(*log.PruneOnce(), 2);        // bounded: 2 per run
  EXPECT_EQ(*log.PruneOnce(), 1);
  EXPECT_EQ(*log.PruneOnce(), 0);
  EXPECT_EQ(*log.OldestRetainedId(), 4);
  EXPECT_EQ(*log.LastId(), 5);
}

// Fuzz: sse-hole-after-clock-step. After the wall clock stepped back, event 3 carries
// an older time than event 2; pruning by time alone deleted 1 and 3 and kept 2, so a
// replay from 0 showed gap 1..1, then 2, and silently skipped 3. Pruning deletes a
// prefix of ids: 3 stays while 2 (younger) does.
TEST_F(EventsLog, AClockStepBackNeverPrunesAHole) {
  RetentionConfig config;
  config.retention_s = 60;
  const TimeMs t0 = clock_.NowMs();
  Emit("cl_a", t0);            // 1: old
  Emit("cl_a", t0 + 100'000);  // 2: young
  Emit("cl_a", t0 + 1);        // 3: the clock stepped back: old again
  Emit("cl_a", t0 + 110'000);  // 4: young
  EventLog log(*store_, clock_, config);
  clock_.SetMs(t0 + 120'000);  // older than 60 s: before t0 + 60 s
  EXPECT_EQ(*log.PruneOnce(), 1);
  EXPECT_EQ(*log.PruneOnce(), 0);
  EXPECT_EQ(*log.OldestRetainedId(), 2);
  auto b = log.ReadSince(0, ScopeAll(), 10);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->gap.has_value());
  EXPECT_EQ(b->gap->from_id, 1);
  EXPECT_EQ(b->gap->to_id, 1);
  EXPECT_EQ(Ids(*b), (std::vector<int64_t>{2, 3, 4}));
  // Once 2 is old too, 2 and 3 go together; 4 stays.
  clock_.SetMs(t0 + 165'000);
  EXPECT_EQ(*log.PruneOnce(), 2);
  EXPECT_EQ(*log.OldestRetainedId(), 4);
}

TEST_F(EventsLog, AnEmptyLogStillKnowsWhatWasPruned) {
  RetentionConfig config;
  config.retention_count_max = 0;
  for (int i = 0; i < 3; ++i) Emit("cl_a");
  EventLog log(*store_, clock_, config);
  EXPECT_EQ(*log.PruneOnce(), 3);
  EXPECT_EQ(*log.OldestRetainedId(), 4);
  auto b = log.ReadSince(0, ScopeClient("cl_a"), 10);
  ASSERT_TRUE(b->gap.has_value());
  EXPECT_EQ(b->gap->from_id, 1);
  EXPECT_EQ(b->gap->to_id, 3);
  EXPECT_TRUE(b->events.empty());
  EXPECT_EQ(b->next_after_id, 3);
  EXPECT_FALSE(log.ReadSince(3, ScopeAll(), 10)->gap.has_value());
}

// ASSENT-EVT-005/006/007/008 as a property: for any history (with the wall clock
// stepping forward and back between events), any pruning by age and count, any `since`
// and any scope, pruning removes a prefix of ids that keeps every young-and-recent
// event, and paging through ReadSince yields exactly the visible events after `since`,
// in order, once each, preceded by a gap exactly when something after `since` was
// pruned.
RC_GTEST_PROP(EventsReplay, YieldsExactlyTheVisibleSuffix, ()) {
  auto opened = store::SqliteStore::Open(":memory:");
  RC_ASSERT(opened.ok());
  auto store = std::move(opened).value();
  FakeClock clock;
  const auto originators = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
  std::vector<std::string> owner;  // owner[id - 1]
  std::vector<TimeMs> times;  // times[id - 1]
  for (int o : originators) {
    // The clock steps forward or back by up to 30 s before each event.
    clock.AdvanceMs(*rc::gen::inRange<int64_t>(-30'000, 30'001));
    times.push_back(clock.NowMs());
    const std::string name = "cl_" + std::to_string(o);
    RC_ASSERT(store
                  ->WithTransaction([&](store::Tx& tx) {
                    return tx.InsertEvent(store::EventRow{0, clock.NowMs(), "grant.used", name, "{}"})
                        .status();
                  })
                  .ok());
    owner.push_back(name);
  }
  const int64_t total = static_cast<int64_t>(owner.size());
  RetentionConfig config;
  config.retention_count_max = *rc::gen::inRange<int64_t>(0, total + 2);
  config.prune_rows_max = *rc::gen::inRange<int64_t>(1, 5);
  config.retention_s = *rc::gen::inRange<int64_t>(1, 90);
  clock.AdvanceMs(*rc::gen::inRange<int64_t>(-30'000, 60'001));
  const TimeMs older_than = clock.NowMs() - config.retention_s * 1000;
  EventLog log(*store, clock, config);
  int64_t runs = 0;
  for (;;) {
    auto n = log.PruneOnce();
    RC_ASSERT(n.ok());
    RC_ASSERT(*n <= config.prune_rows_max);
    if (*n == 0) break;
    RC_ASSERT(++runs <= total);
  }
  // Everything up to the count bound goes, and after it everything before the first
  // young event; what is left is a suffix of ids holding every young-and-recent event.
  int64_t pruned_to = std::max<int64_t>(0, total - config.retention_count_max);
  while (pruned_to < total && times[pruned_to] < older_than) ++pruned_to;
  RC_ASSERT(*log.OldestRetainedId() == pruned_to + 1);
  for (int64_t id = 1; id <= total; ++id)
    if (times[id - 1] >= older_than && id > total - config.retention_count_max)
      RC_ASSERT(id > pruned_to);

  const int64_t since = *rc::gen::inRange<int64_t>(0, total + 2);
  const int who = *rc::gen::inRange(-1, 3);  // -1: all
  const auto scope = who < 0 ? ScopeAll() : ScopeClient("cl_" + std::to_string(who));
  const int64_t page = *rc::gen::inRange<int64_t>(1, 4);

  std::vector<int64_t> got;
  int64_t after = since;
  bool first = true;
  for (;;) {
    auto b = log.ReadSince(after, scope, page);
    RC_ASSERT(b.ok());
    if (first) {
      const bool expect_gap = since < pruned_to;
      RC_ASSERT(b->gap.has_value() == expect_gap);
      if (expect_gap) {
        RC_ASSERT(b->gap->from_id == since + 1);
        RC_ASSERT(b->gap->to_id == pruned_to);
      }
      first = false;
    } else {
      RC_ASSERT(!b->gap.has_value());
    }
    for (const auto& e : b->events) got.push_back(e.id);
    if (b->next_after_id == after) break;
    after = b->next_after_id;
  }
  std::vector<int64_t> expected;
  for (int64_t id = std::max(since, pruned_to) + 1; id <= total; ++id)
    if (who < 0 || owner[id - 1] == "cl_" + std::to_string(who)) expected.push_back(id);
  RC_ASSERT(got == expected);
}

}  // namespace
}  // namespace assent::events
