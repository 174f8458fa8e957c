// A delivery to an approval channel given up for good (the Discord outbox's dead row):
// Engine::RecordApproverDeliveryFailed marks the request and audits it in one
// transaction (ASSENT-REQ-028, ASSENT-AUDIT-009), without a transition, an event or an
// outbox row.
#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

using json = nlohmann::json;
using CoreApproverDelivery = EngineFixture;

struct Tail {
  int64_t audit_seq = 0;
  int64_t last_event_id = 0;
  int64_t outbox_pending = 0;
  std::optional<store::AuditRow> last_audit;
};

Tail ReadTail(store::Store& store) {
  Tail t;
  EXPECT_TRUE(store
                  .WithReadTransaction([&](store::ReadTx& tx) -> Status {
                    t.audit_seq = tx.GetAuditHead()->seq;
                    t.last_event_id = tx.GetEventBounds()->last_assigned_id;
                    t.outbox_pending = *tx.CountOutbox("pending");
                    auto rows = *tx.ListAudit(std::max<int64_t>(0, t.audit_seq - 1), 1);
                    if (!rows.empty()) t.last_audit = rows.back();
                    return Status::Ok();
                  })
                  .ok());
  return t;
}

TEST_F(CoreApproverDelivery, MarksTheRequestAndAuditsItWithoutATransition) {
  EngineConfig config;
  config.outbox_enabled = true;  // as with a Discord approver: the mark queues nothing
  Open(config);
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->approver_delivery_failed.has_value());
  const Tail before = ReadTail(*store_);

  clock_.AdvanceMs(5000);
  auto marked = engine_->RecordApproverDeliveryFailed(r->request_id, 10);
  ASSERT_TRUE(marked.ok()) << marked.status().message();
  EXPECT_EQ(marked->state, "pending");
  EXPECT_GT(marked->revision, r->revision);
  ASSERT_TRUE(marked->approver_delivery_failed.has_value());
  EXPECT_EQ(marked->approver_delivery_failed->at, clock_.NowMs());
  EXPECT_EQ(marked->approver_delivery_failed->attempts, 10);

  // Visible to whoever may see the request: its originator included.
  auto got = engine_->GetRequest(AgentCaller(agent), r->request_id);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->approver_delivery_failed.has_value());
  EXPECT_EQ(got->approver_delivery_failed->attempts, 10);

  const Tail after = ReadTail(*store_);
  EXPECT_EQ(after.audit_seq, before.audit_seq + 1);
  EXPECT_EQ(after.last_event_id, before.last_event_id) << "no event for a mark";
  EXPECT_EQ(after.outbox_pending, before.outbox_pending) << "no outbox row for a mark";
  ASSERT_TRUE(after.last_audit.has_value());
  EXPECT_EQ(after.last_audit->action, "approver.delivery_failed");
  EXPECT_EQ(after.last_audit->outcome, "error");
  EXPECT_EQ(json::parse(after.last_audit->actor_json), (json{{"role", "system"}}));
  EXPECT_EQ(json::parse(after.last_audit->subject_json),
            (json{{"request_id", r->request_id}, {"count", 10}}));

  // The request goes on as before: it can still be approved, and keeps the mark.
  auto d = Approve("alice", r->request_id);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->request.state, "approved");
  ASSERT_TRUE(d->request.approver_delivery_failed.has_value());
}

TEST_F(CoreApproverDelivery, TheLatestFailureWinsOnAFinishedRequestToo) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(engine_->RecordApproverDeliveryFailed(r->request_id, 10).ok());
  ASSERT_TRUE(engine_->CancelRequest(AgentCaller(agent), r->request_id).ok());
  clock_.AdvanceMs(60'000);
  // The edit showing the cancellation failed too (here after one refused call).
  auto again = engine_->RecordApproverDeliveryFailed(r->request_id, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, "cancelled");
  EXPECT_EQ(again->approver_delivery_failed->at, clock_.NowMs());
  EXPECT_EQ(again->approver_delivery_failed->attempts, 1);
}

TEST_F(CoreApproverDelivery, AnUnknownRequestIsNotFoundAndNothingIsAudited) {
  const Tail before = ReadTail(*store_);
  auto r = engine_->RecordApproverDeliveryFailed("rq_" + std::string(32, 'a'), 3);
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ReadTail(*store_).audit_seq, before.audit_seq);
}

TEST_F(CoreApproverDelivery, WithoutItsAuditEntryTheRequestIsNotMarked) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  failing_->FailOnCall(1, "AppendAudit");
  auto marked = engine_->RecordApproverDeliveryFailed(r->request_id, 10);
  EXPECT_EQ(marked.status().code(), ErrorCode::kAuditUnavailable);
  auto got = engine_->GetRequest(AdminCaller(), r->request_id);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->approver_delivery_failed.has_value());
  EXPECT_EQ(got->revision, r->revision);
}

TEST_F(CoreApproverDelivery, TheChannelsStepCommitsWithTheMarkOrNotAtAll) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  const Tail before = ReadTail(*store_);
  // The channel's step fails: neither the mark nor the audit entry is committed.
  auto refused = engine_->RecordApproverDeliveryFailed(
      r->request_id, 2, [](store::Tx&) { return Status::Error(ErrorCode::kInternal, "x"); });
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(ReadTail(*store_).audit_seq, before.audit_seq);
  EXPECT_FALSE(engine_->GetRequest(AdminCaller(), r->request_id)->approver_delivery_failed);
  // The step succeeds: its write is in the same commit as the mark.
  auto marked = engine_->RecordApproverDeliveryFailed(r->request_id, 2, [](store::Tx& tx) {
    return tx.PutMeta("test.step", "done");
  });
  ASSERT_TRUE(marked.ok()) << marked.status().message();
  std::optional<std::string> step;
  ASSERT_TRUE(store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                      auto v = tx.GetMeta("test.step");
                      if (v.ok()) step = *v;
                      return v.status();
                    }).ok());
  EXPECT_EQ(step.value_or(""), "done");
  EXPECT_EQ(ReadTail(*store_).audit_seq, before.audit_seq + 1);
}

TEST_F(CoreApproverDelivery, AWaiterSeesTheMarkAndItSurvivesARestart) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  std::thread marker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(engine_->RecordApproverDeliveryFailed(r->request_id, 4).ok());
  });
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "pending", 20'000);
  marker.join();
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->changed);
  EXPECT_EQ(w->request.state, "pending");
  ASSERT_TRUE(w->request.approver_delivery_failed.has_value());

  Open();
  auto got = engine_->GetRequest(AgentCaller(agent), r->request_id);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->approver_delivery_failed.has_value());
  EXPECT_EQ(got->approver_delivery_failed->attempts, 4);
}

}  // namespace
}  // namespace assent::core::testing
