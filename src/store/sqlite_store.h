// SqliteStore: the Store on one SQLite database file (or ":memory:").
//
// The only user of <sqlite3.h> in Assent. Settings, each chosen on purpose:
// - journal_mode=WAL: readers never block the writer and a crash mid-write leaves the
//   last committed state intact.
// - synchronous=FULL: the WAL is fsync'ed at every commit. With NORMAL a power loss may
//   drop the last few commits; Assent replies only after commit, and the reply says "this
//   decision, its audit entry and its event exist" — acknowledged must mean durable, so
//   an approval, a spent use or an audit entry is never silently forgotten. One fsync per
//   state change is cheap at our write rates (humans decide, agents reveal).
// - foreign_keys=ON: votes and grants cannot outlive their request, requests their client.
// - busy_timeout: another process holding the write lock (e.g. `assent audit verify` on
//   the same file) delays us instead of failing the call at once.
// - Migrations are keyed by PRAGMA user_version; each runs in its own transaction. A
//   database whose version is newer than this build knows is refused with a clear
//   message instead of being misread.
//
// Concurrency: one connection, every transaction serialized behind a mutex. SQLite
// allows one writer anyway, and serializing reads keeps the connection simple; this is
// ample for one host (a PostgreSQL store would use a pool). Event ids are therefore
// committed in id order — SSE replay never sees a hole that fills in later.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace assent::store {

struct SqliteOptions {
  // How long to wait for another connection's write lock before failing.
  int64_t busy_timeout_ms = 5000;
};

class SqliteStore final : public Store {
 public:
  // The schema version this build creates and understands.
  static int64_t CodeSchemaVersion();

  // Opens (creating if needed) and migrates the database at `path` (":memory:" for a
  // private in-memory database).
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteOptions& options = {});
  // Opens an existing database read-only for offline inspection (`assent audit verify
  // --db`): never creates, migrates or writes (a daemon may be using the file at the
  // same time; WAL lets us read a consistent snapshot beside it). Refuses, with a
  // message naming the problem, a path that does not exist or is not a regular file, a
  // file that is not SQLite, one without Assent's schema (user_version 0 or no audit
  // tables), and one written by a newer Assent. Write transactions on the result fail.
  static Result<std::unique_ptr<SqliteStore>> OpenReadOnly(const std::string& path,
                                                           const SqliteOptions& options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status WithTransaction(const std::function<Status(Tx&)>& fn) override;
  Status WithReadTransaction(const std::function<Status(ReadTx&)>& fn) override;

  // The database's PRAGMA user_version.
  Result<int64_t> SchemaVersion();

  // Runs raw SQL outside any transaction. For tests that simulate tampering or old
  // and new databases, and for offline tools — never for the daemon's own work.
  Status ExecForTesting(std::string_view sql);

  // Internal: a cached prepared statement (used by the transaction implementation).
  Result<sqlite3_stmt*> Prepare(const char* sql);
  sqlite3* db() { return db_; }

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Configure(const SqliteOptions& options, bool in_memory);
  Status CheckReadable(const std::string& path);
  Status Migrate();
  Status Exec(const char* sql);
  Status RunInTransaction(const char* begin_sql, const std::function<Status()>& body);

  sqlite3* db_;
  std::mutex mu_;
  // The thread inside a transaction, to catch accidental nesting (a self-deadlock).
  std::atomic<std::thread::id> owner_{};
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace assent::store
