#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/failing_store.h"
#include "store/temp_dir.h"

namespace assent::store {
namespace {

using assent::testing::TempDir;

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path) {
  auto s = SqliteStore::Open(path);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

ClientRow Client(const std::string& id) {
  return ClientRow{id, "agent", "test", std::string(32, 'k'), 1000};
}

RequestRow Request(const std::string& id, const std::string& originator,
                   std::optional<std::string> crid = std::nullopt) {
  RequestRow r;
  r.id = id;
  r.originator = originator;
  r.client_request_id = std::move(crid);
  r.content_hash = "h";
  r.secrets_json = "[\"a\"]";
  r.reason = "why";
  r.ttl_s = 60;
  r.mode = "interactive";
  r.state = "pending";
  r.created_at = 1000;
  r.expires_at = 5000;
  return r;
}

GrantRow LiveGrant(const std::string& id, const std::string& request_id,
                   const std::string& originator, TimeMs expires_at) {
  GrantRow g;
  g.id = id;
  g.request_id = request_id;
  g.originator = originator;
  g.secrets_json = "[]";
  g.uses_json = "{}";
  g.uses_left = 1;
  g.uses_total = 1;
  g.state = "live";
  g.expires_at = expires_at;
  return g;
}

TEST(StoreSqlite, NewDatabaseIsAtTheCodeSchemaVersion) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  auto v = store->SchemaVersion();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, SqliteStore::CodeSchemaVersion());
  EXPECT_GE(SqliteStore::CodeSchemaVersion(), 1);
}

TEST(StoreSqlite, FileDatabaseRunsInWalModeAndPersistsAcrossReopen) {
  TempDir dir;
  const std::string path = dir.File("assent.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->WithTransaction([](Tx& tx) { return tx.InsertClient(Client("cl_1")); })
                    .ok());
    // WAL mode keeps a -wal file beside the database while a connection is open.
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  }
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  std::optional<ClientRow> got;
  ASSERT_TRUE(store
                  ->WithReadTransaction([&](ReadTx& tx) -> Status {
                    auto r = tx.GetClient("cl_1");
                    if (!r.ok()) return r.status();
                    got = *r;
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->key_hash, std::string(32, 'k'));
}

TEST(StoreSqlite, RefusesADatabaseNewerThanTheCode) {
  TempDir dir;
  const std::string path = dir.File("assent.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    const int64_t newer = SqliteStore::CodeSchemaVersion() + 1;
    ASSERT_TRUE(store->ExecForTesting("PRAGMA user_version = " + std::to_string(newer)).ok());
  }
  auto reopened = SqliteStore::Open(path);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("newer"), std::string::npos)
      << reopened.status().message();
}

TEST(StoreSqlite, MigratesAnEmptyVersionZeroFile) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    // A database file that exists but was never migrated: empty, user_version 0.
    std::ofstream touch(path);
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->SchemaVersion(), SqliteStore::CodeSchemaVersion());
}

TEST(StoreSqlite, AVersionOneDatabaseGainsAnEmptyApproverDeliveryMark) {
  TempDir dir;
  const std::string path = dir.File("v1.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store
                    ->WithTransaction([](Tx& tx) -> Status {
                      ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_1")));
                      return tx.InsertRequest(Request("rq_1", "cl_1")).status();
                    })
                    .ok());
    // Back to what version 1 wrote: the request table without the version 2 columns.
    ASSERT_TRUE(store
                    ->ExecForTesting(
                        "ALTER TABLE requests DROP COLUMN approver_delivery_failed_at;"
                        "ALTER TABLE requests DROP COLUMN approver_delivery_attempts;"
                        "PRAGMA user_version = 1;")
                    .ok());
  }
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->SchemaVersion(), SqliteStore::CodeSchemaVersion());
  std::optional<RequestRow> before, after;
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    before = **tx.GetRequest("rq_1");
                    RequestRow r = *before;
                    r.approver_delivery_failed_at = 7000;
                    r.approver_delivery_attempts = 10;
                    ASSENT_RETURN_IF_ERROR(tx.UpdateRequest(r));
                    after = **tx.GetRequest("rq_1");
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(before->approver_delivery_failed_at.has_value());
  EXPECT_FALSE(before->approver_delivery_attempts.has_value());
  EXPECT_EQ(after->approver_delivery_failed_at, 7000);
  EXPECT_EQ(after->approver_delivery_attempts, 10);
}

TEST(StoreSqlite, TransactionCommitsOnlyWhenTheFunctionReturnsOk) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  Status st = store->WithTransaction([](Tx& tx) -> Status {
    ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_1")));
    return Forbidden("changed my mind");
  });
  EXPECT_EQ(st.code(), ErrorCode::kForbidden);
  bool found = true;
  ASSERT_TRUE(store
                  ->WithReadTransaction([&](ReadTx& tx) -> Status {
                    found = tx.GetClient("cl_1")->has_value();
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(found);
}

TEST(StoreSqlite, ClientRequestIdIsUniquePerOriginatorOnly) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([](Tx& tx) -> Status {
                    ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_1")));
                    ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_2")));
                    auto a = tx.InsertRequest(Request("rq_1", "cl_1", "k"));
                    if (!a.ok()) return a.status();
                    auto b = tx.InsertRequest(Request("rq_2", "cl_2", "k"));  // other client
                    if (!b.ok()) return b.status();
                    auto c = tx.InsertRequest(Request("rq_3", "cl_1"));  // no key
                    if (!c.ok()) return c.status();
                    auto d = tx.InsertRequest(Request("rq_4", "cl_1"));  // no key again
                    return d.status();
                  })
                  .ok());
  Status dup = store->WithTransaction([](Tx& tx) -> Status {
    return tx.InsertRequest(Request("rq_5", "cl_1", "k")).status();
  });
  EXPECT_FALSE(dup.ok());
}

TEST(StoreSqlite, ForeignKeysAreEnforced) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  Status st = store->WithTransaction([](Tx& tx) -> Status {
    return tx.InsertVote(VoteRow{"rq_missing", "token:x", "approve", std::nullopt, 1});
  });
  EXPECT_FALSE(st.ok());
  st = store->WithTransaction([](Tx& tx) -> Status {
    return tx.InsertRequest(Request("rq_1", "cl_missing")).status();
  });
  EXPECT_FALSE(st.ok());
}

TEST(StoreSqlite, AuditRowsCannotBeUpdatedOrDeletedThroughSql) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([](Tx& tx) {
                    return tx.AppendAudit(AuditRow{1, 1, "{}", "daemon.start", "{}", "ok",
                                                   std::string(64, '0'), "h"});
                  })
                  .ok());
  EXPECT_FALSE(store->ExecForTesting("UPDATE audit SET outcome = 'refused'").ok());
  EXPECT_FALSE(store->ExecForTesting("DELETE FROM audit").ok());
}

TEST(StoreSqlite, UpdateOfAMissingRowIsAnError) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  Status st = store->WithTransaction(
      [](Tx& tx) { return tx.UpdateRequest(Request("rq_nope", "cl_1")); });
  EXPECT_EQ(st.code(), ErrorCode::kInternal);
}

TEST(StoreSqlite, EventIdsIncreaseAndAreNeverReusedAfterPruning) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  std::vector<int64_t> ids;
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    for (int i = 0; i < 5; ++i) {
                      auto id = tx.InsertEvent(EventRow{0, 100 + i, "request.created",
                                                        "cl_1", "{}"});
                      if (!id.ok()) return id.status();
                      ids.push_back(*id);
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  int64_t pruned = 0;
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    auto n = tx.PruneEvents(/*older_than=*/1000, /*id_at_most=*/0,
                                            /*max_rows=*/100);
                    if (!n.ok()) return n.status();
                    pruned = *n;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(pruned, 5);
  EventBounds bounds;
  int64_t next_id = 0;
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    bounds = *tx.GetEventBounds();
                    next_id = *tx.InsertEvent(EventRow{0, 200, "grant.used", "cl_1", "{}"});
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(bounds.oldest_id.has_value());
  EXPECT_EQ(bounds.last_assigned_id, 5);
  EXPECT_EQ(next_id, 6);
}

TEST(StoreSqlite, PruningIsBoundedPerCall) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    for (int i = 0; i < 10; ++i)
                      ASSENT_RETURN_IF_ERROR(
                          tx.InsertEvent(EventRow{0, 1, "gap", std::nullopt, "{}"}).status());
                    auto n = tx.PruneEvents(1000, 0, 3);
                    EXPECT_EQ(*n, 3);
                    EXPECT_EQ(*tx.GetEventBounds()->oldest_id, 4);
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreSqlite, ReadEventsHonoursTheScope) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    tx.InsertEvent(EventRow{0, 1, "a", "cl_1", "{}"});
                    tx.InsertEvent(EventRow{0, 1, "b", "cl_2", "{}"});
                    tx.InsertEvent(EventRow{0, 1, "c", "cl_1", "{}"});
                    tx.InsertEvent(EventRow{0, 1, "d", std::nullopt, "{}"});
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(store
                  ->WithReadTransaction([&](ReadTx& tx) -> Status {
                    auto all = *tx.ReadEvents(0, EventScope{true, ""}, 100);
                    EXPECT_EQ(all.size(), 4u);
                    auto mine = *tx.ReadEvents(0, EventScope{false, "cl_1"}, 100);
                    EXPECT_EQ(mine.size(), 2u);
                    EXPECT_EQ(mine[1].type, "c");
                    auto after = *tx.ReadEvents(1, EventScope{false, "cl_1"}, 100);
                    EXPECT_EQ(after.size(), 1u);
                    auto none = *tx.ReadEvents(0, EventScope{false, ""}, 100);
                    EXPECT_TRUE(none.empty());
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreSqlite, NextDeadlineIsTheEarliestPendingRequestOrLiveGrant) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    EXPECT_FALSE(tx.NextDeadline()->has_value());
                    tx.InsertClient(Client("cl_1"));
                    auto r = Request("rq_1", "cl_1");
                    r.expires_at = 9000;
                    tx.InsertRequest(r);
                    EXPECT_EQ(**tx.NextDeadline(), 9000);
                    GrantRow g = LiveGrant("gr_1", "rq_1", "cl_1", 7000);
                    EXPECT_TRUE(tx.InsertGrant(g).ok());
                    EXPECT_EQ(**tx.NextDeadline(), 7000);
                    g.state = "revoked";
                    EXPECT_TRUE(tx.UpdateGrant(g).ok());
                    EXPECT_EQ(**tx.NextDeadline(), 9000);
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreSqlite, CountsRequestsOfOneOriginatorOrAllAndGrantsByState) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    tx.InsertClient(Client("cl_1"));
                    tx.InsertClient(Client("cl_2"));
                    tx.InsertRequest(Request("rq_1", "cl_1"));
                    tx.InsertRequest(Request("rq_2", "cl_2"));
                    auto decided = Request("rq_3", "cl_2");
                    decided.state = "approved";
                    tx.InsertRequest(decided);
                    EXPECT_EQ(*tx.CountRequests("cl_1", "pending"), 1);
                    EXPECT_EQ(*tx.CountRequests("cl_2", "pending"), 1);
                    EXPECT_EQ(*tx.CountRequests("", "pending"), 2);
                    EXPECT_EQ(*tx.CountRequests("", "approved"), 1);
                    EXPECT_EQ(*tx.CountGrants("live"), 0);
                    GrantRow g = LiveGrant("gr_1", "rq_3", "cl_2", 7000);
                    EXPECT_TRUE(tx.InsertGrant(g).ok());
                    EXPECT_EQ(*tx.CountGrants("live"), 1);
                    g.state = "revoked";
                    EXPECT_TRUE(tx.UpdateGrant(g).ok());
                    EXPECT_EQ(*tx.CountGrants("live"), 0);
                    EXPECT_EQ(*tx.CountGrants("revoked"), 1);
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreSqlite, OpenReadOnlyReadsAnExistingDatabaseAndNeverWrites) {
  TempDir dir;
  const std::string path = dir.File("assent.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->WithTransaction([](Tx& tx) { return tx.InsertClient(Client("cl_1")); })
                    .ok());
  }
  auto ro = SqliteStore::OpenReadOnly(path);
  ASSERT_TRUE(ro.ok()) << ro.status().message();
  bool found = false;
  ASSERT_TRUE((*ro)->WithReadTransaction([&](ReadTx& tx) -> Status {
                     found = tx.GetClient("cl_1")->has_value();
                     return Status::Ok();
                   })
                  .ok());
  EXPECT_TRUE(found);
  Status write = (*ro)->WithTransaction([](Tx& tx) { return tx.InsertClient(Client("cl_2")); });
  EXPECT_FALSE(write.ok());
}

// Each file OpenReadOnly refuses, with the words its message must contain.
TEST(StoreSqlite, OpenReadOnlyRefusesWhatIsNotAnAssentDatabase) {
  TempDir dir;
  auto refused = [](const std::string& path, const std::string& words) {
    auto r = SqliteStore::OpenReadOnly(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
  };
  refused(dir.File("missing.db"), "No such file");
  EXPECT_FALSE(std::filesystem::exists(dir.File("missing.db")));  // never created
  refused(dir.path(), "not a regular file");
  std::ofstream(dir.File("garbage.db")) << std::string(4096, 'x');
  refused(dir.File("garbage.db"), "not a SQLite database");
  std::ofstream(dir.File("empty.db")).flush();
  refused(dir.File("empty.db"), "schema version 0");
  {
    auto other = OpenOrDie(dir.File("other.db"));
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->ExecForTesting("DROP TABLE audit_head").ok());
  }
  refused(dir.File("other.db"), "no audit tables");
  {
    auto newer = OpenOrDie(dir.File("newer.db"));
    ASSERT_TRUE(newer);
    ASSERT_TRUE(newer
                    ->ExecForTesting("PRAGMA user_version = " +
                                     std::to_string(SqliteStore::CodeSchemaVersion() + 1))
                    .ok());
  }
  refused(dir.File("newer.db"), "newer Assent");
}

TEST(StoreSqlite, OutboxRowsBecomeDueAtTheirAttemptTime) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    OutboxRow o;
                    o.kind = "discord.post";
                    o.request_id = "rq_1";
                    o.payload_json = "{}";
                    o.state = "pending";
                    o.next_attempt_at = 500;
                    o.nonce = "n1";
                    auto id = tx.InsertOutbox(o);
                    EXPECT_TRUE(id.ok());
                    EXPECT_TRUE(tx.ListDueOutbox(499, 10)->empty());
                    EXPECT_EQ(tx.ListDueOutbox(500, 10)->size(), 1u);
                    o.id = *id;
                    o.state = "done";
                    EXPECT_TRUE(tx.UpdateOutbox(o).ok());
                    EXPECT_TRUE(tx.ListDueOutbox(500, 10)->empty());
                    EXPECT_EQ(*tx.CountOutbox("done"), 1);
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreSqlite, MetaKeepsOneValuePerKey) {
  auto store = OpenOrDie(":memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->WithTransaction([&](Tx& tx) -> Status {
                    EXPECT_FALSE(tx.GetMeta("k")->has_value());
                    tx.PutMeta("k", "1");
                    tx.PutMeta("k", "2");
                    EXPECT_EQ(**tx.GetMeta("k"), "2");
                    return Status::Ok();
                  })
                  .ok());
}

TEST(StoreFailing, FailsTheChosenCallAndTheTransactionRollsBack) {
  auto inner = OpenOrDie(":memory:");
  ASSERT_TRUE(inner);
  FailingStore store(*inner);
  store.FailOnCall(2);  // InsertClient(cl_1) passes, InsertClient(cl_2) fails
  Status st = store.WithTransaction([](Tx& tx) -> Status {
    ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_1")));
    return tx.InsertClient(Client("cl_2"));
  });
  EXPECT_EQ(st.code(), ErrorCode::kInternal);
  EXPECT_TRUE(store.fired());
  ASSERT_TRUE(inner
                  ->WithReadTransaction([](ReadTx& tx) -> Status {
                    EXPECT_FALSE(tx.GetClient("cl_1")->has_value());
                    return Status::Ok();
                  })
                  .ok());
  // Disarmed after firing: the same work now commits.
  EXPECT_TRUE(store
                  .WithTransaction([](Tx& tx) -> Status {
                    ASSENT_RETURN_IF_ERROR(tx.InsertClient(Client("cl_1")));
                    return tx.InsertClient(Client("cl_2"));
                  })
                  .ok());
}

TEST(StoreFailing, CanFailOnlyANamedOperationIncludingTheCommit) {
  auto inner = OpenOrDie(":memory:");
  ASSERT_TRUE(inner);
  FailingStore store(*inner);
  store.FailOnCall(1, "Commit");
  Status st = store.WithTransaction([](Tx& tx) { return tx.InsertClient(Client("cl_1")); });
  EXPECT_FALSE(st.ok());
  ASSERT_TRUE(inner
                  ->WithReadTransaction([](ReadTx& tx) -> Status {
                    EXPECT_FALSE(tx.GetClient("cl_1")->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

}  // namespace
}  // namespace assent::store
