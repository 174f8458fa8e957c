// Grants (expiry, revoke, revoke_all, sweep) and sealed reveal.
#include <atomic>
#include <thread>

#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

using CoreGrants = EngineFixture;
using CoreReveal = EngineFixture;

PolicyInput NeverWithUses(int64_t uses) {
  PolicyInput p;
  p.approval = Approval::kNever;
  p.uses_per_grant = uses;
  return p;
}

void ExpectForbidden(const Status& st, const std::string& reason) {
  EXPECT_EQ(st.code(), ErrorCode::kForbidden) << st.message();
  EXPECT_EQ(st.data().value("reason", ""), reason);
}

void ExpectExpired(const Status& st, const std::string& grant_id, const std::string& state) {
  EXPECT_EQ(st.code(), ErrorCode::kExpired) << st.message();
  EXPECT_EQ(st.data(), (nlohmann::json{{"grant_id", grant_id}, {"state", state}}));
}

// ---- Grants ----

TEST_F(CoreGrants, AnApprovalIssuesOneGrantBoundToTheOriginator) {
  std::string agent = Hello();
  PolicyInput p;
  p.uses_per_grant = 3;
  Put("A", "1", p);
  Put("B", "2", p);
  auto r = Ask(agent, {"A", "B"}, CreateRequestParams{.ttl_s = 120});
  clock_.AdvanceMs(10'000);
  auto d = Approve("alice", r->request_id);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->grant.has_value());
  const GrantView& g = *d->grant;
  EXPECT_EQ(g.originator_client_id, agent);
  EXPECT_EQ(g.request_id, r->request_id);
  EXPECT_EQ(g.secrets, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(g.state, "live");
  EXPECT_EQ(g.expires_at, clock_.NowMs() + 120'000);  // decision time + ttl
  EXPECT_EQ(g.uses_total, 6);
  EXPECT_EQ(g.uses_left, 6);
  EXPECT_FALSE(g.command_bound);
}

TEST_F(CoreGrants, AGrantExpiresAtItsDeadlineForEveryMethodWithoutASweeper) {
  std::string agent = Hello();
  Put("A", "1", NeverWithUses(5));
  auto r = Ask(agent, {"A"}, CreateRequestParams{.ttl_s = 60});
  const std::string grant = *r->grant_id;
  clock_.AdvanceMs(59'999);
  EXPECT_TRUE(RevealAs(agent, grant, "A").ok());
  clock_.AdvanceMs(1);
  ExpectExpired(RevealAs(agent, grant, "A").status(), grant, "expired");
  auto list = engine_->ListGrants(AdminCaller(), {});
  EXPECT_EQ(list->at(0).state, "expired");
  EXPECT_EQ(engine_->RevokeGrant(AdminCaller(), grant).status().code(),
            ErrorCode::kInvalidState);
}

TEST_F(CoreGrants, RevokeByOriginatorApproverOrAdminButNotAnotherAgent) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "1", NeverWithUses(1));
  std::vector<std::string> grants;
  for (int i = 0; i < 3; ++i) grants.push_back(*Ask(agent, {"A"})->grant_id);
  ExpectForbidden(engine_->RevokeGrant(AgentCaller(other), grants[0]).status(),
                  "not_originator");
  ExpectForbidden(engine_->RevokeGrant(AgentCaller(std::nullopt), grants[0]).status(),
                  "client_identity_required");
  EXPECT_EQ(engine_->RevokeGrant(AgentCaller(agent), grants[0])->state, "revoked");
  EXPECT_EQ(engine_->RevokeGrant(ApproverCaller("ap"), grants[1])->state, "revoked");
  EXPECT_EQ(engine_->RevokeGrant(AdminCaller(), grants[2])->state, "revoked");
  auto again = engine_->RevokeGrant(AdminCaller(), grants[2]);
  EXPECT_EQ(again.status().code(), ErrorCode::kInvalidState);
  EXPECT_EQ(again.status().data(),
            (nlohmann::json{{"kind", "grant"}, {"id", grants[2]}, {"state", "revoked"}}));
  EXPECT_EQ(engine_->RevokeGrant(AdminCaller(), "gr_" + std::string(32, '1')).status().code(),
            ErrorCode::kNotFound);
  ExpectExpired(RevealAs(agent, grants[0], "A").status(), grants[0], "revoked");
}

TEST_F(CoreGrants, RevokeAllEndsEveryLiveGrantAndPendingRequest) {
  std::string a = Hello();
  std::string b = Hello();
  Put("N", "1", NeverWithUses(1));
  Put("P", "2");
  ASSERT_TRUE(Ask(a, {"N"}).ok());
  ASSERT_TRUE(Ask(b, {"N"}).ok());
  auto spent = Ask(a, {"N"});
  ASSERT_TRUE(RevealAs(a, *spent->grant_id, "N").ok());  // exhausted: not counted
  ASSERT_TRUE(Ask(a, {"P"}).ok());
  auto decided = Ask(b, {"P"});
  ASSERT_TRUE(engine_->CancelRequest(AgentCaller(b), decided->request_id).ok());
  auto r = engine_->RevokeAll(AdminCaller());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revoked_grants, 2);
  EXPECT_EQ(r->cancelled_requests, 1);
  EXPECT_TRUE(engine_->ListGrants(AdminCaller(), ListGrantsParams{.state = "live"})->empty());
  EXPECT_TRUE(engine_->ListRequests(AdminCaller(), ListRequestsParams{.state = "pending"})
                  ->requests.empty());
}

TEST_F(CoreGrants, ListShowsAgentsTheirOwnNewestFirstWithFilters) {
  std::string a = Hello();
  std::string b = Hello();
  Put("N", "1", NeverWithUses(1));
  auto first = Ask(a, {"N"});
  auto second = Ask(a, {"N"});
  ASSERT_TRUE(Ask(b, {"N"}).ok());
  auto mine = engine_->ListGrants(AgentCaller(a), {});
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].grant_id, *second->grant_id);
  EXPECT_EQ((*mine)[1].grant_id, *first->grant_id);
  EXPECT_EQ(engine_->ListGrants(AdminCaller(), {})->size(), 3u);
  EXPECT_TRUE(engine_->ListGrants(AgentCaller(std::nullopt), {})->empty());
  auto by_request =
      engine_->ListGrants(AdminCaller(), ListGrantsParams{.request_id = first->request_id});
  ASSERT_EQ(by_request->size(), 1u);
  EXPECT_EQ((*by_request)[0].grant_id, *first->grant_id);
}

TEST_F(CoreGrants, SweepMakesDueTransitionsAndReportsTheNextDeadline) {
  std::string agent = Hello();
  Put("N", "1", NeverWithUses(1));
  Put("P", "2");
  EXPECT_FALSE(engine_->NextDeadline().has_value());
  const TimeMs t0 = clock_.NowMs();
  ASSERT_TRUE(Ask(agent, {"N"}, CreateRequestParams{.ttl_s = 30}).ok());
  ASSERT_TRUE(Ask(agent, {"P"}, CreateRequestParams{.timeout_s = 60}).ok());
  EXPECT_EQ(engine_->NextDeadline(), t0 + 30'000);
  clock_.AdvanceMs(30'000);
  auto s = engine_->Sweep();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->expired_grants, 1);
  EXPECT_EQ(s->timed_out_requests, 0);
  EXPECT_EQ(engine_->NextDeadline(), t0 + 60'000);
  clock_.AdvanceMs(30'000);
  s = engine_->Sweep();
  EXPECT_EQ(s->timed_out_requests, 1);
  EXPECT_FALSE(engine_->NextDeadline().has_value());
}

TEST_F(CoreGrants, SubscribersHearTheLastEventIdAfterEachCommit) {
  std::vector<int64_t> heard;
  int64_t sub = engine_->Subscribe([&](int64_t id) { heard.push_back(id); });
  std::string agent = Hello();  // no event
  Put("N", "1", NeverWithUses(1));  // no event
  EXPECT_TRUE(heard.empty());
  ASSERT_TRUE(Ask(agent, {"N"}).ok());  // created + approved
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], 2);
  engine_->Unsubscribe(sub);
  ASSERT_TRUE(Ask(agent, {"N"}).ok());
  EXPECT_EQ(heard.size(), 1u);
}

TEST_F(CoreGrants, TheOutboxHookWritesRowsOnlyWhenEnabled) {
  std::string agent = Hello();
  Put("P", "2");
  ASSERT_TRUE(Ask(agent, {"P"}).ok());
  EXPECT_EQ(Count("outbox"), 0);
  EngineConfig config;
  config.outbox_enabled = true;
  Open(config);
  auto r = Ask(agent, {"P"});
  EXPECT_EQ(Count("outbox"), 1);
  ASSERT_TRUE(Approve("alice", r->request_id).ok());
  EXPECT_EQ(Count("outbox"), 2);
}

// ---- Reveal ----

TEST_F(CoreReveal, RevealSealsTheValueToTheRecipientAndSpendsAUse) {
  std::string agent = Hello();
  Put("A", "s3cr3t", NeverWithUses(2));
  auto r = Ask(agent, {"A"});
  auto v = RevealAs(agent, *r->grant_id, "A");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->name, "A");
  EXPECT_EQ(v->uses_left, 1);
  EXPECT_EQ(v->sealed_value.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(Open(*v), "s3cr3t");
  auto last = RevealAs(agent, *r->grant_id, "A");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->uses_left, 0);
  EXPECT_EQ(engine_->ListGrants(AdminCaller(), {})->at(0).state, "exhausted");
  ExpectExpired(RevealAs(agent, *r->grant_id, "A").status(), *r->grant_id, "exhausted");
}

TEST_F(CoreReveal, UsesCountPerSecret) {
  std::string agent = Hello();
  Put("A", "a", NeverWithUses(1));
  Put("B", "b", NeverWithUses(1));
  auto r = Ask(agent, {"A", "B"});
  const std::string g = *r->grant_id;
  ASSERT_TRUE(RevealAs(agent, g, "A").ok());
  ExpectExpired(RevealAs(agent, g, "A").status(), g, "exhausted");
  auto b = RevealAs(agent, g, "B");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->uses_left, 0);
  EXPECT_EQ(Open(*b), "b");
}

TEST_F(CoreReveal, OnlyTheOriginatorRevealsNamesInTheGrant) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "a", NeverWithUses(5));
  Put("B", "b", NeverWithUses(5));
  auto r = Ask(agent, {"A"});
  const std::string g = *r->grant_id;
  ExpectForbidden(RevealAs(other, g, "A").status(), "not_originator");
  ExpectForbidden(engine_->Reveal(AgentCaller(std::nullopt), RevealParams{g, "A", keys_.public_key, {}})
                      .status(),
                  "client_identity_required");
  ExpectForbidden(RevealAs(agent, g, "B").status(), "not_in_grant");
  EXPECT_EQ(RevealAs(agent, "gr_" + std::string(32, '2'), "A").status().code(),
            ErrorCode::kNotFound);
  auto bad_key = engine_->Reveal(AgentCaller(agent), RevealParams{g, "A", "short", {}});
  EXPECT_EQ(bad_key.status().code(), ErrorCode::kInvalidParams);
  // None of the refusals spent a use.
  EXPECT_EQ(engine_->ListGrants(AdminCaller(), {})->at(0).uses_left, 5);
}

TEST_F(CoreReveal, ABoundGrantRevealsOnlyForTheIdenticalCommand) {
  std::string agent = Hello();
  PolicyInput p = NeverWithUses(5);
  p.bind_command = true;
  Put("DEPLOY", "k", p);
  const Command cmd{{"make", "deploy"}, "/src"};
  auto r = Ask(agent, {"DEPLOY"}, CreateRequestParams{.command = cmd});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::string g = *r->grant_id;
  EXPECT_TRUE(engine_->ListGrants(AdminCaller(), {})->at(0).command_bound);
  ExpectForbidden(RevealAs(agent, g, "DEPLOY").status(), "command_mismatch");
  ExpectForbidden(RevealAs(agent, g, "DEPLOY", Command{{"make", "deploy"}, "/tmp"}).status(),
                  "command_mismatch");
  ExpectForbidden(RevealAs(agent, g, "DEPLOY", Command{{"make deploy"}, "/src"}).status(),
                  "command_mismatch");
  ExpectForbidden(RevealAs(agent, g, "DEPLOY", Command{{"make", "deploy", ""}, "/src"}).status(),
                  "command_mismatch");
  auto ok = RevealAs(agent, g, "DEPLOY", cmd);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(Open(*ok), "k");
}

TEST_F(CoreReveal, ConcurrentRevealsOfASingleUseGrantLetExactlyOneSucceed) {
  std::string agent = Hello();
  Put("A", "once", NeverWithUses(1));
  for (int round = 0; round < 5; ++round) {
    auto r = Ask(agent, {"A"});
    ASSERT_TRUE(r.ok());
    constexpr int kThreads = 8;
    std::atomic<int> ok{0}, expired{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        auto v = RevealAs(agent, *r->grant_id, "A");
        if (v.ok()) ++ok;
        else if (v.status().code() == ErrorCode::kExpired) ++expired;
        else ++other;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(expired.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
  }
}

TEST_F(CoreReveal, RefusalsOnARealGrantAreAudited) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "a", NeverWithUses(1));
  auto r = Ask(agent, {"A"});
  const int64_t before = Count("audit");
  ExpectForbidden(RevealAs(other, *r->grant_id, "A").status(), "not_originator");
  EXPECT_EQ(Count("audit"), before + 1);
  std::string outcome;
  ASSERT_TRUE(store_->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                     auto rows = *tx.ListAudit(before, 10);
                     outcome = rows.at(0).action + "/" + rows.at(0).outcome;
                     return Status::Ok();
                   }).ok());
  EXPECT_EQ(outcome, "grant.reveal/refused");
}

}  // namespace
}  // namespace assent::core::testing
