// The approver on the real engine, in-process: the engine's outbox rows become posts,
// a signed click becomes an audited vote through Engine::Decide (EngineBackend), and the
// decision's own outbox row becomes the edit. Only Discord is faked (a scripted
// transport); store, engine, endpoint and worker are the production ones.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "approvers/discord/discord_approver.h"
#include "approvers/discord/engine_backend.h"
#include "approvers/discord/message.h"
#include "core/engine.h"
#include "crypto/crypto.h"
#include "discord/fakes.h"
#include "store/sqlite_store.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::DiscordSigner;
using testing::FakeTransport;

constexpr const char* kAlice = "1200000000000000001";
constexpr const char* kBob = "1200000000000000002";

class EngineIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    core::EngineConfig ec;
    ec.outbox_enabled = true;
    auto e = core::Engine::Create(*store_, clock_, random_, std::string(32, 'm'), ec);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    backend_ = std::make_unique<EngineBackend>(*engine_);

    DiscordConfig c;
    c.channel_id = "1100000000000000001";
    c.public_key = signer_.public_key();
    c.allowed_users = {kAlice, kBob};
    c.host = "devbox";
    shared_ = std::make_shared<FakeTransport::Shared>();
    shared_->fallback = [this](const HttpCall& call) {
      if (call.method == "POST")
        return FakeTransport::Reply(
            200, json({{"id", "13000000000000000" + std::to_string(10 + posts_++)},
                       {"author", {{"id", "1575369956621684736"}, {"bot", true}}}})
                     .dump());
      return FakeTransport::Reply(200, R"({"id":"1"})");
    };
    approver_ = std::make_unique<DiscordApprover>(c, *store_, clock_, random_, *backend_,
                                                  std::make_unique<FakeTransport>(shared_));

    core::Caller admin;
    admin.role = core::Role::kAdmin;
    admin.token_name = "admin-1";
    core::PutSecretParams p;
    p.name = "GITHUB_TOKEN";
    p.value = "ghp_x";
    core::PolicyInput policy;
    policy.approvals_required = 2;
    p.policy = policy;
    ASSERT_TRUE(engine_->PutSecret(admin, p).ok());
    auto hello = engine_->Hello(Agent(std::nullopt), {"agent", "claude-code", {}, {}});
    ASSERT_TRUE(hello.ok());
    client_id_ = hello->client_id;
  }

  static core::Caller Agent(std::optional<std::string> id) {
    core::Caller c;
    c.role = core::Role::kAgent;
    c.client_id = std::move(id);
    return c;
  }

  std::string CreateRequest() {
    core::CreateRequestParams p;
    p.secrets = {"GITHUB_TOKEN"};
    p.reason = "release";
    auto r = engine_->CreateRequest(Agent(client_id_), p);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->request_id : "";
  }

  InteractionResponse Click(const std::string& custom_id, const std::string& user,
                            const std::string& interaction_id) {
    json body = {{"type", 3},
                 {"id", interaction_id},
                 {"member", {{"user", {{"id", user}}}}},
                 {"data", {{"custom_id", custom_id}, {"component_type", 2}}}};
    std::string ts = std::to_string(clock_.NowMs() / 1000);
    std::string raw = body.dump();
    std::string sig = signer_.SignHex(ts, raw);
    InteractionRequest req{raw, [sig, ts](const std::string& h) -> std::string {
                             return h == "X-Signature-Ed25519"     ? sig
                                    : h == "X-Signature-Timestamp" ? ts
                                                                   : "";
                           }};
    return approver_->InteractionsHandler()(req);
  }

  std::vector<HttpCall> Calls() {
    std::lock_guard<std::mutex> l(shared_->mu);
    return shared_->calls;
  }

  FakeClock clock_;
  SeededRandom random_{7};
  DiscordSigner signer_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<EngineBackend> backend_;
  std::shared_ptr<FakeTransport::Shared> shared_;
  std::unique_ptr<DiscordApprover> approver_;
  std::string client_id_;
  int posts_ = 0;
};

TEST_F(EngineIntegrationTest, ClicksFromTwoUsersApproveThroughTheEngineAndTheMessageIsEdited) {
  const std::string rid = CreateRequest();
  ASSERT_EQ(approver_->outbox().RunOnce(), 1);
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  json post = json::parse(calls[0].body);
  EXPECT_NE(post["content"].get<std::string>().find("claude-code"), std::string::npos);
  std::string approve = post["components"][0]["components"][0]["custom_id"];
  ASSERT_EQ(ParseCustomId(approve)->request_id, rid);

  json first = json::parse(Click(approve, kAlice, "1400000000000000001").body);
  EXPECT_EQ(first["type"], 7);
  EXPECT_NE(first["data"]["content"].get<std::string>().find("1 of 2"), std::string::npos);
  // The same Discord user again is one approver, not two (ASSENT-REQ-019).
  json again = json::parse(Click(approve, kAlice, "1400000000000000002").body);
  EXPECT_EQ(again["type"], 4);
  json second = json::parse(Click(approve, kBob, "1400000000000000003").body);
  EXPECT_EQ(second["data"]["components"], json::array());

  core::Caller admin;
  admin.role = core::Role::kAdmin;
  auto got = engine_->GetRequest(admin, rid);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "approved");
  EXPECT_TRUE(got->grant_id.has_value());

  // Both votes are audited under the Discord users.
  auto audit = engine_->ListAudit(0, 100);
  ASSERT_TRUE(audit.ok());
  int discord_entries = 0;
  for (const auto& e : audit->entries) {
    json actor = json::parse(e.actor_json);
    if (actor.value("role", "") == "discord") ++discord_entries;
  }
  EXPECT_GE(discord_entries, 2);

  // The first vote's outbox row refreshes the tally, the approval's edits the message
  // to its final state: one post and two edits, the last without buttons.
  approver_->outbox().RunOnce();
  calls = Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].method, "PATCH");
  EXPECT_EQ(calls[2].method, "PATCH");
  EXPECT_EQ(json::parse(calls.back().body)["components"], json::array());
}

TEST_F(EngineIntegrationTest, CancelAndTimeoutEditTheMessage) {
  const std::string cancelled = CreateRequest();
  const std::string timed_out = CreateRequest();
  approver_->outbox().RunOnce();
  ASSERT_TRUE(engine_->CancelRequest(Agent(client_id_), cancelled).ok());
  clock_.AdvanceMs(engine_->config().timeout_interactive_s * 1000 + 1);
  ASSERT_TRUE(engine_->Sweep().ok());
  approver_->outbox().RunOnce();
  std::vector<std::string> contents;
  for (const auto& c : Calls())
    if (c.method == "PATCH") contents.push_back(json::parse(c.body)["content"]);
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_NE(contents[0].find("Cancelled"), std::string::npos);
  EXPECT_NE(contents[1].find("Timed out"), std::string::npos);
}

TEST_F(EngineIntegrationTest, ClickAfterTheDeadlineIsAlreadyDecided) {
  const std::string rid = CreateRequest();
  approver_->outbox().RunOnce();
  std::string deny = json::parse(Calls()[0].body)["components"][0]["components"][1]["custom_id"];
  clock_.AdvanceMs(engine_->config().timeout_interactive_s * 1000 + 1);
  json r = json::parse(Click(deny, kAlice, "1400000000000000009").body);
  EXPECT_EQ(r["type"], 4);
  EXPECT_NE(r["data"]["content"].get<std::string>().find("already decided"), std::string::npos);
}

TEST_F(EngineIntegrationTest, APostFailingEveryAttemptIsDeadAuditedAndVisibleOnTheRequest) {
  // Discord answers every post with a 503 and a body the daemon must not keep.
  const std::string secret_words = "cloudflare-says-no-9f3a";
  shared_->fallback = [&](const HttpCall&) {
    return FakeTransport::Reply(503, "<html>" + secret_words + "</html>");
  };
  const std::string rid = CreateRequest();
  const int64_t max_attempts = DiscordConfig{}.max_attempts;
  for (int64_t i = 0; i < max_attempts; ++i) {
    EXPECT_EQ(approver_->outbox().RunOnce(), 1) << "attempt " << i + 1;
    clock_.AdvanceMs(DiscordConfig{}.backoff_cap_ms);
  }
  EXPECT_EQ(approver_->outbox().RunOnce(), 0) << "a dead row is not tried again";
  EXPECT_EQ(Calls().size(), static_cast<size_t>(max_attempts));

  int64_t dead = 0;
  ASSERT_TRUE(store_
                  ->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                    dead = *tx.CountOutbox("dead");
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(dead, 1);

  // Visible on the request, to its originator too, and the request is still pending.
  auto got = engine_->GetRequest(Agent(client_id_), rid);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "pending");
  ASSERT_TRUE(got->approver_delivery_failed.has_value());
  EXPECT_EQ(got->approver_delivery_failed->attempts, max_attempts);

  // Audited once, as the system, without Discord's answer.
  auto audit = engine_->ListAudit(0, 1000);
  ASSERT_TRUE(audit.ok());
  int entries = 0;
  for (const auto& e : audit->entries) {
    EXPECT_EQ(e.subject_json.find(secret_words), std::string::npos);
    if (e.action != "approver.delivery_failed") continue;
    ++entries;
    EXPECT_EQ(e.outcome, "error");
    EXPECT_EQ(json::parse(e.actor_json), (json{{"role", "system"}}));
    EXPECT_EQ(json::parse(e.subject_json), (json{{"request_id", rid}, {"count", max_attempts}}));
  }
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(engine_->VerifyAudit()->ok);
}

}  // namespace
}  // namespace assent::discord
