// Shared set-up for engine tests: a fake clock, a seeded random source, a SQLite store
// (in memory, or on a file for restart tests) and helpers for the usual callers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "core/engine.h"
#include "crypto/crypto.h"
#include "store/failing_store.h"
#include "store/sqlite_store.h"
#include "store/temp_dir.h"

namespace assent::core::testing {

inline Caller AdminCaller() {
  Caller c;
  c.role = Role::kAdmin;
  c.token_name = "admin-1";
  return c;
}

inline Caller ApproverCaller(const std::string& token,
                             std::optional<std::string> client_id = std::nullopt) {
  Caller c;
  c.role = Role::kApprover;
  c.token_name = token;
  c.client_id = std::move(client_id);
  return c;
}

inline Caller AgentCaller(std::optional<std::string> client_id) {
  Caller c;
  c.role = Role::kAgent;
  c.client_id = std::move(client_id);
  return c;
}

inline std::string MasterKey(char fill = 'm') { return std::string(32, fill); }

class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    keys_ = crypto::NewBoxKeyPair();
    path_ = dir_.File("assent.db");
    Open();
  }

  // (Re)opens store and engine on the same file: a daemon restart.
  void Open(EngineConfig config = {}, std::string master_key = MasterKey()) {
    engine_.reset();
    failing_.reset();
    store_.reset();
    auto s = store::SqliteStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    failing_ = std::make_unique<store::FailingStore>(*store_);
    auto e = Engine::Create(*failing_, clock_, random_, master_key, config);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }

  std::string Hello(const std::string& kind = "agent", const std::string& name = "bot") {
    auto r = engine_->Hello(AgentCaller(std::nullopt), HelloParams{kind, name, {}, {}});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->client_id : "";
  }

  void Put(const std::string& name, const std::string& value, PolicyInput policy = {}) {
    PutSecretParams p;
    p.name = name;
    p.value = value;
    p.policy = policy;
    auto r = engine_->PutSecret(AdminCaller(), p);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  Result<RequestView> Ask(const std::string& client, std::vector<std::string> secrets,
                          CreateRequestParams p = {}) {
    p.secrets = std::move(secrets);
    if (p.reason.empty()) p.reason = "deploy";
    return engine_->CreateRequest(AgentCaller(client), p);
  }

  Result<DecideResult> Approve(const std::string& token, const std::string& request_id,
                               std::optional<int64_t> ttl_s = std::nullopt) {
    return engine_->Decide(ApproverCaller(token), DecideParams{request_id, true, ttl_s, {}});
  }

  Result<RevealResult> RevealAs(const std::string& client, const std::string& grant_id,
                                const std::string& name,
                                std::optional<Command> command = std::nullopt) {
    RevealParams p;
    p.grant_id = grant_id;
    p.name = name;
    p.recipient_key = keys_.public_key;
    p.command = std::move(command);
    return engine_->Reveal(AgentCaller(client), p);
  }

  std::string Open(const RevealResult& r) {
    auto v = crypto::SealOpen(keys_.public_key, keys_.secret_key, r.sealed_value);
    return v ? *v : "<unopenable>";
  }

  // Counts rows of a table straight from the database.
  int64_t Count(const std::string& table) {
    int64_t n = -1;
    EXPECT_TRUE(store_
                    ->WithReadTransaction([&](store::ReadTx& tx) -> Status {
                      if (table == "audit") {
                        n = tx.GetAuditHead()->seq;
                      } else if (table == "events") {
                        n = tx.GetEventBounds()->last_assigned_id;
                      } else if (table == "outbox") {
                        n = *tx.CountOutbox("pending");
                      }
                      return Status::Ok();
                    })
                    .ok());
    return n;
  }

  assent::testing::TempDir dir_;
  std::string path_;
  FakeClock clock_;
  SeededRandom random_{20260526};
  crypto::BoxKeyPair keys_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<store::FailingStore> failing_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace assent::core::testing
