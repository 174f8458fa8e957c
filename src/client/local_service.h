// LocalService: standalone mode — the engine in-process on the daemon's SQLite file.
//
// For setups without a running daemon: the CLI opens DATA_DIR's database and master key
// itself and serves each call through the very same JSON-RPC endpoint, method handlers
// and engine the daemon uses, so both modes share one code path down to the store.
// Callers authenticate exactly as over the Unix socket: the token (if any) is looked up
// in DATA_DIR/tokens.json and gives the role; none means agent. Two processes on one
// database file are safe: the store runs SQLite in WAL mode with a busy timeout, and
// access.wait polls the database (another process's decision wakes no in-process
// waiter).
//
// Standalone mode gives no protection against an agent running as the same user: that
// user can read the master key and the database. It exists for scripts and single-user
// setups; see the threat model in docs/RFC/0001.
//
// Thread safety: Call may be used from several threads.
#pragma once

#include <memory>
#include <string>

#include "client/service.h"

namespace assent::client {

// Opens the engine on `data_dir` (creating the database and master key when missing)
// acting with `token` ("" = agent without a token).
Reply<std::unique_ptr<Service>> OpenLocalService(const std::string& data_dir,
                                                 const std::string& token);

}  // namespace assent::client
