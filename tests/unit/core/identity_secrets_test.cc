// Client identity, secrets and encryption at rest.
#include <regex>

#include "audit/audit.h"
#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

using CoreIdentity = EngineFixture;
using CoreSecrets = EngineFixture;
using CoreEncryption = EngineFixture;

bool AuditHasAction(store::Store& store, const std::string& action,
                    const std::string& outcome = "") {
  bool found = false;
  EXPECT_TRUE(store
                  .WithReadTransaction([&](store::ReadTx& tx) -> Status {
                    auto rows_ = tx.ListAudit(0, 100000).value();
                    for (const auto& row : rows_)
                      if (row.action == action && (outcome.empty() || row.outcome == outcome))
                        found = true;
                    return Status::Ok();
                  })
                  .ok());
  return found;
}

// ---- Identity ----

TEST_F(CoreIdentity, FirstHelloMintsAnIdAndAKeyThatProvesIt) {
  auto r = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "claude", {}, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::regex_match(r->client_id, std::regex("^cl_[0-9a-f]{32}$")));
  ASSERT_TRUE(r->client_key.has_value());
  EXPECT_TRUE(std::regex_match(*r->client_key, std::regex("^[A-Za-z0-9_-]{43}$")));
  EXPECT_FALSE(r->resumed);
  EXPECT_TRUE(engine_->VerifyClient(r->client_id, *r->client_key));
  EXPECT_TRUE(AuditHasAction(*store_, "client.hello"));
}

TEST_F(CoreIdentity, TheRightKeyResumesAndUpdatesNameAndKindWithoutANewKey) {
  auto first = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "a", {}, {}});
  ASSERT_TRUE(first.ok());
  auto again = engine_->Hello(AgentCaller(std::nullopt),
                              HelloParams{"cli", "b", first->client_id, first->client_key});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->client_id, first->client_id);
  EXPECT_FALSE(again->client_key.has_value());
  Put("S", "v");
  auto req = Ask(first->client_id, {"S"});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->originator.kind, "cli");
  EXPECT_EQ(req->originator.name, "b");
  EXPECT_TRUE(AuditHasAction(*store_, "client.resume"));
}

TEST_F(CoreIdentity, AWrongKeyNeverResumesAndIsAudited) {
  auto first = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "a", {}, {}});
  ASSERT_TRUE(first.ok());
  const std::string wrong(43, 'A');
  auto r = engine_->Hello(AgentCaller(std::nullopt),
                          HelloParams{"agent", "a", first->client_id, wrong});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->resumed);
  EXPECT_NE(r->client_id, first->client_id);
  EXPECT_TRUE(r->client_key.has_value());
  EXPECT_TRUE(AuditHasAction(*store_, "client.key_mismatch", "refused"));
  // The old identity is untouched and still proven by its own key only.
  EXPECT_TRUE(engine_->VerifyClient(first->client_id, *first->client_key));
  EXPECT_FALSE(engine_->VerifyClient(first->client_id, *r->client_key));
}

TEST_F(CoreIdentity, AnUnknownIdGetsAFreshIdentity) {
  const std::string unknown = "cl_" + std::string(32, 'e');
  auto r = engine_->Hello(AgentCaller(std::nullopt),
                          HelloParams{"script", "cron", unknown, std::string(43, 'A')});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->resumed);
  EXPECT_NE(r->client_id, unknown);
}

TEST_F(CoreIdentity, VerifyClientRefusesWrongMalformedAndUnknown) {
  auto r = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "a", {}, {}});
  ASSERT_TRUE(r.ok());
  std::string flipped = *r->client_key;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(engine_->VerifyClient(r->client_id, flipped));
  EXPECT_FALSE(engine_->VerifyClient(r->client_id, "short"));
  EXPECT_FALSE(engine_->VerifyClient(r->client_id, ""));
  EXPECT_FALSE(engine_->VerifyClient("cl_" + std::string(32, '0'), *r->client_key));
}

TEST_F(CoreIdentity, IdentitySurvivesARestart) {
  auto r = engine_->Hello(AgentCaller(std::nullopt), HelloParams{"agent", "a", {}, {}});
  ASSERT_TRUE(r.ok());
  Open();
  EXPECT_TRUE(engine_->VerifyClient(r->client_id, *r->client_key));
  auto again = engine_->Hello(AgentCaller(std::nullopt),
                              HelloParams{"agent", "a", r->client_id, r->client_key});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->resumed);
}

// ---- Secrets ----

TEST_F(CoreSecrets, PutCreatesThenReplaceKeepsIdCreatedAtDescriptionAndPolicy) {
  PutSecretParams p;
  p.name = "GITHUB_TOKEN";
  p.value = "ghp_one";
  p.description = "CI token";
  PolicyInput pol;
  pol.approvals_required = 2;
  p.policy = pol;
  auto created = engine_->PutSecret(AdminCaller(), p);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->secret.version, 1);
  EXPECT_EQ(created->secret.size_bytes, 7);
  EXPECT_TRUE(std::regex_match(created->secret.secret_id, std::regex("^sc_[0-9a-f]{32}$")));

  clock_.AdvanceMs(5000);
  PutSecretParams again;
  again.name = "GITHUB_TOKEN";
  again.value = "ghp_two_longer";
  auto replaced = engine_->PutSecret(AdminCaller(), again);
  ASSERT_TRUE(replaced.ok());
  EXPECT_FALSE(replaced->created);
  EXPECT_EQ(replaced->secret.secret_id, created->secret.secret_id);
  EXPECT_EQ(replaced->secret.created_at, created->secret.created_at);
  EXPECT_EQ(replaced->secret.updated_at, created->secret.updated_at + 5000);
  EXPECT_EQ(replaced->secret.version, 2);
  EXPECT_EQ(replaced->secret.description, "CI token");
  EXPECT_EQ(replaced->secret.policy.approvals_required, 2);
  EXPECT_EQ(replaced->secret.size_bytes, 14);
}

TEST_F(CoreSecrets, AGivenPolicyIsCompletedWithTheDefaults) {
  PolicyInput pol;
  pol.approval = Approval::kNever;
  Put("A", "x", pol);
  auto m = engine_->DescribeSecret(AdminCaller(), "A");
  ASSERT_TRUE(m.ok());
  Policy expected;
  expected.approval = Approval::kNever;
  EXPECT_EQ(m->policy, expected);
  EXPECT_EQ(m->policy.ttl_s_default, 300);
  EXPECT_EQ(m->policy.ttl_s_max, 3600);
  EXPECT_EQ(m->policy.client_kinds, AllClientKinds());
}

TEST_F(CoreSecrets, APolicyWithItsDefaultTtlAboveItsMaximumIsInvalidParams) {
  PutSecretParams p;
  p.name = "A";
  p.value = "x";
  PolicyInput pol;
  pol.ttl_s_default = 601;
  pol.ttl_s_max = 600;
  p.policy = pol;
  auto r = engine_->PutSecret(AdminCaller(), p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParams);
  EXPECT_EQ(r.status().data()["instance_path"], "/policy/ttl_s_default");
  pol.ttl_s_default = 600;
  p.policy = pol;
  EXPECT_TRUE(engine_->PutSecret(AdminCaller(), p).ok());
}

TEST_F(CoreSecrets, AValueOf64KiBIsAcceptedAndOneByteMoreIsRefused) {
  PutSecretParams p;
  p.name = "BIG";
  p.value = std::string(65536, 'x');
  EXPECT_TRUE(engine_->PutSecret(AdminCaller(), p).ok());
  p.value = std::string(65537, 'x');
  p.encoding = "base64";
  auto r = engine_->PutSecret(AdminCaller(), p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParams);
  EXPECT_EQ(r.status().data()["instance_path"], "/value_base64");
}

TEST_F(CoreSecrets, ListIsOrderedByName) {
  Put("b", "2");
  Put("a", "1");
  Put("C", "3");
  auto list = engine_->ListSecrets(AdminCaller());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "C");
  EXPECT_EQ((*list)[1].name, "a");
  EXPECT_EQ((*list)[2].name, "b");
}

TEST_F(CoreSecrets, DescribeAndDeleteOfAnUnknownNameAreNotFound) {
  auto d = engine_->DescribeSecret(AdminCaller(), "NOPE");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(d.status().data(), (nlohmann::json{{"kind", "secret"}, {"id", "NOPE"}}));
  auto del = engine_->DeleteSecret(AdminCaller(), "NOPE");
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.status().code(), ErrorCode::kNotFound);
}

TEST_F(CoreSecrets, DeleteRevokesLiveGrantsAndCancelsPendingRequestsNamingIt) {
  std::string agent = Hello();
  PolicyInput never;
  never.approval = Approval::kNever;
  Put("A", "1", never);
  Put("B", "2");
  Put("OTHER", "3", never);
  auto granted = Ask(agent, {"A"});
  auto pending = Ask(agent, {"B", "A"}, CreateRequestParams{.ttl_s = 60});
  auto unrelated = Ask(agent, {"OTHER"});
  ASSERT_TRUE(granted.ok() && pending.ok() && unrelated.ok());
  ASSERT_EQ(granted->state, "approved");
  ASSERT_EQ(pending->state, "pending");

  auto del = engine_->DeleteSecret(AdminCaller(), "A");
  ASSERT_TRUE(del.ok()) << del.status().message();
  EXPECT_EQ(del->revoked_grants, 1);
  EXPECT_EQ(del->cancelled_requests, 1);
  EXPECT_EQ(engine_->GetRequest(AdminCaller(), pending->request_id)->state, "cancelled");
  auto grants = engine_->ListGrants(AdminCaller(), {});
  ASSERT_TRUE(grants.ok());
  for (const auto& g : *grants)
    EXPECT_EQ(g.state, g.request_id == granted->request_id ? "revoked" : "live");
  EXPECT_EQ(engine_->DescribeSecret(AdminCaller(), "A").status().code(), ErrorCode::kNotFound);
}

TEST_F(CoreSecrets, TheStoredValueIsCiphertext) {
  Put("A", "plaintext-marker-123");
  std::string ciphertext;
  ASSERT_TRUE(store_
                  ->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                    ciphertext = (*tx.GetSecretByName("A"))->ciphertext;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(ciphertext.find("plaintext-marker"), std::string::npos);
  // nonce (24) + value (20) + tag (16)
  EXPECT_EQ(ciphertext.size(), 24u + 20u + 16u);
}

// ---- Encryption at rest: every way a ciphertext can be wrong fails closed ----

class CoreEncryptionTest : public EngineFixture {
 protected:
  // A live single-use grant on A and B for one agent.
  void SetUpGrant() {
    agent_ = Hello();
    PolicyInput never;
    never.approval = Approval::kNever;
    never.uses_per_grant = 5;
    Put("A", "alpha", never);
    Put("B", "bravo", never);
    auto r = Ask(agent_, {"A", "B"});
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->grant_id.has_value());
    grant_ = *r->grant_id;
  }
  std::string agent_, grant_;
};

TEST_F(CoreEncryptionTest, AnUntouchedCiphertextDecrypts) {
  SetUpGrant();
  auto r = RevealAs(agent_, grant_, "A");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Open(*r), "alpha");
  EXPECT_EQ(r->encoding, "utf8");
}

TEST_F(CoreEncryptionTest, ATamperedCiphertextFails) {
  SetUpGrant();
  // Flip the last byte (part of the tag).
  ASSERT_TRUE(store_
                  ->ExecForTesting("UPDATE secrets SET ciphertext = substr(ciphertext, 1, "
                                   "length(ciphertext) - 1) || X'00' WHERE name = 'A' AND "
                                   "substr(ciphertext, length(ciphertext)) != X'00';"
                                   "UPDATE secrets SET ciphertext = substr(ciphertext, 1, "
                                   "length(ciphertext) - 1) || X'01' WHERE name = 'A' AND "
                                   "substr(ciphertext, length(ciphertext)) = X'00'")
                  .ok());
  auto r = RevealAs(agent_, grant_, "A");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
  // Nothing was spent: the failed reveal changed nothing.
  EXPECT_EQ(engine_->ListGrants(AdminCaller(), {})->at(0).uses_left, 10);
}

TEST_F(CoreEncryptionTest, ACiphertextMovedToAnotherSecretFailsItsAssociatedData) {
  SetUpGrant();
  ASSERT_TRUE(store_
                  ->ExecForTesting("UPDATE secrets SET ciphertext = (SELECT ciphertext FROM "
                                   "secrets WHERE name = 'A') WHERE name = 'B'")
                  .ok());
  auto r = RevealAs(agent_, grant_, "B");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
}

TEST_F(CoreEncryptionTest, ARenamedSecretFailsItsAssociatedData) {
  SetUpGrant();
  ASSERT_TRUE(store_->ExecForTesting("UPDATE secrets SET name = 'C' WHERE name = 'B';"
                                     "UPDATE secrets SET name = 'B' WHERE name = 'A';")
                  .ok());
  auto r = RevealAs(agent_, grant_, "B");  // now A's ciphertext under the name B
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
}

TEST_F(CoreEncryptionTest, AnotherMasterKeyFails) {
  SetUpGrant();
  Open({}, MasterKey('x'));
  auto r = RevealAs(agent_, grant_, "A");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
}

TEST_F(CoreEncryptionTest, AMasterKeyOfTheWrongSizeIsRefused) {
  auto e = Engine::Create(*store_, clock_, random_, std::string(31, 'k'));
  EXPECT_FALSE(e.ok());
}

}  // namespace
}  // namespace assent::core::testing
