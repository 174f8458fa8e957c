// init, serve, daemon start|stop|status|logs, status.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "auth/tokens.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"
#include "client/daemon_files.h"
#include "client/remote_service.h"
#include "crypto/crypto.h"
#include "daemon/daemon.h"
#include "daemon/engine_factory.h"
#include "daemon/files.h"

namespace assent::cli {

namespace fs = std::filesystem;
using client::ClientConfig;

namespace {

std::string NewToken(const std::string& role) {
  crypto::SystemRandom random;
  uint8_t bytes[32];
  random.Fill(bytes, sizeof(bytes));
  std::string raw(reinterpret_cast<char*>(bytes), sizeof(bytes));
  std::string token = "assent_" + role + "_" + crypto::Base64UrlEncode(raw);
  crypto::Wipe(raw);
  ::explicit_bzero(bytes, sizeof(bytes));
  return token;
}

std::string Absolute(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

// Writes a token file (0600), refusing to replace an existing file unless forced.
Status WriteTokenFile(const std::string& path, const std::string& token, bool force) {
  std::error_code ec;
  if (fs::exists(path, ec) && !force)
    return Status::Error(ErrorCode::kConflict, path + " exists (use --force to replace it)");
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec))
    return InvalidParams("the directory of " + path + " does not exist");
  return daemon::WriteFileAtomic(path, token + "\n", 0600);
}

// argv for assentd: data dir, listeners (the config's server plus the default socket),
// then the user's extra flags.
std::vector<std::string> DaemonArgs(const ClientConfig& c, const std::vector<std::string>& listen,
                                    const std::vector<std::string>& extra) {
  auto given = [&](const std::string& flag) {
    for (const auto& e : extra)
      if (e == flag || e.rfind(flag + "=", 0) == 0) return true;
    return false;
  };
  std::vector<std::string> args = {"assentd"};
  if (!given("--data-dir")) {
    args.push_back("--data-dir");
    args.push_back(c.data_dir);
  }
  std::vector<std::string> listeners = listen;
  if (listeners.empty() && !c.server.empty() && !given("--listen")) {
    std::string why;
    auto a = client::ParseServerAddress(c.server, &why);
    if (a && a->kind == client::ServerAddress::Kind::kTcp) {
      listeners.push_back("unix:" + client::DefaultSocketPath(c.data_dir));
      listeners.push_back("tcp://" + a->host + ":" + std::to_string(a->port));
    } else if (a) {
      listeners.push_back("unix:" + a->path);
    }
  }
  for (const auto& l : listeners) {
    args.push_back("--listen");
    args.push_back(l);
  }
  for (const auto& e : extra) args.push_back(e);
  return args;
}

// The last `n` lines of a file.
std::vector<std::string> TailLines(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  return {lines.begin(), lines.end()};
}

struct DaemonState {
  enum class Kind { kRunning, kStale, kNotRunning } kind = Kind::kNotRunning;
  pid_t pid = 0;
};

DaemonState InspectDaemon(const std::string& data_dir) {
  DaemonState s;
  std::optional<pid_t> pid = client::ReadPidFile(data_dir);
  if (!pid) {
    if (auto d = client::ReadDiscovery(data_dir)) pid = d->pid;
  }
  if (!pid) return s;
  s.pid = *pid;
  s.kind = client::ProcessAlive(*pid) && client::ProcessIsAssent(*pid) ? DaemonState::Kind::kRunning
                                                                       : DaemonState::Kind::kStale;
  return s;
}

void RemoveStaleFiles(const std::string& data_dir) {
  std::error_code ec;
  fs::remove(client::PidFilePath(data_dir), ec);
  fs::remove(client::DiscoveryFilePath(data_dir), ec);
}

std::string ListenersText(const client::DiscoveryInfo& d) {
  std::string out;
  for (const auto& l : d.listeners)
    out += std::string(out.empty() ? "" : ", ") + (l.transport == "tcp" ? "tcp://" : "unix:") + l.address;
  return out;
}

// The number of pending requests, seen with the strongest token the config records;
// -1 when unknown. (An int, not an optional: GCC 12 warns falsely on optional<int64_t>.)
int64_t CountPending(CliContext& ctx, std::string* scope) {
  const ClientConfig& c = ctx.Config();
  std::string role = !c.approver_token_file.empty() ? "approver"
                     : !c.admin_token_file.empty()  ? "admin"
                                                    : "agent";
  try {
    auto service = ctx.Open(role);
    if (role == "agent") {
      ctx.EnsureIdentity(*service);
      *scope = "yours";
    } else {
      *scope = "all";
    }
    int64_t count = 0;
    std::optional<std::string> after;
    for (int page = 0; page < 100; ++page) {
      auto r = service->ListRequests("pending", 500, after);
      if (!r.ok()) return -1;
      count += static_cast<int64_t>((*r)["requests"].size());
      if (!(*r)["next_after"].is_string()) break;
      after = (*r)["next_after"].get<std::string>();
    }
    return count;
  } catch (const CliExit&) {
    return -1;
  }
}

}  // namespace

int CmdInit(CliContext& ctx, const InitOptions& o) {
  const std::string home = client::AssentHome();
  const std::string config_path = client::ConfigPath();
  std::error_code ec;
  if (fs::exists(config_path, ec) && !o.force)
    ctx.Die(kExitUsage, "assent: already initialised (" + config_path +
                            ") — `assent init --force` makes new tokens (restart the daemon "
                            "afterwards; the old tokens stop working).");
  if (o.mode != "client" && o.mode != "standalone")
    ctx.Die(kExitUsage, "assent init: --mode must be client or standalone");
  ClientConfig c;
  c.mode = o.mode;
  c.data_dir = o.data_dir.empty() ? client::DefaultDataDir() : Absolute(o.data_dir);
  if (!o.server.empty()) {
    std::string why;
    if (!client::ParseServerAddress(o.server, &why)) ctx.Die(kExitUsage, "assent init: --server " + why);
    c.server = o.server;
  }
  c.client_kind = o.client_kind;
  c.client_name = o.client_name;
  const std::string tokens_path = c.data_dir + "/tokens.json";
  if (fs::exists(tokens_path, ec) && !o.force)
    ctx.Die(kExitUsage, "assent: " + tokens_path + " already exists — `assent init --force` "
                                                   "replaces it (the old tokens stop working).");
  if (Status st = daemon::EnsurePrivateDir(home); !st.ok()) ctx.Die(kExitFailure, "assent: " + st.message());
  if (Status st = daemon::EnsurePrivateDir(c.data_dir); !st.ok())
    ctx.Die(kExitFailure, "assent: " + st.message());

  // The master key, exactly as the daemon and standalone mode create it (an existing
  // key is kept: replacing it would make every stored secret unreadable).
  {
    crypto::SystemRandom random;
    auto key = daemon::LoadOrCreateMasterKey(c.data_dir + "/master.key", random);
    if (!key.ok()) ctx.Die(kExitFailure, "assent: " + key.status().message());
    crypto::Wipe(*key);
  }

  ScopedToken admin(NewToken("admin")), approver(NewToken("approver")), agent(NewToken("agent"));
  json tokens = {{"version", 1},
                 {"tokens",
                  {{{"name", "admin"}, {"role", "admin"},
                    {"hash", auth::TokenStore::HashForFile(admin.get())}},
                   {{"name", "approver"}, {"role", "approver"},
                    {"hash", auth::TokenStore::HashForFile(approver.get())}},
                   {{"name", "agent"}, {"role", "agent"},
                    {"hash", auth::TokenStore::HashForFile(agent.get())}}}}};
  if (Status st = daemon::WriteFileAtomic(tokens_path, tokens.dump(2) + "\n", 0600); !st.ok())
    ctx.Die(kExitFailure, "assent: " + st.message());
  c.agent_token = agent.get();
  if (!o.admin_token_file.empty()) {
    c.admin_token_file = Absolute(o.admin_token_file);
    if (Status st = WriteTokenFile(c.admin_token_file, admin.get(), o.force); !st.ok())
      ctx.Die(kExitUsage, "assent init: --admin-token-file: " + st.message());
  }
  if (!o.approver_token_file.empty()) {
    c.approver_token_file = Absolute(o.approver_token_file);
    if (Status st = WriteTokenFile(c.approver_token_file, approver.get(), o.force); !st.ok())
      ctx.Die(kExitUsage, "assent init: --approver-token-file: " + st.message());
  }
  if (Status st = client::SaveClientConfig(config_path, c); !st.ok())
    ctx.Die(kExitFailure, "assent: " + st.message());

  if (ctx.options.json) {
    json out = {{"config", config_path},     {"mode", c.mode},
                {"data_dir", c.data_dir},    {"tokens_file", tokens_path},
                {"admin_token", admin.get()}, {"approver_token", approver.get()}};
    if (!c.admin_token_file.empty()) out["admin_token_file"] = c.admin_token_file;
    if (!c.approver_token_file.empty()) out["approver_token_file"] = c.approver_token_file;
    ctx.PrintJson(out);
    return kExitOk;
  }
  std::cout << "Assent initialised.\n"
            << "  config:      " << config_path << " (0600; mode " << c.mode
            << "; holds the agent token)\n"
            << "  data:        " << c.data_dir << "\n"
            << "  tokens file: " << tokens_path << " (hashes only, read by assentd)\n"
            << "  master key:  " << c.data_dir << "/master.key (0600; encrypts the secrets)\n\n"
            << "These two tokens are shown once. Keep them where your agent cannot read them:\n"
            << "  admin token:    " << admin.get()
            << (c.admin_token_file.empty() ? "" : "   (also written to " + c.admin_token_file + ")")
            << "\n"
            << "  approver token: " << approver.get()
            << (c.approver_token_file.empty() ? "" : "   (also written to " + c.approver_token_file + ")")
            << "\n\n"
            << "WARNING: whoever holds the approver token can approve requests. An agent running\n"
            << "as your user reads every file you can read: if the approver token sits in such a\n"
            << "file, the agent can approve its own requests and Assent protects nothing. For a\n"
            << "safe setup approve on Discord (assentd --discord-…), or run assentd and the approver\n"
            << "under another account, in a container or on another host.\n\n"
            << "Next steps:\n"
            << "  assent daemon start\n"
            << "  assent secret add GITHUB_TOKEN --token-file ADMIN_TOKEN_FILE   (value from stdin or a prompt)\n"
            << "  assent run --secret GITHUB_TOKEN -- gh repo list\n"
            << "  assent approve rq_… --token-file APPROVER_TOKEN_FILE          (in another terminal)\n";
  if (c.mode == "standalone")
    std::cout << "\nStandalone mode: commands open " << c.data_dir
              << " directly; no daemon is needed.\n";
  return kExitOk;
}

int CmdServe(CliContext& ctx, const ServeOptions& o) {
  const ClientConfig& c = ctx.Config();
  std::vector<std::string> args = DaemonArgs(c, o.listen, o.extra);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  daemon::DaemonConfig config;
  int exit_code = 0;
  if (!daemon::ParseDaemonArgs(static_cast<int>(args.size()), argv.data(), &config, &exit_code))
    return exit_code;
  return daemon::RunDaemon(config);
}

int CmdDaemonStart(CliContext& ctx, const DaemonStartOptions& o) {
  const ClientConfig& c = ctx.Config();
  if (Status st = daemon::EnsurePrivateDir(c.data_dir); !st.ok())
    ctx.Die(kExitFailure, "assent: " + st.message());
  DaemonState state = InspectDaemon(c.data_dir);
  if (state.kind == DaemonState::Kind::kRunning) {
    std::string where;
    if (auto d = client::ReadDiscovery(c.data_dir)) where = " at " + ListenersText(*d);
    ctx.Die(kExitFailure, "assent: assentd is already running (pid " + std::to_string(state.pid) +
                              ")" + where + " — stop it with `assent daemon stop`.");
  }
  if (state.kind == DaemonState::Kind::kStale) {
    ctx.Note("assent: removing the stale PID file of pid " + std::to_string(state.pid) +
             " (the daemon did not exit cleanly; see `assent daemon logs`)");
    RemoveStaleFiles(c.data_dir);
  }
  client::ServerAddress address = client::ResolveServerAddress(c, ctx.options.server);
  if (client::RemoteService(address, "").Healthy(500))
    ctx.Die(kExitFailure, "assent: a server already answers at " + address.ToString() +
                              " without a PID file in " + c.data_dir + " — stop it first.");

  const std::string log_path = client::DaemonLogPath(c.data_dir);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    ctx.Die(kExitFailure, "assent: cannot open " + log_path + ": " + std::strerror(errno));
  // The child is `assent serve ARGS…`: the same binary, so the same engine version.
  std::vector<std::string> args = DaemonArgs(c, o.listen, o.extra);
  args[0] = "serve";
  args.insert(args.begin(), "assent");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::cout.flush();
  std::cerr.flush();
  pid_t pid = ::fork();
  if (pid < 0) ctx.Die(kExitFailure, std::string("assent: cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv("/proc/self/exe", argv.data());
    std::string msg = std::string("assent daemon start: exec failed: ") + std::strerror(errno) + "\n";
    ssize_t w = ::write(STDERR_FILENO, msg.data(), msg.size());
    (void)w;
    ::_exit(127);
  }
  ::close(log_fd);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_s);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::string tail;
      for (const auto& l : TailLines(log_path, 10)) tail += "\n  " + l;
      ctx.Die(kExitFailure, "assent: assentd exited during start-up (status " +
                                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                                "); the end of " + log_path + ":" + tail);
    }
    auto d = client::ReadDiscovery(c.data_dir);
    if (d && d->pid == pid) {
      if (ctx.options.json) {
        json listeners = json::array();
        for (const auto& l : d->listeners) listeners.push_back({{"transport", l.transport}, {"address", l.address}});
        ctx.PrintJson({{"pid", pid}, {"listeners", listeners}, {"log", log_path},
                       {"daemon_version", d->daemon_version}, {"protocol_version", d->protocol_version}});
      } else {
        std::cout << "assentd started (pid " << pid << ") on " << ListenersText(*d) << "\n"
                  << "  log: " << log_path << "\n";
      }
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ctx.Die(kExitFailure, "assent: assentd (pid " + std::to_string(pid) + ") did not announce itself within " +
                            std::to_string(o.wait_s) + " s — see `assent daemon logs`.");
}

int CmdDaemonStop(CliContext& ctx, const DaemonStopOptions& o) {
  const ClientConfig& c = ctx.Config();
  DaemonState state = InspectDaemon(c.data_dir);
  if (state.kind == DaemonState::Kind::kNotRunning) {
    if (ctx.options.json) ctx.PrintJson({{"stopped", false}, {"running", false}});
    else std::cout << "assentd is not running\n";
    return kExitOk;
  }
  if (state.kind == DaemonState::Kind::kStale) {
    RemoveStaleFiles(c.data_dir);
    if (ctx.options.json) ctx.PrintJson({{"stopped", false}, {"running", false}, {"stale_pid", state.pid}});
    else std::cout << "assentd is not running (removed the stale PID file of pid " << state.pid << ")\n";
    return kExitOk;
  }
  if (::kill(state.pid, SIGTERM) != 0 && errno != ESRCH)
    ctx.Die(kExitFailure, "assent: cannot signal pid " + std::to_string(state.pid) + ": " + std::strerror(errno));
  auto gone = [&] { return !client::ProcessAlive(state.pid) || !client::ProcessIsAssent(state.pid); };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  while (!gone() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  bool killed = false;
  if (!gone()) {
    if (!o.force)
      ctx.Die(kExitFailure, "assent: assentd (pid " + std::to_string(state.pid) + ") did not stop within " +
                                std::to_string(o.timeout_s) + " s — `assent daemon stop --force` sends SIGKILL.");
    ::kill(state.pid, SIGKILL);
    killed = true;
    for (int i = 0; i < 200 && !gone(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    RemoveStaleFiles(c.data_dir);
  }
  if (ctx.options.json) ctx.PrintJson({{"stopped", true}, {"pid", state.pid}, {"killed", killed}});
  else std::cout << "assentd stopped (pid " << state.pid << (killed ? ", killed" : "") << ")\n";
  return kExitOk;
}

int CmdDaemonStatus(CliContext& ctx) {
  const ClientConfig& c = ctx.Config();
  DaemonState state = InspectDaemon(c.data_dir);
  if (state.kind != DaemonState::Kind::kRunning) {
    std::string why = state.kind == DaemonState::Kind::kStale
                          ? "not running (stale PID file of pid " + std::to_string(state.pid) +
                                ": it did not exit cleanly — see `assent daemon logs`)"
                          : "not running";
    if (ctx.options.json) ctx.PrintJson({{"running", false}, {"stale_pid", state.kind == DaemonState::Kind::kStale ? json(state.pid) : json(nullptr)}});
    else std::cout << "assentd is " << why << " — start it with `assent daemon start`\n";
    return kExitUnreachable;
  }
  auto d = client::ReadDiscovery(c.data_dir);
  auto uptime = client::ProcessUptimeSeconds(state.pid);
  client::ServerAddress address = client::ResolveServerAddress(c, ctx.options.server);
  client::RemoteService probe(address, c.agent_token);
  auto info = probe.Info();
  std::string scope;
  int64_t pending = info.ok() ? CountPending(ctx, &scope) : -1;
  if (ctx.options.json) {
    json out = {{"running", true}, {"pid", state.pid}, {"endpoint", address.ToString()},
                {"uptime_s", uptime ? json(*uptime) : json(nullptr)},
                {"log", client::DaemonLogPath(c.data_dir)}, {"answering", info.ok()}};
    if (d) {
      json listeners = json::array();
      for (const auto& l : d->listeners) listeners.push_back({{"transport", l.transport}, {"address", l.address}});
      out["listeners"] = listeners;
      out["daemon_version"] = d->daemon_version;
      out["protocol_version"] = d->protocol_version;
    }
    if (info.ok()) out["profiles"] = (*info)["profiles"];
    out["pending_requests"] = pending >= 0 ? json(pending) : json(nullptr);
    if (pending >= 0) out["pending_scope"] = scope;
    ctx.PrintJson(out);
  } else {
    std::cout << "assentd is running (pid " << state.pid;
    if (uptime) std::cout << ", up " << FormatDuration(*uptime);
    std::cout << ")\n";
    if (d) {
      std::cout << "  listening: " << ListenersText(*d) << "\n"
                << "  versions:  assentd " << d->daemon_version << ", protocol " << d->protocol_version << "\n";
    }
    if (info.ok()) {
      std::string profiles;
      for (const auto& p : (*info)["profiles"]) profiles += (profiles.empty() ? "" : ", ") + p.get<std::string>();
      std::cout << "  profiles:  " << profiles << "\n";
    } else {
      std::cout << "  not answering at " << address.ToString() << ": " << info.error().Describe() << "\n";
    }
    if (pending >= 0) std::cout << "  pending:   " << pending << " request" << (pending == 1 ? "" : "s") << " (" << scope << ")\n";
    std::cout << "  log:       " << client::DaemonLogPath(c.data_dir) << "\n";
  }
  return info.ok() ? kExitOk : kExitUnreachable;
}

int CmdDaemonLogs(CliContext& ctx, const DaemonLogsOptions& o) {
  const ClientConfig& c = ctx.Config();
  const std::string path = client::DaemonLogPath(c.data_dir);
  std::ifstream probe(path);
  if (!probe)
    ctx.Die(kExitNotFound, "assent: no daemon log at " + path +
                               " (it is written by `assent daemon start`; `assent serve` logs to stderr)");
  probe.close();
  for (const auto& l : TailLines(path, static_cast<size_t>(std::max<int64_t>(o.lines, 0))))
    std::cout << l << "\n";
  std::cout.flush();
  if (!o.follow) return kExitOk;
  std::ifstream in(path);
  in.seekg(0, std::ios::end);
  std::string line;
  while (true) {
    if (std::getline(in, line)) {
      std::cout << line << "\n" << std::flush;
      continue;
    }
    in.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int CmdStatus(CliContext& ctx) {
  const ClientConfig& c = ctx.Config();
  bool has_config = ctx.HasConfigFile();
  auto service = ctx.Open("agent");
  auto info = service->Info();
  std::string scope;
  int64_t pending = info.ok() ? CountPending(ctx, &scope) : -1;
  if (ctx.options.json) {
    json out = {{"config", has_config ? json(client::ConfigPath()) : json(nullptr)},
                {"mode", c.mode}, {"data_dir", c.data_dir}, {"endpoint", service->Endpoint()},
                {"reachable", info.ok()}};
    if (info.ok()) {
      out["daemon_version"] = (*info)["daemon_version"];
      out["protocol_version"] = (*info)["protocol_version"];
      out["profiles"] = (*info)["profiles"];
      out["role"] = (*info)["role"];
    } else {
      out["error"] = {{"name", info.error().name}, {"message", info.error().message}};
    }
    out["pending_requests"] = pending >= 0 ? json(pending) : json(nullptr);
    ctx.PrintJson(out);
  } else {
    std::cout << "config:   " << (has_config ? client::ConfigPath() : "(none — run `assent init`)") << "\n"
              << "mode:     " << c.mode << "\n"
              << "server:   " << service->Endpoint();
    if (info.ok())
      std::cout << " — reachable, " << (*info).value("name", "assentd") << " "
                << (*info).value("daemon_version", "?") << ", protocol "
                << (*info).value("protocol_version", "?") << "\n";
    else
      std::cout << " — " << Advice(info.error(), service->Endpoint()) << "\n";
    if (pending >= 0) std::cout << "pending:  " << pending << " request" << (pending == 1 ? "" : "s") << " (" << scope << ")\n";
  }
  if (!info.ok()) return ExitCodeFor(info.error());
  return kExitOk;
}

}  // namespace assent::cli
