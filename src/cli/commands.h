// The `assent` commands. Each takes the shared CliContext and its own options (filled
// by CLI11 in app.cc) and returns the process exit code (cli/exit_codes.h); failures
// print their advice and throw CliExit.
//
// Every command that talks to a server does so through client::Service, so client and
// standalone modes run the same code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.h"

namespace assent::cli {

// ---- setup and lifecycle (cmd_setup.cc) ----
struct InitOptions {
  std::string mode = "client";
  std::string server;
  std::string data_dir;
  std::string admin_token_file;
  std::string approver_token_file;
  std::string client_kind = "agent";
  std::string client_name;
  bool force = false;
};
int CmdInit(CliContext& ctx, const InitOptions& o);

struct ServeOptions {
  std::vector<std::string> listen;
  std::vector<std::string> extra;  // passed to assentd as-is
};
int CmdServe(CliContext& ctx, const ServeOptions& o);

struct DaemonStartOptions {
  std::vector<std::string> listen;
  std::vector<std::string> extra;
  int64_t wait_s = 15;
};
int CmdDaemonStart(CliContext& ctx, const DaemonStartOptions& o);
struct DaemonStopOptions {
  int64_t timeout_s = 15;
  bool force = false;
};
int CmdDaemonStop(CliContext& ctx, const DaemonStopOptions& o);
int CmdDaemonStatus(CliContext& ctx);
struct DaemonLogsOptions {
  int64_t lines = 50;
  bool follow = false;
};
int CmdDaemonLogs(CliContext& ctx, const DaemonLogsOptions& o);
int CmdStatus(CliContext& ctx);

// ---- secrets and audit (cmd_secrets.cc) ----
struct SecretAddOptions {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> approval;
  std::optional<int64_t> ttl_default_s;
  std::optional<int64_t> ttl_max_s;
  std::optional<int64_t> uses;
  std::optional<int64_t> approvals;
  std::vector<std::string> kinds;
  bool bind_command = false;
  bool binary = false;
  bool keep_newline = false;
};
int CmdSecretAdd(CliContext& ctx, const SecretAddOptions& o);
int CmdSecretList(CliContext& ctx);
int CmdSecretRemove(CliContext& ctx, const std::string& name);
struct AuditVerifyOptions {
  // Set: verify this database file offline (read-only, no daemon, no config, no token).
  std::optional<std::string> db_path;
};
int CmdAuditVerify(CliContext& ctx, const AuditVerifyOptions& o);

// ---- requests, decisions, grants, events (cmd_access.cc) ----
struct RequestOptions {
  std::vector<std::string> secrets;
  std::string reason;
  std::optional<int64_t> ttl_s;
  std::optional<int64_t> timeout_s;
  bool unattended = false;
  bool wait = false;
  std::optional<std::string> client_request_id;
};
int CmdRequest(CliContext& ctx, const RequestOptions& o);
struct ListRequestsOptions {
  std::optional<std::string> state;
  bool all = false;
};
int CmdRequests(CliContext& ctx, const ListRequestsOptions& o);
struct DecideOptions {
  std::string request_id;
  std::optional<int64_t> ttl_s;
  std::optional<std::string> note;
};
int CmdDecide(CliContext& ctx, const std::string& decision, const DecideOptions& o);
int CmdCancel(CliContext& ctx, const std::string& request_id);
struct GrantsOptions {
  std::optional<std::string> state;
  std::optional<std::string> request_id;
};
int CmdGrants(CliContext& ctx, const GrantsOptions& o);
int CmdRevoke(CliContext& ctx, const std::string& id);
struct WatchOptions {
  std::optional<int64_t> since;
  std::optional<int64_t> count;  // stop after this many events
};
int CmdWatch(CliContext& ctx, const WatchOptions& o);

// Waits for a pending request to be decided, with a live countdown on a TTY or a line
// per change otherwise. Ctrl-C (or SIGTERM/SIGHUP) cancels the request on the server
// and throws CliExit(130, or 128+N). Returns the final request object.
json WaitForDecision(CliContext& ctx, client::Service& service, json request);

// ---- run (cmd_run.cc) ----
struct RunOptions {
  std::vector<std::string> secrets;  // NAME or NAME=ENV
  std::optional<std::string> reason;
  std::optional<int64_t> ttl_s;
  std::optional<int64_t> timeout_s;
  bool unattended = false;
  bool no_mask = false;
  std::vector<std::string> command;
};
int CmdRun(CliContext& ctx, RunOptions o);

}  // namespace assent::cli
