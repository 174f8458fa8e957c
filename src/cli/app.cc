#include "cli/app.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "crypto/crypto.h"

namespace assent::cli {

namespace {

constexpr const char* kDescription =
    "assent — ask a human before your agent touches a secret.\n\n"
    "An agent (or script) asks assentd for secrets; a human approves on Discord or with\n"
    "`assent approve`; `assent run` then injects the values into a command's environment\n"
    "and masks them in its output. Configuration: $ASSENT_HOME (default ~/.assent).\n\n"
    "  assent init                       create config, data dir and tokens\n"
    "  assent daemon start               run assentd in the background\n"
    "  assent secret add NAME            store a secret (value from stdin or a prompt)\n"
    "  assent run --secret NAME -- CMD   ask, wait for approval, run CMD with $NAME\n";

}  // namespace

int RunCli(int argc, char** argv) {
  // A daemon that vanishes mid-write must not kill us with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  if (!crypto::Init()) {
    std::cerr << "assent: libsodium failed to initialise\n";
    return kExitFailure;
  }
  CliContext ctx;
  // `assent serve FLAGS…` is assentd in-process: its flags are assentd's, passed through
  // untouched (with the config's data directory and address as defaults).
  if (argc >= 2 && std::string(argv[1]) == "serve") {
    ServeOptions serve;
    for (int i = 2; i < argc; ++i) serve.extra.push_back(argv[i]);
    try {
      return CmdServe(ctx, serve);
    } catch (const CliExit& e) {
      return e.code;
    }
  }
  // `assent [global options] run [options] -- CMD ARGS`: everything after the first
  // `--` is the command, passed through untouched (CLI11 would try to parse it).
  std::vector<std::string> command_after_dashes;
  bool has_dashes = false;
  {
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
      std::string a = argv[i];
      if (a == "--server" || a == "--token-file" || a == "--as") ++i;
      ++i;
    }
    if (i < argc && std::string(argv[i]) == "run") {
      for (int j = i + 1; j < argc; ++j) {
        if (std::string(argv[j]) == "--") {
          has_dashes = true;
          for (int k = j + 1; k < argc; ++k) command_after_dashes.push_back(argv[k]);
          argc = j;
          break;
        }
      }
    }
  }

  // The client logs only warnings (the daemon above keeps its own level).
  log::SetLevel(log::Level::kWarn);
  CLI::App app{kDescription, "assent"};
  app.set_version_flag("--version", std::string("assent 0.1.0 (protocol 1)"));
  app.footer(ExitCodesHelp());
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--json", ctx.options.json, "print machine-readable JSON on stdout");
  app.add_flag("-q,--quiet", ctx.options.quiet, "no progress lines on stderr");
  app.add_option("--server", ctx.options.server,
                 "server address: unix:/PATH or tcp://HOST:PORT (env ASSENT_SERVER)");
  app.add_option("--token-file", ctx.options.token_file,
                 "file holding the token to use (env ASSENT_TOKEN_FILE)");
  app.add_option("--as", ctx.options.as_role,
                 "act with this role's token recorded by `assent init`")
      ->check(CLI::IsMember({"admin", "approver", "agent"}));

  // ---- init ----
  InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "create the config, data directory and tokens");
  init_cmd->add_option("--mode", init.mode, "client (talk to assentd) or standalone (no daemon)")
      ->check(CLI::IsMember({"client", "standalone"}))
      ->capture_default_str();
  init_cmd->add_option("--server", init.server, "record this server address (unix:/PATH, tcp://HOST:PORT)");
  init_cmd->add_option("--data-dir", init.data_dir, "data directory (default $ASSENT_HOME/data)");
  init_cmd->add_option("--admin-token-file", init.admin_token_file,
                       "also write the admin token to this file (0600) and record it");
  init_cmd->add_option("--approver-token-file", init.approver_token_file,
                       "also write the approver token to this file (0600) and record it — "
                       "never where your agent can read it");
  init_cmd->add_option("--client-kind", init.client_kind, "agent | script | cli")
      ->check(CLI::IsMember({"agent", "script", "cli"}))
      ->capture_default_str();
  init_cmd->add_option("--client-name", init.client_name, "name approvers see (default assent@HOST)");
  init_cmd->add_flag("--force", init.force, "replace an existing config and tokens");

  // ---- serve / daemon ----
  // Listed for --help only: RunCli handles `serve` before parsing (see above).
  app.add_subcommand("serve", "run assentd in the foreground; every flag is assentd's (see "
                              "`assent serve --help`)");

  auto* daemon_cmd = app.add_subcommand("daemon", "start, stop and inspect the background assentd");
  daemon_cmd->require_subcommand(1);
  DaemonStartOptions dstart;
  auto* dstart_cmd = daemon_cmd->add_subcommand("start", "start assentd in the background (log: DATA_DIR/assentd.log)");
  dstart_cmd->add_option("--listen", dstart.listen, "unix:PATH or tcp://HOST:PORT; repeatable");
  dstart_cmd->add_option("--wait-s", dstart.wait_s, "how long to wait for readiness")->capture_default_str();
  // Unknown flags are assentd's: keep them here rather than falling through.
  dstart_cmd->allow_extras();
  dstart_cmd->fallthrough(false);
  DaemonStopOptions dstop;
  auto* dstop_cmd = daemon_cmd->add_subcommand("stop", "send SIGTERM and wait for assentd to exit");
  dstop_cmd->add_option("--timeout-s", dstop.timeout_s, "how long to wait")->capture_default_str();
  dstop_cmd->add_flag("--force", dstop.force, "SIGKILL when it does not stop in time");
  auto* dstatus_cmd = daemon_cmd->add_subcommand("status", "pid, address, versions, uptime, pending requests");
  DaemonLogsOptions dlogs;
  auto* dlogs_cmd = daemon_cmd->add_subcommand("logs", "print the daemon's log");
  dlogs_cmd->add_option("-n,--lines", dlogs.lines, "lines from the end")->capture_default_str();
  dlogs_cmd->add_flag("-f,--follow", dlogs.follow, "keep printing new lines");

  auto* status_cmd = app.add_subcommand("status", "configuration, server reachability, pending requests");

  // ---- secrets ----
  auto* secret_cmd = app.add_subcommand("secret", "manage secrets (admin token)");
  secret_cmd->require_subcommand(1);
  SecretAddOptions sadd;
  std::string approval, description;
  int64_t ttl_default = 0, ttl_max = 0, uses = 0, approvals = 0;
  auto* sadd_cmd = secret_cmd->add_subcommand(
      "add", "create or replace a secret; the value comes from stdin or a no-echo prompt");
  sadd_cmd->add_option("name", sadd.name, "secret name")->required();
  auto* desc_opt = sadd_cmd->add_option("--description", description, "shown in listings");
  auto* approval_opt = sadd_cmd->add_option("--approval", approval, "always | never | forbidden")
                           ->check(CLI::IsMember({"always", "never", "forbidden"}));
  auto* ttl_default_opt = sadd_cmd->add_option("--ttl-default", ttl_default, "default grant TTL, seconds");
  auto* ttl_max_opt = sadd_cmd->add_option("--ttl-max", ttl_max, "maximum grant TTL, seconds");
  auto* uses_opt = sadd_cmd->add_option("--uses", uses, "reveals per grant");
  auto* approvals_opt = sadd_cmd->add_option("--approvals", approvals, "distinct approvals required");
  sadd_cmd->add_option("--kinds", sadd.kinds, "client kinds allowed (agent, script, cli)")->delimiter(',');
  sadd_cmd->add_flag("--bind-command", sadd.bind_command, "grants only for the command shown to the approver");
  sadd_cmd->add_flag("--binary", sadd.binary, "store stdin's bytes as they are (value_base64)");
  sadd_cmd->add_flag("--keep-newline", sadd.keep_newline, "keep a trailing newline read from stdin");
  auto* slist_cmd = secret_cmd->add_subcommand("list", "list secrets (metadata only, never values)");
  std::string srm_name;
  auto* srm_cmd = secret_cmd->add_subcommand("rm", "delete a secret (revokes its live grants)");
  srm_cmd->add_option("name", srm_name, "secret name")->required();

  // ---- requests and decisions ----
  RequestOptions req;
  auto* req_cmd = app.add_subcommand("request", "ask for access to secrets (without running anything)");
  req_cmd->add_option("secrets", req.secrets, "secret names")->required();
  req_cmd->add_option("-r,--reason", req.reason, "why (shown to the approver)")->required();
  req_cmd->add_option("--ttl", req.ttl_s, "grant lifetime, seconds");
  req_cmd->add_option("--timeout", req.timeout_s, "decision deadline, seconds");
  req_cmd->add_flag("--unattended", req.unattended, "a script asks (shorter default deadline)");
  req_cmd->add_flag("--wait", req.wait, "wait for the decision (exit 0 approved, 3 denied, 4 timed out)");
  req_cmd->add_option("--client-request-id", req.client_request_id, "idempotency key");

  ListRequestsOptions lreq;
  auto* lreq_cmd = app.add_subcommand("requests", "list requests (pending by default)");
  lreq_cmd->add_option("--state", lreq.state, "pending | approved | denied | timed_out | cancelled")
      ->check(CLI::IsMember({"pending", "approved", "denied", "timed_out", "cancelled"}));
  lreq_cmd->add_flag("--all", lreq.all, "every state");

  DecideOptions approve_o, deny_o;
  auto* approve_cmd = app.add_subcommand("approve", "approve a request (approver token)");
  approve_cmd->add_option("id", approve_o.request_id, "request id (rq_…)")->required();
  approve_cmd->add_option("--ttl", approve_o.ttl_s, "shorten the grant, seconds");
  approve_cmd->add_option("--note", approve_o.note, "note recorded with the decision");
  auto* deny_cmd = app.add_subcommand("deny", "deny a request (approver token)");
  deny_cmd->add_option("id", deny_o.request_id, "request id (rq_…)")->required();
  deny_cmd->add_option("--note", deny_o.note, "why (shown to the requester)");
  std::string cancel_id;
  auto* cancel_cmd = app.add_subcommand("cancel", "cancel your pending request");
  cancel_cmd->add_option("id", cancel_id, "request id (rq_…)")->required();

  GrantsOptions grants_o;
  auto* grants_cmd = app.add_subcommand("grants", "list grants");
  grants_cmd->add_option("--state", grants_o.state, "live | expired | revoked | exhausted")
      ->check(CLI::IsMember({"live", "expired", "revoked", "exhausted"}));
  grants_cmd->add_option("--request", grants_o.request_id, "only the grant of this request");
  std::string revoke_id;
  auto* revoke_cmd = app.add_subcommand("revoke", "end a grant now (gr_… or the rq_… it came from)");
  revoke_cmd->add_option("id", revoke_id, "grant or request id")->required();

  WatchOptions watch_o;
  auto* watch_cmd = app.add_subcommand("watch", "print events as they happen (reconnects on its own)");
  watch_cmd->add_option("--since", watch_o.since, "replay events after this id first");
  watch_cmd->add_option("--count", watch_o.count, "exit after this many events");

  auto* audit_cmd = app.add_subcommand("audit", "the tamper-evident audit log (admin token)");
  audit_cmd->require_subcommand(1);
  AuditVerifyOptions verify_o;
  auto* verify_cmd = audit_cmd->add_subcommand(
      "verify", "recompute the hash chain: the daemon's (admin token), or a database file "
                "offline with --db");
  verify_cmd->add_option("--db", verify_o.db_path,
                         "check this SQLite file read-only, without a daemon, config or token "
                         "(e.g. DATA_DIR/assent.db or a copy of it)");
  verify_cmd->footer(
      "Prints {ok, entries, head, first_bad_seq} with --json. Exit status: 0 the chain is\n"
      "intact, 1 it is broken (an entry was edited, deleted, inserted or reordered; the first\n"
      "bad seq is printed), 2 the file cannot be checked (missing, not SQLite, not an Assent\n"
      "database, written by a newer Assent, unreadable); without --db, the usual codes.");

  // ---- run ----
  RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "ask for secrets, wait for approval, run a command with them in its environment");
  run_cmd->add_option("-s,--secret", run.secrets, "NAME or NAME=ENV (repeatable)")->required();
  run_cmd->add_option("-r,--reason", run.reason, "why (shown to the approver; default: the command)");
  run_cmd->add_option("--ttl", run.ttl_s, "grant lifetime, seconds");
  run_cmd->add_option("--timeout", run.timeout_s, "decision deadline, seconds");
  run_cmd->add_flag("--unattended", run.unattended, "a script asks (shorter default deadline)");
  run_cmd->add_flag("--no-mask", run.no_mask, "do not mask values in the output (the command gets the TTY)");
  // Usually given after `--` (split off before parsing, see above); without `--` a
  // command whose arguments look like options would be parsed as ours.
  run_cmd->add_option("command", run.command, "-- CMD ARGS…");
  run_cmd->footer("Example: assent run --secret GITHUB_TOKEN=GH_TOKEN -- gh repo list\n"
                  "The command runs without a shell; its exit status becomes assent's.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (init_cmd->parsed()) return CmdInit(ctx, init);
    if (dstart_cmd->parsed()) {
      dstart.extra = dstart_cmd->remaining();  // assentd's own flags
      return CmdDaemonStart(ctx, dstart);
    }
    if (dstop_cmd->parsed()) return CmdDaemonStop(ctx, dstop);
    if (dstatus_cmd->parsed()) return CmdDaemonStatus(ctx);
    if (dlogs_cmd->parsed()) return CmdDaemonLogs(ctx, dlogs);
    if (status_cmd->parsed()) return CmdStatus(ctx);
    if (sadd_cmd->parsed()) {
      if (*desc_opt) sadd.description = description;
      if (*approval_opt) sadd.approval = approval;
      if (*ttl_default_opt) sadd.ttl_default_s = ttl_default;
      if (*ttl_max_opt) sadd.ttl_max_s = ttl_max;
      if (*uses_opt) sadd.uses = uses;
      if (*approvals_opt) sadd.approvals = approvals;
      return CmdSecretAdd(ctx, sadd);
    }
    if (slist_cmd->parsed()) return CmdSecretList(ctx);
    if (srm_cmd->parsed()) return CmdSecretRemove(ctx, srm_name);
    if (req_cmd->parsed()) return CmdRequest(ctx, req);
    if (lreq_cmd->parsed()) return CmdRequests(ctx, lreq);
    if (approve_cmd->parsed()) return CmdDecide(ctx, "approve", approve_o);
    if (deny_cmd->parsed()) return CmdDecide(ctx, "deny", deny_o);
    if (cancel_cmd->parsed()) return CmdCancel(ctx, cancel_id);
    if (grants_cmd->parsed()) return CmdGrants(ctx, grants_o);
    if (revoke_cmd->parsed()) return CmdRevoke(ctx, revoke_id);
    if (watch_cmd->parsed()) return CmdWatch(ctx, watch_o);
    if (verify_cmd->parsed()) return CmdAuditVerify(ctx, verify_o);
    if (run_cmd->parsed()) {
      if (has_dashes) {
        if (!run.command.empty())
          ctx.Die(kExitUsage, "assent run: unexpected arguments before `--`: " + run.command[0]);
        run.command = command_after_dashes;
      }
      return CmdRun(ctx, std::move(run));
    }
  } catch (const CliExit& e) {
    return e.code;
  }
  std::cerr << app.help() << "\n";
  return kExitUsage;
}

}  // namespace assent::cli
