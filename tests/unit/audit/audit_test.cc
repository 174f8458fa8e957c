#include "audit/audit.h"

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "store/failing_store.h"
#include "store/sqlite_store.h"

namespace assent::audit {
namespace {

using json = nlohmann::json;

class AuditChain : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    auto s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }

  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      Entry e;
      e.time = 1'780'000'000'000 + i * 1000;
      e.actor = {{"role", "agent"}, {"client_id", "cl_" + std::string(32, 'a')}};
      e.action = "request.create";
      e.subject = {{"request_id", "rq_" + std::string(31, 'b') + std::to_string(i % 10)}};
      ASSERT_TRUE(store_->WithTransaction([&](store::Tx& tx) {
                          return Append(tx, e).status();
                        }).ok());
    }
  }

  VerifyReport VerifyOrDie() {
    auto r = Verify(*store_, /*batch_rows=*/2);  // small batches exercise the paging
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifyReport{};
  }

  // Tampering as an attacker would: the append-only triggers go first.
  void Tamper(const std::string& sql) {
    ASSERT_TRUE(store_->ExecForTesting("DROP TRIGGER IF EXISTS audit_no_update;"
                                       "DROP TRIGGER IF EXISTS audit_no_delete;")
                    .ok());
    ASSERT_TRUE(store_->ExecForTesting(sql).ok()) << sql;
  }

  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(AuditChain, EmptyLogVerifiesWithNoHead) {
  auto r = VerifyOrDie();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.entries, 0);
  EXPECT_FALSE(r.head.has_value());
  EXPECT_FALSE(r.first_bad_seq.has_value());
}

TEST_F(AuditChain, AppendedEntriesChainAndVerify) {
  AppendN(5);
  auto r = VerifyOrDie();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.entries, 5);
  ASSERT_TRUE(r.head.has_value());
  std::vector<store::AuditRow> rows;
  ASSERT_TRUE(store_->WithReadTransaction([&](store::ReadTx& tx) {
                      rows = *tx.ListAudit(0, 100);
                      return Status::Ok();
                    }).ok());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].prev_hash, GenesisHash());
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(rows[i].prev_hash, rows[i - 1].hash);
  }
  EXPECT_EQ(*r.head, rows.back().hash);
}

TEST_F(AuditChain, CanonicalFormIsSortedCompactJson) {
  std::string c = CanonicalForm(7, 1'780'000'000'250, {{"role", "admin"}, {"token_name", "a"}},
                                "secret.put", {{"secret_name", "DB"}}, "ok",
                                GenesisHash());
  EXPECT_EQ(c,
            "{\"action\":\"secret.put\",\"actor\":{\"role\":\"admin\",\"token_name\":\"a\"},"
            "\"outcome\":\"ok\",\"prev_hash\":\"" +
                GenesisHash() +
                "\",\"seq\":7,\"subject\":{\"secret_name\":\"DB\"},"
                "\"time\":\"2026-05-28T20:26:40.250Z\"}");
}

TEST_F(AuditChain, HashIsBlake2b256OfTheCanonicalForm) {
  // Differential check against an independent implementation (Python):
  //   e = {"seq": 7, ..., "prev_hash": "0"*64}
  //   c = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
  //   hashlib.blake2b(c.encode(), digest_size=32).hexdigest()
  std::string c = CanonicalForm(7, 1'780'000'000'250, {{"role", "admin"}, {"token_name", "a"}},
                                "secret.put", {{"secret_name", "DB"}}, "ok", GenesisHash());
  EXPECT_EQ(EntryHash(c), "b70eaeedf81d489ed89a9d40d9bc867ea9cc6313575dc981c82cec1fab0c7597");
}

TEST_F(AuditChain, DetectsAnEditOfEachColumn) {
  const std::vector<std::string> edits = {
      "UPDATE audit SET time = time + 1 WHERE seq = 3",
      "UPDATE audit SET actor = '{\"role\":\"admin\"}' WHERE seq = 3",
      "UPDATE audit SET action = 'secret.put' WHERE seq = 3",
      "UPDATE audit SET subject = '{}' WHERE seq = 3",
      "UPDATE audit SET outcome = 'refused' WHERE seq = 3",
      "UPDATE audit SET prev_hash = hash WHERE seq = 3",
      "UPDATE audit SET hash = prev_hash WHERE seq = 3",
      "UPDATE audit SET actor = 'not json' WHERE seq = 3",
  };
  for (const auto& sql : edits) {
    SetUp();  // a fresh database per edit
    AppendN(5);
    Tamper(sql);
    auto r = VerifyOrDie();
    EXPECT_FALSE(r.ok) << sql;
    ASSERT_TRUE(r.first_bad_seq.has_value()) << sql;
    EXPECT_EQ(*r.first_bad_seq, 3) << sql;
  }
}

TEST_F(AuditChain, DetectsAnEditThatRecomputesTheEditedRowsHash) {
  // A smarter forger fixes the edited row's own hash; the next row's prev_hash then
  // no longer matches.
  AppendN(5);
  std::vector<store::AuditRow> rows;
  ASSERT_TRUE(store_->WithReadTransaction([&](store::ReadTx& tx) {
                      rows = *tx.ListAudit(0, 100);
                      return Status::Ok();
                    }).ok());
  const auto& r3 = rows[2];
  std::string forged =
      EntryHash(CanonicalForm(r3.seq, r3.time, json::parse(r3.actor_json), r3.action,
                              json::parse(r3.subject_json), "refused", r3.prev_hash));
  Tamper("UPDATE audit SET outcome = 'refused', hash = '" + forged + "' WHERE seq = 3");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 4);
}

TEST_F(AuditChain, DetectsADeletedMiddleRow) {
  AppendN(5);
  Tamper("DELETE FROM audit WHERE seq = 2");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 2);
  EXPECT_EQ(r.entries, 4);
}

TEST_F(AuditChain, DetectsADeletedFirstRow) {
  AppendN(3);
  Tamper("DELETE FROM audit WHERE seq = 1");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 1);
}

TEST_F(AuditChain, DetectsDeletedNewestRows) {
  AppendN(5);
  Tamper("DELETE FROM audit WHERE seq >= 4");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 4);
}

TEST_F(AuditChain, DetectsDeletingEveryRow) {
  AppendN(2);
  Tamper("DELETE FROM audit");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 1);
}

TEST_F(AuditChain, DetectsReorderedRows) {
  AppendN(5);
  // Swap rows 2 and 3 wholesale (content moves, seq numbers stay in order).
  Tamper(
      "UPDATE audit SET seq = -2 WHERE seq = 2;"
      "UPDATE audit SET seq = 2 WHERE seq = 3;"
      "UPDATE audit SET seq = 3 WHERE seq = -2;");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 2);
}

TEST_F(AuditChain, DetectsAForgedHead) {
  AppendN(3);
  Tamper("UPDATE audit_head SET hash = '" + std::string(64, 'f') + "'");
  auto r = VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 3);
}

TEST_F(AuditChain, AppendIsPartOfTheCallersTransaction) {
  AppendN(1);
  Status st = store_->WithTransaction([&](store::Tx& tx) -> Status {
    Entry e;
    e.action = "secret.put";
    ASSENT_RETURN_IF_ERROR(Append(tx, e).status());
    return Internal("the domain write failed after the audit entry");
  });
  EXPECT_FALSE(st.ok());
  auto r = VerifyOrDie();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.entries, 1);
}

TEST_F(AuditChain, AFailedAppendWritesNothing) {
  store::FailingStore failing(*store_);
  failing.FailOnCall(1, "AppendAudit");
  Status st = failing.WithTransaction([&](store::Tx& tx) -> Status {
    Entry e;
    e.action = "secret.put";
    return Append(tx, e).status();
  });
  EXPECT_FALSE(st.ok());
  auto r = VerifyOrDie();
  EXPECT_EQ(r.entries, 0);
}

TEST_F(AuditChain, EntryJsonHasEveryMemberOfTheSchema) {
  AppendN(1);
  std::vector<store::AuditRow> rows;
  ASSERT_TRUE(store_->WithReadTransaction([&](store::ReadTx& tx) {
                      rows = *tx.ListAudit(0, 10);
                      return Status::Ok();
                    }).ok());
  json j = EntryToJson(rows.at(0));
  for (const char* k :
       {"seq", "time", "actor", "action", "subject", "outcome", "prev_hash", "hash"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j.size(), 8u);
  EXPECT_TRUE(j["actor"].is_object());
}

TEST_F(AuditChain, ReasonTextEntersOnlyAsAHash) {
  std::string h = ReasonHash("deploying the thing");
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find("deploying"), std::string::npos);
}

}  // namespace
}  // namespace assent::audit
