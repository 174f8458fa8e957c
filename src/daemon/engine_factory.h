// Opens the engine over a data directory: the one way both assentd and the standalone
// client (`assent` in standalone mode) build it, so both run the same engine on the
// same files.
//
// Files in DATA_DIR: `assent.db` (SQLite, WAL), `master.key` (32 random bytes, created
// 0600 on first use; refused when its mode lets anyone but the owner read it).
//
// Thread safety: the bundle's members are thread-safe as documented by each type.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "core/engine.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace assent::daemon {

struct EngineBundle {
  RealClock clock;
  crypto::SystemRandom random;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<core::Engine> engine;
};

// Reads DATA_DIR/master.key, creating it (0600, 32 bytes from the CSPRNG) if missing.
Result<std::string> LoadOrCreateMasterKey(const std::string& path, RandomSource& random);

// Creates DATA_DIR (0700) if needed, opens the database and the master key.
Result<std::unique_ptr<EngineBundle>> OpenEngine(const std::string& data_dir,
                                                 core::EngineConfig config);

}  // namespace assent::daemon
