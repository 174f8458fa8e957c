#include "daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "approvers/discord/config.h"
#include "approvers/discord/discord_approver.h"
#include "approvers/discord/engine_backend.h"
#include "auth/tokens.h"
#include "base/clock.h"
#include "base/fault.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "daemon/engine_factory.h"
#include "daemon/files.h"
#include "events/event_log.h"
#include "http/event_stream.h"
#include "methods/domain.h"
#include "http/metrics.h"
#include "http/server.h"
#include "base/limits.h"
#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"

namespace assent::daemon {

using nlohmann::json;

namespace {

std::string DefaultDataDir() {
  if (const char* home = std::getenv("ASSENT_HOME"); home && *home)
    return std::string(home) + "/data";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.assent/data";
  return ".assent/data";
}

Result<http::ListenerConfig> ParseListen(const std::string& spec) {
  http::ListenerConfig l{};
  if (spec.rfind("unix:", 0) == 0) {
    l.kind = http::ListenerConfig::Kind::kUnix;
    l.path = std::filesystem::absolute(spec.substr(5)).string();
    if (spec.size() == 5) return InvalidParams("--listen unix: needs a socket path");
    return l;
  }
  if (spec.rfind("tcp://", 0) == 0) {
    std::string rest = spec.substr(6);
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return InvalidParams("--listen " + spec + ": expected tcp://HOST:PORT");
    l.kind = http::ListenerConfig::Kind::kTcp;
    l.host = rest.substr(0, colon);
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535)
      return InvalidParams("--listen " + spec + ": port must be 0..65535");
    l.port = std::stoi(port);
    return l;
  }
  return InvalidParams("--listen " + spec +
                       ": expected unix:PATH or tcp://HOST:PORT (e.g. tcp://127.0.0.1:8750)");
}

}  // namespace

bool ParseDaemonArgs(int argc, char** argv, DaemonConfig* c, int* exit_code) {
  CLI::App app{
      "assentd — the Assent daemon: human-approved, expiring, client-bound access to "
      "secrets.\n\nListens on a Unix socket (default DATA_DIR/run/assentd.sock) and "
      "optionally TCP; writes DATA_DIR/assentd.json once ready.\nExamples:\n"
      "  assentd --data-dir ~/.assent/data\n"
      "  assentd --data-dir /tmp/a --listen tcp://127.0.0.1:8750 --tokens-file tokens.json",
      "assentd"};
  app.set_version_flag("--version", std::string("assentd ") + kDaemonVersion +
                                        " (protocol 1)");
  c->data_dir = DefaultDataDir();
  app.add_option("--data-dir", c->data_dir, "data directory (created 0700)")
      ->capture_default_str();
  app.add_option("--listen", c->listen,
                 "listener: unix:PATH or tcp://HOST:PORT (port 0 = any free); repeatable");
  app.add_option("--tokens-file", c->tokens_file,
                 "tokens file of hashed tokens (default DATA_DIR/tokens.json if present)");
  app.add_option("--allow-uid", c->allowed_uids,
                 "UID besides the daemon's own allowed on the Unix socket; repeatable");
  app.add_flag("--validate-responses", c->validate_responses,
               "validate every result against its schema (a mismatch is a bug: -32603)");
  app.add_flag("--unauthenticated-metrics", c->unauthenticated_metrics,
               "serve /metrics without a token");
  app.add_option("--heartbeat-s", c->heartbeat_s, "SSE heartbeat interval, seconds")
      ->check(CLI::Range(limits::kHeartbeatSecondsMin, int64_t{3600}))
      ->capture_default_str();
  app.add_option("--timeout-interactive-s", c->timeout_interactive_s,
                 "default decision timeout of interactive requests, seconds")
      ->check(CLI::Range(int64_t{1}, limits::kTimeoutSecondsMax))
      ->capture_default_str();
  app.add_option("--timeout-unattended-s", c->timeout_unattended_s,
                 "default decision timeout of unattended requests, seconds")
      ->check(CLI::Range(int64_t{1}, limits::kTimeoutSecondsMax))
      ->capture_default_str();
  app.add_option("--event-retention-count-max", c->event_retention_count_max,
                 "keep at most the newest N events for replay (GET /events?since=); older "
                 "ones are pruned within seconds and a replay from before them starts with "
                 "a gap event")
      ->check(CLI::Range(int64_t{1}, limits::kEventRetentionCountMax))
      ->capture_default_str();
  app.add_option("--event-retention-s", c->event_retention_s,
                 "keep events for replay at most S seconds (pruned within S/10 s, at most "
                 "60 s, after that)")
      ->check(CLI::Range(int64_t{1}, limits::kEventRetentionSeconds))
      ->capture_default_str();
  app.add_option("--discord-api-base", c->discord_api_base,
                 "Discord REST base URL (default https://discord.com/api/v10)");
  app.add_option("--discord-public-key", c->discord_public_key,
                 "Discord application public key (64 hex) for interaction signatures");
  app.add_option("--discord-bot-token-file", c->discord_bot_token_file,
                 "file holding the bot token (mode 0600)");
  app.add_option("--discord-channel-id", c->discord_channel_id, "channel for approvals");
  app.add_option("--discord-allow-user", c->discord_allowed_users,
                 "Discord user id allowed to decide; repeatable");
  app.add_option("--discord-mode", c->discord_mode, "interactions | reactions")
      ->check(CLI::IsMember({"interactions", "reactions"}))
      ->capture_default_str();
  app.add_flag("--discord-check", c->discord_check,
               "post one harmless message (no buttons) to the Discord channel, print what "
               "Discord answered, and exit (0 ok, 1 failed): checks token, channel and API base");
  app.add_option("--log-level", c->log_level, "debug | info | warn | error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
#if ASSENT_FAULTS  // the mutation-testing build only (base/fault.h, docs/RFC/0002)
  app.add_option_function<std::string>("--fault", [](const std::string& name) {
    if (!fault::Select(name)) throw CLI::ValidationError("--fault", "unknown fault " + name);
    std::cerr << "assentd: FAULT INJECTED: " << name << " (a deliberately broken daemon)\n";
  }, "switch on one named fault (see --list-faults)");
  app.add_flag_callback("--list-faults", [] {
    for (auto name : fault::kNames) std::cout << name << "\n";
    throw CLI::Success();
  }, "print the fault names and exit");
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    if (*exit_code != 0) *exit_code = 2;  // usage error
    return false;
  }
  return true;
}

int RunDaemon(const DaemonConfig& cfg) {
  if (cfg.log_level == "debug") log::SetLevel(log::Level::kDebug);
  else if (cfg.log_level == "warn") log::SetLevel(log::Level::kWarn);
  else if (cfg.log_level == "error") log::SetLevel(log::Level::kError);

  if (!crypto::Init()) {
    std::cerr << "assentd: libsodium failed to initialise\n";
    return 1;
  }
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto fail = [](const std::string& what) {
    std::cerr << "assentd: " << what << "\n";
    return 1;
  };
  const std::string data_dir = std::filesystem::absolute(cfg.data_dir).string();
  if (Status st = EnsurePrivateDir(data_dir); !st.ok()) return fail(st.message());

  auto registry_or = spec::SpecRegistry::Shared();
  if (!registry_or.ok()) return fail("embedded spec: " + registry_or.status().message());
  const spec::SpecRegistry& registry = **registry_or;

  // Tokens: an explicit file must load; the default one is optional.
  auth::TokenStore tokens;
  std::string tokens_path = cfg.tokens_file;
  if (tokens_path.empty() && std::filesystem::exists(data_dir + "/tokens.json"))
    tokens_path = data_dir + "/tokens.json";
  if (!tokens_path.empty()) {
    struct stat tst {};
    if (::stat(tokens_path.c_str(), &tst) == 0) {
      // A tokens file others can write lets them add an admin hash: refuse. Readable
      // hashes of 128-bit random tokens reveal nothing usable, so that only warns
      // (ASSENT-AUTH-012 is a SHOULD; see docs/RFC/0001).
      if (tst.st_mode & 022)
        return fail("tokens file " + tokens_path +
                    " is writable by group or others; chmod 600 it");
      if (tst.st_mode & 044)
        log::Warn("auth.tokens_file_readable", {{"path", tokens_path},
                                                {"hint", "chmod 600 the tokens file"}});
    }
    auto t = auth::TokenStore::LoadFile(tokens_path);
    if (!t.ok()) return fail(t.status().message());
    tokens = std::move(*t);
  }

  // The Discord approver is configured before the engine: a bad flag or token file stops
  // start-up, and the engine writes outbox rows only when someone consumes them.
  std::optional<discord::DiscordConfig> discord_config;
  {
    discord::DiscordFlags f;
    f.api_base = cfg.discord_api_base;
    f.public_key_hex = cfg.discord_public_key;
    f.bot_token_file = cfg.discord_bot_token_file;
    f.channel_id = cfg.discord_channel_id;
    f.allowed_users = {cfg.discord_allowed_users.begin(), cfg.discord_allowed_users.end()};
    f.mode = cfg.discord_mode;
    if (discord::DiscordRequested(f)) {
      auto dc = discord::LoadDiscordConfig(f);
      if (!dc.ok()) return fail(dc.status().message());
      discord_config = std::move(*dc);
    }
  }
  core::EngineConfig engine_config;
  engine_config.timeout_interactive_s = cfg.timeout_interactive_s;
  engine_config.timeout_unattended_s = cfg.timeout_unattended_s;
  engine_config.outbox_enabled = discord_config.has_value();
  auto bundle_or = OpenEngine(data_dir, engine_config);
  if (!bundle_or.ok()) return fail(bundle_or.status().message());
  EngineBundle& bundle = **bundle_or;
  core::Engine& engine = *bundle.engine;
  Clock& clock = bundle.clock;

  rpc::Dispatcher dispatcher;
  std::vector<std::string> profiles = {"core", "events"};
  if (discord_config) profiles.push_back("discord");
  methods::RegisterSystemMethods(
      dispatcher, registry,
      {kDaemonVersion, profiles},
      {{"event_retention_count_max", cfg.event_retention_count_max},
       {"event_retention_s", cfg.event_retention_s}});
  methods::RegisterDomainMethods(dispatcher, engine);
  methods::RegisterRemainingAsNotImplemented(dispatcher, registry);
  if (std::string problems = dispatcher.CheckAgainstSpec(registry.MethodNames());
      !problems.empty())
    return fail("dispatch table disagrees with the spec:\n" + problems);

  rpc::RpcEndpoint endpoint(registry, dispatcher, {cfg.validate_responses});
  http::Metrics metrics;
  std::set<std::string> spec_methods;
  for (const auto& m : registry.MethodNames()) spec_methods.insert(m);
  {
    std::vector<std::string> methods(spec_methods.begin(), spec_methods.end());
    methods.push_back("unknown");
    std::vector<std::string> outcomes;
    for (ErrorCode c : {ErrorCode::kOk, ErrorCode::kParseError, ErrorCode::kInvalidRequest,
                        ErrorCode::kMethodNotFound, ErrorCode::kInvalidParams,
                        ErrorCode::kInternal, ErrorCode::kForbidden, ErrorCode::kNotFound,
                        ErrorCode::kInvalidState, ErrorCode::kExpired, ErrorCode::kConflict,
                        ErrorCode::kLimitExceeded, ErrorCode::kAuditUnavailable,
                        ErrorCode::kNotImplemented})
      outcomes.push_back(ErrorName(c));
    metrics.PreRegisterRpc(methods, outcomes);
  }
  endpoint.SetObserver([&metrics, spec_methods](const std::string& method, ErrorCode code) {
    // Unknown names are attacker-chosen: never a label.
    metrics.CountRpc(spec_methods.count(method) ? method : "unknown", ErrorName(code));
  });
  auth::Lockout lockout(clock);

  http::ServerOptions options;
  options.allowed_uids = cfg.allowed_uids;
  options.unauthenticated_metrics = cfg.unauthenticated_metrics;
  std::vector<std::string> listen = cfg.listen;
  if (listen.empty()) listen.push_back("unix:" + data_dir + "/run/assentd.sock");
  for (const auto& spec : listen) {
    auto l = ParseListen(spec);
    if (!l.ok()) return fail(l.status().message());
    options.listeners.push_back(*l);
  }
  http::HttpServer server(options, endpoint, tokens, lockout, metrics);
  server.SetClientVerifier([&engine](const std::string& id, const std::string& key) {
    return engine.VerifyClient(id, key);
  });
  // Every authentication failure and lockout goes to the audit chain (ASSENT-AUTH-007).
  server.SetAuthFailureSink([&engine](const std::string& peer, const std::string& reason,
                                      bool locked) {
    log::Warn(locked ? "auth.lockout" : "auth.failure", {{"peer", peer}, {"reason", reason}});
    json subject = {{"peer", peer.substr(0, 128)}};
    engine.RecordAudit({{"role", "anonymous"}}, "auth.failure", subject, "refused");
    if (locked) engine.RecordAudit({{"role", "anonymous"}}, "auth.lockout", subject, "refused");
  });

  events::RetentionConfig retention;
  retention.retention_s = cfg.event_retention_s;
  retention.retention_count_max = cfg.event_retention_count_max;
  events::EventLog event_log(*bundle.store, clock, retention);
  http::SseStreamer streamer(event_log, cfg.heartbeat_s, limits::kSseSubscribersMax);
  server.SetEventStreamer(&streamer);
  int64_t subscription =
      engine.Subscribe([&streamer](int64_t last_event_id) { streamer.Notify(last_event_id); });

  metrics.AddGauge("assent_sse_subscribers", "Open event streams.",
                   [&streamer] { return static_cast<double>(streamer.Subscribers()); });
  // Gauges counted in the store, each in a read transaction of its own (0 if it fails).
  auto store_gauge = [&](const char* name, const char* help,
                         std::function<Result<int64_t>(store::ReadTx&)> count) {
    metrics.AddGauge(name, help, [&bundle, count = std::move(count)] {
      int64_t n = 0;
      bundle.store->WithReadTransaction([&](store::ReadTx& tx) {
        if (auto c = count(tx); c.ok()) n = *c;
        return Status::Ok();
      });
      return static_cast<double>(n);
    });
  };
  store_gauge("assent_pending_requests", "Requests waiting for a decision.",
              [](store::ReadTx& tx) { return tx.CountRequests("", "pending"); });
  store_gauge("assent_live_grants", "Grants that can still be used.",
              [](store::ReadTx& tx) { return tx.CountGrants("live"); });
  store_gauge("assent_audit_entries", "Entries in the audit chain.",
              [](store::ReadTx& tx) -> Result<int64_t> {
                auto h = tx.GetAuditHead();
                if (!h.ok()) return h.status();
                return h->seq;
              });
  store_gauge("assent_outbox_depth", "Discord outbox rows not yet done.",
              [](store::ReadTx& tx) -> Result<int64_t> {
                int64_t n = 0;
                for (const char* state : {"pending", "inflight"}) {
                  auto c = tx.CountOutbox(state);
                  if (c.ok()) n += *c;
                }
                return n;
              });

  // The sweeper: makes due transitions (timeouts, expiries) on time even when nobody
  // calls, and prunes the event log within its retention (ASSENT-EVT-007): by age every
  // retention_s / 10 seconds (1..60), and by count as soon as the log holds more than
  // retention_count_max events plus a slack of 1/16 of it (so a full log is pruned in
  // batches, not once per event) — within about a second of the commit, as the sweeper
  // wakes at least once a second (ASSENT-TGT-007).
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool stopping = false;
  std::atomic<int64_t> last_event_id{0};
  int64_t prune_subscription = engine.Subscribe(
      [&last_event_id](int64_t id) { last_event_id.store(id, std::memory_order_relaxed); });
  const auto prune_interval =
      std::chrono::seconds(std::clamp<int64_t>(cfg.event_retention_s / 10, 1, 60));
  const int64_t prune_slack = cfg.event_retention_count_max / 16;
  std::thread sweeper([&] {
    auto next_prune = std::chrono::steady_clock::now();
    // Pruning by count is due once the newest id passes this; recomputed after a prune.
    int64_t prune_at_id = 0;
    std::unique_lock<std::mutex> lock(sweep_mu);
    while (!stopping) {
      lock.unlock();
      if (auto r = engine.Sweep(); !r.ok())
        log::Error("sweep.failed", {{"message", r.status().message()}});
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_prune || last_event_id.load(std::memory_order_relaxed) > prune_at_id) {
        if (auto p = event_log.PruneOnce(); !p.ok())
          log::Error("events.prune_failed", {{"message", p.status().message()}});
        else if (*p > 0)
          log::Log(log::Level::kDebug, "events.pruned", {{"rows", std::to_string(*p)}});
        if (auto oldest = event_log.OldestRetainedId(); oldest.ok())
          prune_at_id = *oldest + cfg.event_retention_count_max + prune_slack - 1;
        if (now >= next_prune) next_prune = now + prune_interval;
      }
      int64_t wait_ms = 1000;
      if (auto next = engine.NextDeadline())
        wait_ms = std::clamp<int64_t>(*next - clock.NowMs(), 0, 1000);
      lock.lock();
      sweep_cv.wait_for(lock, std::chrono::milliseconds(wait_ms + 1), [&] { return stopping; });
    }
  });

  std::unique_ptr<discord::EngineBackend> discord_backend;
  std::unique_ptr<discord::DiscordApprover> discord_approver;
  int64_t discord_subscription = 0;
  if (discord_config) {
    discord_backend = std::make_unique<discord::EngineBackend>(engine);
    discord_approver = std::make_unique<discord::DiscordApprover>(
        *discord_config, *bundle.store, clock, bundle.random, *discord_backend);
    auto handler = discord_approver->InteractionsHandler();
    server.SetInteractionsHandler([handler](const http::RawRequest& req) {
      discord::InteractionResponse out = handler({req.body, req.header});
      http::RawResponse res;
      res.status = out.status;
      res.content_type = out.content_type;
      res.body = std::move(out.body);
      return res;
    });
    discord::DiscordApprover* approver = discord_approver.get();
    discord_subscription = engine.Subscribe([approver](int64_t) { approver->Wake(); });
  }
  auto stop_discord = [&] {
    if (discord_approver) {
      engine.Unsubscribe(discord_subscription);
      discord_approver->Stop();
    }
  };
  auto stop_sweeper = [&] {
    {
      std::lock_guard<std::mutex> g(sweep_mu);
      stopping = true;
    }
    sweep_cv.notify_all();
    sweeper.join();
    engine.Unsubscribe(prune_subscription);
  };
  if (cfg.discord_check) {
    if (!discord_approver) {
      stop_sweeper();
      return fail("--discord-check needs the Discord flags (--discord-bot-token-file, "
                  "--discord-channel-id, --discord-public-key …); see docs/discord.md");
    }
    auto summary = discord_approver->PostTestMessage();
    stop_discord();
    stop_sweeper();
    if (!summary.ok()) return fail("discord check failed: " + summary.status().message());
    std::cout << "discord check: " << *summary << "\n";
    return 0;
  }
  if (discord_approver) {
    if (Status st = discord_approver->Start(); !st.ok()) {
      stop_discord();
      stop_sweeper();
      return fail("discord: " + st.message());
    }
  }

  if (Status st = server.Start(); !st.ok()) {
    stop_discord();
    stop_sweeper();
    return fail(st.message());
  }
  server.SetReady(true);
  engine.RecordAudit({{"role", "system"}}, "daemon.start", json::object(), "ok");

  // Announce: PID file and discovery file, each written atomically.
  json discovery = {{"pid", ::getpid()},
                    {"daemon_version", kDaemonVersion},
                    {"protocol_version", registry.OpenRpcDocument()["info"].value("version", "1.0.0")},
                    {"listeners", json::array()}};
  for (const auto& b : server.bound())
    discovery["listeners"].push_back(
        {{"transport", b.kind == http::ListenerConfig::Kind::kTcp ? "tcp" : "unix"},
         {"address", b.address}});
  const std::string pid_path = data_dir + "/assentd.pid";
  const std::string discovery_path = data_dir + "/assentd.json";
  if (Status st = WriteFileAtomic(pid_path, std::to_string(::getpid()) + "\n", 0600); !st.ok())
    return fail(st.message());
  if (Status st = WriteFileAtomic(discovery_path, discovery.dump(2) + "\n", 0600); !st.ok())
    return fail(st.message());
  log::Info("daemon.ready", {{"listeners", discovery["listeners"].dump()}});
  // Start-up parsed and compiled the whole spec; give the freed heap back to the system
  // (idle RSS, issue 7).
  ::malloc_trim(0);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("daemon.stopping", {{"signal", std::to_string(sig)}});
  server.SetReady(false);
  // Streams first: each sends `shutdown` and ends (ASSENT-EVT-011); long-polls return.
  streamer.Shutdown("signal");
  engine.Shutdown();
  for (int i = 0; i < 200 && streamer.Subscribers() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server.Stop();
  stop_discord();
  engine.Unsubscribe(subscription);
  stop_sweeper();
  engine.RecordAudit({{"role", "system"}}, "daemon.stop", json::object(), "ok");
  std::error_code ec;
  std::filesystem::remove(discovery_path, ec);
  std::filesystem::remove(pid_path, ec);
  log::Info("daemon.stopped");
  return 0;
}

}  // namespace assent::daemon
