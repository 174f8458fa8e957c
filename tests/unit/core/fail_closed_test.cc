// Fail-closed audit (ASSENT-AUDIT-005): when the audit entry — or the commit that makes
// it durable — cannot be written, the call answers -32007 and nothing changes. And more
// generally: a store failure at ANY call of an action leaves the database exactly as it
// was, so no decision ever exists without its audit entry and event.
#include <functional>
#include <sstream>

#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

class CoreFailClosed : public EngineFixture {
 protected:
  // Everything an action could change, read straight from the store.
  std::string Snapshot() {
    std::ostringstream out;
    EXPECT_TRUE(store_
                    ->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                      store::RequestFilter rf;
                      rf.limit = 100000;
                      auto rs_ = tx.ListRequests(rf).value();
                      for (const auto& r : rs_) {
                        out << "R " << r.id << ' ' << r.state << ' ' << r.expires_at << ' '
                            << r.approvals << ' ' << r.revision << ' '
                            << r.grant_id.value_or("-") << '\n';
                        auto vs_ = tx.ListVotes(r.id).value();
                        for (const auto& v : vs_)
                          out << "V " << v.approver << ' ' << v.decision << '\n';
                      }
                      store::GrantFilter gf;
                      gf.limit = 100000;
                      auto gs_ = tx.ListGrants(gf).value();
                      for (const auto& g : gs_)
                        out << "G " << g.id << ' ' << g.state << ' ' << g.uses_json << '\n';
                      auto ss_ = tx.ListSecrets(100000).value();
                      for (const auto& s : ss_)
                        out << "S " << s.name << ' ' << s.version << ' ' << s.ciphertext.size()
                            << '\n';
                      auto head = *tx.GetAuditHead();
                      out << "A " << head.seq << ' ' << head.hash << '\n';
                      out << "E " << tx.GetEventBounds()->last_assigned_id << '\n';
                      out << "O " << *tx.CountOutbox("pending") << '\n';
                      return Status::Ok();
                    })
                    .ok());
    return out.str();
  }

  // Runs `action` with the store failing at call 1, 2, 3, … until a run completes
  // without the failure firing. Every failed run must change nothing, and must answer
  // -32007 exactly when the failure hit the audit entry or the commit.
  void FailEveryCallOf(const std::string& what, const std::function<Status()>& action) {
    for (int64_t n = 1; n < 500; ++n) {
      const std::string before = Snapshot();
      failing_->FailOnCall(n);
      Status st = action();
      const bool fired = failing_->fired();
      const std::string op = failing_->fired_op();
      failing_->Disarm();
      if (!fired) {
        EXPECT_TRUE(st.ok()) << what << ": " << st.message();
        return;
      }
      EXPECT_FALSE(st.ok()) << what << " succeeded although call " << n << " (" << op
                            << ") failed";
      EXPECT_EQ(Snapshot(), before) << what << " changed state although call " << n << " ("
                                    << op << ") failed";
      if (op == "AppendAudit" || op == "GetAuditHead" || op == "Commit") {
        EXPECT_EQ(st.code(), ErrorCode::kAuditUnavailable) << what << " at " << op;
      } else {
        EXPECT_EQ(st.code(), ErrorCode::kInternal) << what << " at " << op;
      }
    }
    ADD_FAILURE() << what << " never completed";
  }

  // Only the audit append fails: the answer is -32007 and nothing changes.
  void AuditDownRefuses(const std::string& what, const std::function<Status()>& action) {
    const std::string before = Snapshot();
    failing_->FailAlways("AppendAudit");
    Status st = action();
    failing_->Disarm();
    EXPECT_EQ(st.code(), ErrorCode::kAuditUnavailable) << what << ": " << st.message();
    EXPECT_EQ(Snapshot(), before) << what;
  }
};

TEST_F(CoreFailClosed, EveryActionIsRefusedWithNoChangeWhenTheAuditIsDown) {
  std::string agent = Hello();
  Put("N", "1", PolicyInput{.approval = Approval::kNever, .uses_per_grant = 5});
  Put("P", "2");
  auto granted = Ask(agent, {"N"});
  auto pending = Ask(agent, {"P"});
  ASSERT_TRUE(granted.ok() && pending.ok());
  const std::string g = *granted->grant_id;
  const std::string rq = pending->request_id;

  AuditDownRefuses("client.hello", [&] {
    return engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "x", {}, {}}).status();
  });
  AuditDownRefuses("secret.put", [&] {
    return engine_->PutSecret(AdminCaller(), PutSecretParams{.name = "Q", .value = "v"})
        .status();
  });
  AuditDownRefuses("secret.delete",
                   [&] { return engine_->DeleteSecret(AdminCaller(), "N").status(); });
  AuditDownRefuses("access.request", [&] { return Ask(agent, {"P"}).status(); });
  AuditDownRefuses("access.request (auto-approved)",
                   [&] { return Ask(agent, {"N"}).status(); });
  AuditDownRefuses("access.cancel",
                   [&] { return engine_->CancelRequest(AgentCaller(agent), rq).status(); });
  AuditDownRefuses("access.extend",
                   [&] { return engine_->ExtendRequest(AgentCaller(agent), rq, 10).status(); });
  AuditDownRefuses("access.decide approve", [&] { return Approve("alice", rq).status(); });
  AuditDownRefuses("access.decide deny", [&] {
    return engine_->Decide(ApproverCaller("bob"), DecideParams{.request_id = rq}).status();
  });
  AuditDownRefuses("secret.reveal", [&] { return RevealAs(agent, g, "N").status(); });
  AuditDownRefuses("grant.revoke",
                   [&] { return engine_->RevokeGrant(AdminCaller(), g).status(); });
  AuditDownRefuses("grant.revoke_all",
                   [&] { return engine_->RevokeAll(AdminCaller()).status(); });
  // Time-driven transitions are fail-closed too: the sweep is refused, not half-done.
  clock_.AdvanceMs(3600'000);
  AuditDownRefuses("sweep", [&] { return engine_->Sweep().status(); });
  // And everything still works once the audit log is back.
  EXPECT_TRUE(engine_->Sweep().ok());
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), rq)->state, "timed_out");
}

TEST_F(CoreFailClosed, AFailedCommitIsAuditUnavailable) {
  Put("P", "2");
  std::string agent = Hello();
  const std::string before = Snapshot();
  failing_->FailOnCall(1, "Commit");
  auto r = Ask(agent, {"P"});
  EXPECT_EQ(r.status().code(), ErrorCode::kAuditUnavailable);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(CoreFailClosed, AStoreFailureAtAnyCallOfAnyActionChangesNothing) {
  std::string agent;
  FailEveryCallOf("client.hello", [&] {
    auto r = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "x", {}, {}});
    if (r.ok()) agent = r->client_id;
    return r.status();
  });
  ASSERT_FALSE(agent.empty());
  FailEveryCallOf("secret.put", [&] {
    return engine_->PutSecret(AdminCaller(), PutSecretParams{.name = "P", .value = "v",
                                                             .policy = PolicyInput{
                                                                 .approvals_required = 2}})
        .status();
  });
  FailEveryCallOf("secret.put N", [&] {
    return engine_->PutSecret(AdminCaller(),
                              PutSecretParams{.name = "N", .value = "v",
                                              .policy = PolicyInput{.approval = Approval::kNever}})
        .status();
  });
  std::string rq, g;
  FailEveryCallOf("access.request", [&] {
    auto r = Ask(agent, {"P"});
    if (r.ok()) rq = r->request_id;
    return r.status();
  });
  FailEveryCallOf("access.request auto", [&] {
    auto r = Ask(agent, {"N"});
    if (r.ok()) g = *r->grant_id;
    return r.status();
  });
  FailEveryCallOf("access.extend",
                  [&] { return engine_->ExtendRequest(AgentCaller(agent), rq, 5).status(); });
  FailEveryCallOf("vote 1", [&] { return Approve("alice", rq).status(); });
  FailEveryCallOf("vote 2 (approves)", [&] { return Approve("bob", rq).status(); });
  FailEveryCallOf("reveal", [&] { return RevealAs(agent, g, "N").status(); });
  auto pending = Ask(agent, {"P"});
  FailEveryCallOf("access.cancel", [&] {
    return engine_->CancelRequest(AgentCaller(agent), pending->request_id).status();
  });
  ASSERT_TRUE(Ask(agent, {"P"}).ok());
  FailEveryCallOf("grant.revoke_all", [&] { return engine_->RevokeAll(AdminCaller()).status(); });
  ASSERT_TRUE(Ask(agent, {"P"}).ok());
  FailEveryCallOf("secret.delete",
                  [&] { return engine_->DeleteSecret(AdminCaller(), "P").status(); });
  ASSERT_TRUE(Ask(agent, {"N"}).ok());
  clock_.AdvanceMs(24 * 3600'000);
  FailEveryCallOf("sweep", [&] { return engine_->Sweep().status(); });
  auto verify = engine_->VerifyAudit();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok);
}

}  // namespace
}  // namespace assent::core::testing
