// assentd: configuration, wiring, lifecycle.
//
// main() parses flags into DaemonConfig, then Daemon wires every module (spec registry,
// dispatcher, store, engine, HTTP listeners, Discord approver) and runs until SIGTERM or
// SIGINT. Readiness is announced by the discovery file (DATA_DIR/assentd.json), written
// atomically once every listener is bound; it and the PID file are removed on exit.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/limits.h"

namespace assent::daemon {

inline constexpr const char* kDaemonVersion = "0.1.0";

struct DaemonConfig {
  std::string data_dir;
  std::vector<std::string> listen;  // "unix:PATH" | "tcp://HOST:PORT"
  std::string tokens_file;          // "" = DATA_DIR/tokens.json when it exists
  std::set<uint32_t> allowed_uids;
  bool validate_responses = false;
  bool unauthenticated_metrics = false;
  int64_t heartbeat_s = 15;
  int64_t timeout_interactive_s = 1800;
  int64_t timeout_unattended_s = 300;
  // Event retention (ASSENT-EVT-007): at most the limits.json values; lower values make
  // pruning, and so the `gap` event, observable in a test (ASSENT-TGT-007).
  int64_t event_retention_count_max = limits::kEventRetentionCountMax;
  int64_t event_retention_s = limits::kEventRetentionSeconds;
  std::string discord_api_base;
  std::string discord_public_key;
  std::string discord_bot_token_file;
  std::string discord_channel_id;
  std::vector<std::string> discord_allowed_users;
  std::string discord_mode = "interactions";
  bool discord_check = false;  // post one harmless message, report, exit
  std::string log_level = "info";
};

// Parses argv; on --help/--version or a usage error prints and sets *exit_code.
bool ParseDaemonArgs(int argc, char** argv, DaemonConfig* config, int* exit_code);

// Runs the daemon in the foreground; returns the process exit code.
int RunDaemon(const DaemonConfig& config);

}  // namespace assent::daemon
