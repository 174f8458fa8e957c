// Access requests: creation rules, idempotency, visibility, paging, cancel, extend,
// decisions (quorum, self-approval, deny), timeouts and long-polling.
#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

using CoreRequests = EngineFixture;
using CoreDecide = EngineFixture;
using CoreWait = EngineFixture;

PolicyInput Never() {
  PolicyInput p;
  p.approval = Approval::kNever;
  return p;
}

PolicyInput Quorum(int64_t n) {
  PolicyInput p;
  p.approvals_required = n;
  return p;
}

void ExpectForbidden(const Status& st, const std::string& reason) {
  EXPECT_EQ(st.code(), ErrorCode::kForbidden) << st.message();
  EXPECT_EQ(st.data().value("reason", ""), reason);
}

void ExpectLimit(const Status& st, const std::string& limit, int64_t max) {
  EXPECT_EQ(st.code(), ErrorCode::kLimitExceeded) << st.message();
  EXPECT_EQ(st.data(), (nlohmann::json{{"limit", limit}, {"max", max}}));
}

// ---- Creation ----

TEST_F(CoreRequests, ARequestReturnsAtOncePendingWithItsEffectiveTerms) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(std::regex_match(r->request_id, std::regex("^rq_[0-9a-f]{32}$")));
  EXPECT_EQ(r->state, "pending");
  EXPECT_EQ(r->ttl_s, 300);
  EXPECT_EQ(r->mode, "interactive");
  EXPECT_EQ(r->approvals_required, 1);
  EXPECT_EQ(r->expires_at, r->created_at + 1800 * 1000);
  EXPECT_EQ(r->originator.client_id, agent);
  EXPECT_FALSE(r->grant_id.has_value());
}

TEST_F(CoreRequests, WithoutAClientIdentityARequestIsForbidden) {
  Put("A", "1");
  auto r = engine_->CreateRequest(AgentCaller(std::nullopt),
                                  CreateRequestParams{.secrets = {"A"}, .reason = "x"});
  ExpectForbidden(r.status(), "client_identity_required");
}

TEST_F(CoreRequests, AnUnknownSecretIsNotFound) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A", "NOPE"});
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.status().data(), (nlohmann::json{{"kind", "secret"}, {"id", "NOPE"}}));
}

TEST_F(CoreRequests, ASecretNamedTwiceIsInvalidParams) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A", "A"});
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParams);
  EXPECT_EQ(r.status().data()["instance_path"], "/secrets/1");
}

TEST_F(CoreRequests, AForbiddenPolicyRefusesAndCreatesNothing) {
  std::string agent = Hello();
  PolicyInput forbidden;
  forbidden.approval = Approval::kForbidden;
  Put("ROOT", "1", forbidden);
  Put("A", "2", Never());
  ExpectForbidden(Ask(agent, {"A", "ROOT"}).status(), "policy_forbidden");
  EXPECT_TRUE(engine_->ListRequests(AdminCaller(), {})->requests.empty());
}

TEST_F(CoreRequests, AClientKindThePolicyDoesNotAdmitIsForbidden) {
  std::string script = Hello("script", "cron");
  PolicyInput agents_only;
  agents_only.client_kinds = std::vector<std::string>{"agent", "cli"};
  Put("A", "1", agents_only);
  ExpectForbidden(Ask(script, {"A"}).status(), "client_kind_not_allowed");
  std::string cli = Hello("cli", "me");
  EXPECT_TRUE(Ask(cli, {"A"}).ok());
}

TEST_F(CoreRequests, ABindingPolicyNeedsACommand) {
  std::string agent = Hello();
  PolicyInput bind;
  bind.bind_command = true;
  Put("DEPLOY", "1", bind);
  auto r = Ask(agent, {"DEPLOY"});
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParams);
  EXPECT_EQ(r.status().data()["instance_path"], "/command");
  auto ok = Ask(agent, {"DEPLOY"},
                CreateRequestParams{.command = Command{{"make", "deploy"}, "/src"}});
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->command.has_value());
  EXPECT_EQ(ok->command->argv, (std::vector<std::string>{"make", "deploy"}));
}

TEST_F(CoreRequests, TheEffectivePolicyIsTheStrictestOfTheSecrets) {
  std::string agent = Hello();
  PolicyInput a;
  a.ttl_s_default = 100;
  a.ttl_s_max = 1000;
  a.approvals_required = 1;
  a.uses_per_grant = 3;
  PolicyInput b;
  b.ttl_s_default = 200;
  b.ttl_s_max = 500;
  b.approvals_required = 3;
  b.uses_per_grant = 2;
  Put("A", "1", a);
  Put("B", "2", b);
  auto r = Ask(agent, {"A", "B"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ttl_s, 100);
  EXPECT_EQ(r->approvals_required, 3);
  ExpectLimit(Ask(agent, {"A", "B"}, CreateRequestParams{.ttl_s = 501}).status(),
              "policy.ttl_s_max", 500);
  EXPECT_TRUE(Ask(agent, {"A", "B"}, CreateRequestParams{.ttl_s = 500}).ok());
}

TEST_F(CoreRequests, ATimeoutAboveTheModesDefaultIsALimit) {
  std::string agent = Hello();
  Put("A", "1");
  ExpectLimit(Ask(agent, {"A"}, CreateRequestParams{.timeout_s = 1801}).status(),
              "timeout_interactive_s_default", 1800);
  EXPECT_TRUE(Ask(agent, {"A"}, CreateRequestParams{.timeout_s = 1800}).ok());
  ExpectLimit(
      Ask(agent, {"A"}, CreateRequestParams{.mode = "unattended", .timeout_s = 301}).status(),
      "timeout_unattended_s_default", 300);
  auto r = Ask(agent, {"A"}, CreateRequestParams{.mode = "unattended"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expires_at - r->created_at, 300 * 1000);
}

TEST_F(CoreRequests, SixteenPendingRequestsAreAllowedAndTheSeventeenthIsALimit) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "1");
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(Ask(agent, {"A"}).ok()) << i;
  ExpectLimit(Ask(agent, {"A"}).status(), "pending_requests_per_client_max", 16);
  EXPECT_TRUE(Ask(other, {"A"}).ok());  // per client
  // A finished request frees its slot.
  auto list = engine_->ListRequests(AgentCaller(agent), {});
  ASSERT_TRUE(engine_->CancelRequest(AgentCaller(agent), list->requests[0].request_id).ok());
  EXPECT_TRUE(Ask(agent, {"A"}).ok());
}

TEST_F(CoreRequests, RepeatingAClientRequestIdWithTheSameContentReturnsTheSameRequest) {
  std::string agent = Hello();
  Put("A", "1");
  Put("B", "2");
  CreateRequestParams p{.reason = "release", .client_request_id = "rel-1"};
  auto first = Ask(agent, {"A", "B"}, p);
  ASSERT_TRUE(first.ok());
  auto again = Ask(agent, {"B", "A"}, p);  // secrets compare as a set
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->request_id, first->request_id);
  EXPECT_EQ(engine_->ListRequests(AdminCaller(), {})->requests.size(), 1u);
  // Whatever its state, and without counting against the pending limit.
  ASSERT_TRUE(Approve("ap-1", first->request_id).ok());
  auto after = Ask(agent, {"A", "B"}, p);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, "approved");
}

TEST_F(CoreRequests, RepeatingAClientRequestIdWithOtherContentIsAConflict) {
  std::string agent = Hello();
  Put("A", "1");
  auto first = Ask(agent, {"A"}, CreateRequestParams{.reason = "one", .client_request_id = "k"});
  ASSERT_TRUE(first.ok());
  auto other = Ask(agent, {"A"}, CreateRequestParams{.reason = "two", .client_request_id = "k"});
  EXPECT_EQ(other.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(other.status().data(),
            (nlohmann::json{{"client_request_id", "k"}, {"request_id", first->request_id}}));
  // The key is per originator: another client may use it freely.
  std::string second = Hello();
  EXPECT_TRUE(
      Ask(second, {"A"}, CreateRequestParams{.reason = "two", .client_request_id = "k"}).ok());
}

TEST_F(CoreRequests, ANeverPolicyIsApprovedAtOnceWithItsGrant) {
  std::string agent = Hello();
  Put("A", "1", Never());
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, "approved");
  ASSERT_TRUE(r->grant_id.has_value());
  EXPECT_TRUE(r->decided_at.has_value());
  auto grants = engine_->ListGrants(AgentCaller(agent), {});
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].grant_id, *r->grant_id);
  EXPECT_EQ((*grants)[0].expires_at, (*grants)[0].created_at + 300 * 1000);
}

TEST_F(CoreRequests, APolicyApprovalHasNoVotesAndIsDecidedAtCreation) {
  // ASSENT-REQ-027: no human voted, so the request and its request.approved event both
  // say 0 approvals, and the decision is the creation itself.
  std::string agent = Hello();
  Put("A", "1", Never());
  clock_.AdvanceMs(1234);
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->state, "approved");
  EXPECT_EQ(r->approvals, 0);
  ASSERT_TRUE(r->decided_at.has_value());
  EXPECT_EQ(*r->decided_at, r->created_at);
  auto got = engine_->GetRequest(AgentCaller(agent), r->request_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->approvals, 0);

  std::vector<store::EventRow> events;
  std::vector<store::AuditRow> audit;
  ASSERT_TRUE(store_
                  ->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                    events = *tx.ReadEvents(0, store::EventScope{true, ""}, 100);
                    audit = *tx.ListAudit(0, 100);
                    return Status::Ok();
                  })
                  .ok());
  std::vector<std::string> types;
  for (const auto& e : events) {
    types.push_back(e.type);
    if (e.type != "request.approved") continue;
    auto data = nlohmann::json::parse(e.data_json);
    EXPECT_EQ(data["approvals"], 0) << e.data_json;
    EXPECT_EQ(data["decided_at"], FormatTimeMs(r->created_at)) << e.data_json;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"request.created", "request.approved"}));
  bool audited = false;
  for (const auto& a : audit) {
    if (a.action != "request.approve") continue;
    audited = true;
    EXPECT_EQ(nlohmann::json::parse(a.actor_json), (nlohmann::json{{"role", "system"}}));
    EXPECT_EQ(nlohmann::json::parse(a.subject_json)["count"], 0) << a.subject_json;
  }
  EXPECT_TRUE(audited);
}

// ---- Visibility and listing ----

TEST_F(CoreRequests, GetShowsARequestToItsOriginatorApproversAndAdminsOnly) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(engine_->GetRequest(AgentCaller(agent), r->request_id).ok());
  EXPECT_TRUE(engine_->GetRequest(ApproverCaller("ap"), r->request_id).ok());
  EXPECT_TRUE(engine_->GetRequest(AdminCaller(), r->request_id).ok());
  ExpectForbidden(engine_->GetRequest(AgentCaller(other), r->request_id).status(),
                  "not_originator");
  ExpectForbidden(engine_->GetRequest(AgentCaller(std::nullopt), r->request_id).status(),
                  "client_identity_required");
  auto missing = engine_->GetRequest(AdminCaller(), "rq_" + std::string(32, '0'));
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
}

TEST_F(CoreRequests, ListShowsAgentsTheirOwnOldestFirstAndPages) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "1");
  std::vector<std::string> mine;
  for (int i = 0; i < 5; ++i) {
    mine.push_back(Ask(agent, {"A"})->request_id);
    ASSERT_TRUE(Ask(other, {"A"}).ok());
  }
  auto page1 = engine_->ListRequests(AgentCaller(agent), ListRequestsParams{.limit = 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->requests.size(), 2u);
  EXPECT_EQ(page1->requests[0].request_id, mine[0]);
  EXPECT_EQ(page1->next_after, mine[1]);
  auto page3 = engine_->ListRequests(AgentCaller(agent),
                                     ListRequestsParams{.limit = 2, .after = mine[3]});
  ASSERT_EQ(page3->requests.size(), 1u);
  EXPECT_EQ(page3->requests[0].request_id, mine[4]);
  EXPECT_FALSE(page3->next_after.has_value());
  EXPECT_EQ(engine_->ListRequests(AdminCaller(), {})->requests.size(), 10u);
  EXPECT_TRUE(engine_->ListRequests(AgentCaller(std::nullopt), {})->requests.empty());
  // A cursor the caller cannot see is unknown to it.
  auto others = engine_->ListRequests(AgentCaller(other), {});
  auto bad = engine_->ListRequests(
      AgentCaller(agent), ListRequestsParams{.after = others->requests[0].request_id});
  EXPECT_EQ(bad.status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(engine_->CancelRequest(AgentCaller(agent), mine[2]).ok());
  auto cancelled =
      engine_->ListRequests(AdminCaller(), ListRequestsParams{.state = "cancelled"});
  ASSERT_EQ(cancelled->requests.size(), 1u);
  EXPECT_EQ(cancelled->requests[0].request_id, mine[2]);
}

// ---- Cancel and extend ----

TEST_F(CoreRequests, OnlyTheOriginatorCancelsAndOnlyWhilePending) {
  std::string agent = Hello();
  std::string other = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  ExpectForbidden(engine_->CancelRequest(AgentCaller(other), r->request_id).status(),
                  "not_originator");
  auto c = engine_->CancelRequest(AgentCaller(agent), r->request_id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, "cancelled");
  auto again = engine_->CancelRequest(AgentCaller(agent), r->request_id);
  EXPECT_EQ(again.status().code(), ErrorCode::kInvalidState);
  EXPECT_EQ(again.status().data(),
            (nlohmann::json{{"kind", "request"}, {"id", r->request_id}, {"state", "cancelled"}}));
}

TEST_F(CoreRequests, ExtendAddsSecondsUpToTheWholeWindowBound) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});  // 1800 s window
  auto e = engine_->ExtendRequest(AgentCaller(agent), r->request_id, 600);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->expires_at, r->expires_at + 600 * 1000);
  // 1800 + 600 + 84000 = 86400 exactly: allowed. One more second is not.
  ExpectLimit(engine_->ExtendRequest(AgentCaller(agent), r->request_id, 84001).status(),
              "timeout_s_max", 86400);
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), r->request_id)->expires_at, e->expires_at);
  EXPECT_TRUE(engine_->ExtendRequest(AgentCaller(agent), r->request_id, 84000).ok());
  ASSERT_TRUE(engine_->CancelRequest(AgentCaller(agent), r->request_id).ok());
  EXPECT_EQ(engine_->ExtendRequest(AgentCaller(agent), r->request_id, 1).status().code(),
            ErrorCode::kInvalidState);
}

// ---- Time ----

TEST_F(CoreRequests, ARequestTimesOutAtItsDeadlineWithoutASweeper) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"}, CreateRequestParams{.timeout_s = 60});
  clock_.AdvanceMs(59'999);
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), r->request_id)->state, "pending");
  clock_.AdvanceMs(1);
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), r->request_id)->state, "timed_out");
  EXPECT_EQ(Approve("ap", r->request_id).status().code(), ErrorCode::kInvalidState);
}

TEST_F(CoreRequests, TimersSurviveARestart) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"}, CreateRequestParams{.timeout_s = 60});
  engine_.reset();
  clock_.AdvanceMs(120'000);  // the daemon was down past the deadline
  Open();
  ASSERT_TRUE(engine_->NextDeadline().has_value());
  EXPECT_LE(*engine_->NextDeadline(), clock_.NowMs());
  auto swept = engine_->Sweep();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->timed_out_requests, 1);
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), r->request_id)->state, "timed_out");
  EXPECT_FALSE(engine_->NextDeadline().has_value());
}

// ---- Decisions ----

TEST_F(CoreDecide, AClientCannotDecideItsOwnRequest) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  auto d = engine_->Decide(ApproverCaller("ap", agent), DecideParams{r->request_id, true});
  ExpectForbidden(d.status(), "self_approval");
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), r->request_id)->state, "pending");
  // Another approver still can.
  EXPECT_TRUE(engine_->Decide(ApproverCaller("ap2", Hello()), DecideParams{r->request_id, true})
                  .ok());
}

TEST_F(CoreDecide, TheQuorumCountsDistinctApprovers) {
  std::string agent = Hello();
  Put("A", "1", Quorum(2));
  auto r = Ask(agent, {"A"});
  auto first = Approve("alice", r->request_id);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->request.state, "pending");
  EXPECT_EQ(first->request.approvals, 1);
  EXPECT_FALSE(first->grant.has_value());
  // The same approver again, even from another client identity, does not count.
  auto twice =
      engine_->Decide(ApproverCaller("alice", Hello()), DecideParams{r->request_id, true});
  ExpectForbidden(twice.status(), "already_voted");
  auto second = Approve("bob", r->request_id);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->request.state, "approved");
  EXPECT_EQ(second->request.approvals, 2);
  ASSERT_TRUE(second->grant.has_value());
  EXPECT_EQ(second->request.grant_id, second->grant->grant_id);
  EXPECT_EQ(Approve("carol", r->request_id).status().code(), ErrorCode::kInvalidState);
}

TEST_F(CoreDecide, OneDenyEndsItWhateverTheApprovalsAndRecordsTheNote) {
  std::string agent = Hello();
  Put("A", "1", Quorum(3));
  auto r = Ask(agent, {"A"});
  ASSERT_TRUE(Approve("alice", r->request_id).ok());
  auto d = engine_->Decide(ApproverCaller("bob"),
                           DecideParams{r->request_id, false, std::nullopt, "not today"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->request.state, "denied");
  EXPECT_EQ(d->request.decision_note, "not today");
  EXPECT_FALSE(d->grant.has_value());
  EXPECT_TRUE(engine_->ListGrants(AdminCaller(), {})->empty());
}

TEST_F(CoreDecide, ApproveNeverLengthensTheTtlAndTheSmallestGivenWins) {
  std::string agent = Hello();
  Put("A", "1", Quorum(3));
  auto r = Ask(agent, {"A"}, CreateRequestParams{.ttl_s = 600});
  ExpectLimit(Approve("alice", r->request_id, 601).status(), "request.ttl_s", 600);
  ASSERT_TRUE(Approve("alice", r->request_id, 500).ok());
  ASSERT_TRUE(Approve("bob", r->request_id, 550).ok());
  auto last = Approve("carol", r->request_id);
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->grant.has_value());
  EXPECT_EQ(last->grant->expires_at - last->grant->created_at, 500 * 1000);
}

TEST_F(CoreDecide, AnUnknownRequestIsNotFound) {
  auto d = Approve("alice", "rq_" + std::string(32, 'a'));
  EXPECT_EQ(d.status().code(), ErrorCode::kNotFound);
}

// ---- Long-poll ----

TEST_F(CoreWait, ReturnsAtOnceWhenTheStateDiffersFromTheKnownOne) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  auto start = std::chrono::steady_clock::now();
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "approved", 10'000);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->changed);
  EXPECT_EQ(w->request.state, "pending");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CoreWait, ReturnsEarlyWhenTheRequestIsDecided) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  std::thread decider([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(Approve("alice", r->request_id).ok());
  });
  auto start = std::chrono::steady_clock::now();
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "pending", 20'000);
  decider.join();
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->changed);
  EXPECT_EQ(w->request.state, "approved");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(CoreWait, ReturnsOnAVoteShortOfTheQuorumToo) {
  std::string agent = Hello();
  Put("A", "1", Quorum(2));
  auto r = Ask(agent, {"A"});
  std::thread voter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(Approve("alice", r->request_id).ok());
  });
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "pending", 20'000);
  voter.join();
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->changed);
  EXPECT_EQ(w->request.state, "pending");
  EXPECT_EQ(w->request.approvals, 1);
}

TEST_F(CoreWait, TimesOutUnchanged) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "pending", 50);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->changed);
  EXPECT_EQ(w->request.state, "pending");
}

TEST_F(CoreWait, ShutdownReleasesWaiters) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    engine_->Shutdown();
  });
  auto start = std::chrono::steady_clock::now();
  auto w = engine_->WaitRequest(AgentCaller(agent), r->request_id, "pending", 20'000);
  stopper.join();
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->changed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(CoreWait, VisibilityRulesApplyToWaitToo) {
  std::string agent = Hello();
  Put("A", "1");
  auto r = Ask(agent, {"A"});
  auto w = engine_->WaitRequest(AgentCaller(Hello()), r->request_id, "pending", 10);
  ExpectForbidden(w.status(), "not_originator");
}

}  // namespace
}  // namespace assent::core::testing
