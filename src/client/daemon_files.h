// The daemon's announcement files, read from the client side.
//
// assentd writes DATA_DIR/assentd.pid and DATA_DIR/assentd.json (the discovery file,
// spec/schemas/discovery.json) once every listener is bound, and removes both on a clean
// exit (ASSENT-TGT-002). A PID file whose process is gone is stale: the daemon crashed
// or was killed. These helpers tell the cases apart so `assent daemon …` can say which.
//
// Thread safety: plain functions.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "client/config.h"
#include "client/remote_service.h"

namespace assent::client {

struct DiscoveryListener {
  std::string transport;  // tcp | unix
  std::string address;
};
struct DiscoveryInfo {
  pid_t pid = 0;
  std::string daemon_version;
  std::string protocol_version;
  std::vector<DiscoveryListener> listeners;
};

std::string PidFilePath(const std::string& data_dir);        // DATA_DIR/assentd.pid
std::string DiscoveryFilePath(const std::string& data_dir);  // DATA_DIR/assentd.json
std::string DaemonLogPath(const std::string& data_dir);      // DATA_DIR/assentd.log
std::string DefaultSocketPath(const std::string& data_dir);  // DATA_DIR/run/assentd.sock

std::optional<DiscoveryInfo> ReadDiscovery(const std::string& data_dir);
std::optional<pid_t> ReadPidFile(const std::string& data_dir);
// True when a process with this PID exists (even one we may not signal).
bool ProcessAlive(pid_t pid);
// True when /proc says the process runs an assent binary (guards against PID reuse).
bool ProcessIsAssent(pid_t pid);
// Seconds since the process started, from /proc; nullopt when unknown.
std::optional<int64_t> ProcessUptimeSeconds(pid_t pid);

// The address to talk to: the config's `server` when set (or `override` when given),
// else the discovery file's Unix listener, else its first TCP listener, else the
// default socket of the data directory.
ServerAddress ResolveServerAddress(const ClientConfig& config, const std::string& override_address);

}  // namespace assent::client
