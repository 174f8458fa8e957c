#include "daemon/engine_factory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/files.h"
#include "store/sqlite_store.h"

namespace assent::daemon {

namespace {
std::string Mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}
}  // namespace

Result<std::string> LoadOrCreateMasterKey(const std::string& path, RandomSource& random) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    std::string key(crypto::kAeadKeyBytes, '\0');
    random.Fill(reinterpret_cast<uint8_t*>(key.data()), key.size());
    Status st = WriteFileAtomic(path, key, 0600);
    crypto::Wipe(key);
    if (!st.ok()) return st;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) return Internal("cannot open master key " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Internal("master key " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
    ::close(fd);
    return Status::Error(ErrorCode::kForbidden,
                         "master key " + path + " has mode " + Mode(st.st_mode) +
                             " or another owner; it must be readable only by the daemon's "
                             "user (chown to this user and chmod 600 " + path + ")");
  }
  std::string key(crypto::kAeadKeyBytes + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(crypto::kAeadKeyBytes)) {
    crypto::Wipe(key);
    return Internal("master key " + path + " must hold exactly 32 bytes");
  }
  key.resize(crypto::kAeadKeyBytes);
  return key;
}

Result<std::unique_ptr<EngineBundle>> OpenEngine(const std::string& data_dir,
                                                 core::EngineConfig config) {
  if (Status st = EnsurePrivateDir(data_dir); !st.ok()) return st;
  auto bundle = std::make_unique<EngineBundle>();
  auto key = LoadOrCreateMasterKey(data_dir + "/master.key", bundle->random);
  if (!key.ok()) return key.status();
  auto store = store::SqliteStore::Open(data_dir + "/assent.db");
  if (!store.ok()) return store.status();
  bundle->store = std::move(*store);
  auto engine = core::Engine::Create(*bundle->store, bundle->clock, bundle->random,
                                     std::move(*key), config);
  if (!engine.ok()) return engine.status();
  bundle->engine = std::move(*engine);
  return bundle;
}

}  // namespace assent::daemon
