// WaitForDecision: the waiting half of `assent run` and `assent request --wait`.
//
// A worker thread long-polls access.wait (≤ 30 s per call, returning early on any change
// of the request); the main thread owns the terminal and the signals: it redraws the
// countdown once a second and takes SIGINT/SIGTERM/SIGHUP with sigtimedwait, so a
// Ctrl-C cancels the request on the server before we exit.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace assent::cli {

namespace {

struct WaitShared {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool stop = false;
  json latest;  // the request as last seen
  std::optional<client::ServiceError> error;
  int64_t changes = 0;
};

std::string JoinNames(const json& names) {
  std::string out;
  if (!names.is_array()) return out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out;
}

constexpr int64_t kLongPollS = 30;
// How long an unreachable daemon may stay away (a restart) before waiting gives up.
constexpr int64_t kReconnectWindowS = 30;

}  // namespace

json WaitForDecision(CliContext& ctx, client::Service& service, json request) {
  const std::string id = request.value("request_id", "");
  if (request.value("state", "") != "pending") return request;

  bool discord = false;
  if (auto info = service.Info(); info.ok() && info->contains("profiles"))
    for (const auto& p : (*info)["profiles"]) discord = discord || p == "discord";
  const std::string where = "approve with `assent approve " + id + "` (approver token)" +
                            (discord ? " or on Discord" : "");
  const bool tty = IsTty(STDERR_FILENO) && !ctx.options.quiet;
  const std::string secrets = JoinNames(request["secrets"]);
  RealClock clock;

  auto expires_in = [&](const json& r) -> int64_t {
    return SecondsUntil(r.value("expires_at", ""), clock.NowMs()).value_or(0);
  };
  if (!tty)
    ctx.Note("assent: " + id + " is waiting for approval of " + secrets + " (deadline in " +
             FormatDuration(expires_in(request)) + "); " + where);

  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  auto shared = std::make_shared<WaitShared>();
  shared->latest = request;
  client::Service* svc = &service;
  std::thread waiter([shared, svc, id] {
    // A daemon restart while we wait is survivable: the request lives in its database.
    // Retry an unreachable daemon for a while, and never spin when a stopping daemon
    // answers every long-poll at once.
    auto unreachable_since = std::chrono::steady_clock::time_point{};
    while (true) {
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        if (shared->stop) break;
      }
      auto started = std::chrono::steady_clock::now();
      auto r = svc->WaitRequest(id, "pending", kLongPollS);
      auto now = std::chrono::steady_clock::now();
      if (!r.ok() && r.error().kind == client::ServiceError::Kind::kUnreachable) {
        if (unreachable_since == std::chrono::steady_clock::time_point{}) unreachable_since = now;
        if (now - unreachable_since < std::chrono::seconds(kReconnectWindowS)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
      }
      unreachable_since = {};
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        if (!r.ok()) {
          shared->error = r.error();
          break;
        }
        const json& req = (*r)["request"];
        shared->latest = req;
        ++shared->changes;
        if (req.value("state", "pending") != "pending") break;
      }
      if (!(*r).value("changed", false) && now - started < std::chrono::milliseconds(500))
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->done = true;
    shared->cv.notify_all();
  });

  auto clear_line = [&] {
    if (tty) std::cerr << "\r\033[K" << std::flush;
  };
  std::string drawn;
  int64_t seen_changes = 0;
  int64_t last_approvals = request.value("approvals", 0);
  int caught = 0;
  while (true) {
    struct timespec tick{0, 250 * 1000 * 1000};
    int sig = ::sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0) {
      caught = sig;
      break;
    }
    json latest;
    bool done;
    int64_t changes;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      done = shared->done;
      latest = shared->latest;
      changes = shared->changes;
    }
    if (done) break;
    int64_t approvals = latest.value("approvals", 0);
    if (changes != seen_changes && approvals != last_approvals) {
      clear_line();
      drawn.clear();
      ctx.Note("assent: " + id + ": " + std::to_string(approvals) + " of " +
               std::to_string(latest.value("approvals_required", 1)) + " approvals");
      last_approvals = approvals;
    }
    seen_changes = changes;
    if (tty) {
      std::string approvals_text =
          latest.value("approvals_required", 1) > 1
              ? " · " + std::to_string(approvals) + "/" +
                    std::to_string(latest.value("approvals_required", 1)) + " approvals"
              : "";
      // One line, never wider than the terminal: a wrapped line could not be redrawn.
      std::string line = "⏳ waiting for approval of " + secrets + " — " +
                         FormatCountdown(expires_in(latest)) + " left" + approvals_text +
                         " · " + where;
      line = Ellipsize(line, TerminalColumns(STDERR_FILENO) - 1);
      if (line != drawn) {
        std::cerr << "\r\033[K" << line << std::flush;
        drawn = line;
      }
    }
  }
  clear_line();

  if (caught) {
    ctx.Note("assent: interrupted — cancelling " + id);
    auto cancelled = service.CancelRequest(id);
    if (!cancelled.ok() && cancelled.error().code == -32003) {
      // Decided in the meantime: if it was approved, end the grant we will not use.
      auto got = service.GetRequest(id);
      if (got.ok() && (*got)["request"].value("state", "") == "approved") {
        const json& gid = (*got)["request"]["grant_id"];
        if (gid.is_string()) (void)service.RevokeGrant(gid.get<std::string>());
      }
    } else if (!cancelled.ok()) {
      std::cerr << "assent: could not cancel " << id << ": "
                << Advice(cancelled.error(), service.Endpoint()) << "\n";
    }
    {
      std::unique_lock<std::mutex> lock(shared->mu);
      shared->stop = true;
      // The cancel wakes the long-poll at once; do not hang on a server that does not.
      if (!shared->cv.wait_for(lock, std::chrono::seconds(5), [&] { return shared->done; })) {
        std::cout.flush();
        std::cerr.flush();
        std::_Exit(caught == SIGINT ? kExitInterrupted : 128 + caught);
      }
    }
    waiter.join();
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw CliExit{caught == SIGINT ? kExitInterrupted : 128 + caught};
  }

  waiter.join();
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (shared->error) ctx.Fail(*shared->error, service);
  json final_request = shared->latest;
  const std::string state = final_request.value("state", "");
  std::string line = "assent: " + id + " " + state;
  if (state == "approved" && final_request["grant_id"].is_string())
    line += " (grant " + final_request["grant_id"].get<std::string>() + ")";
  if (state == "denied" && final_request["decision_note"].is_string() &&
      !final_request["decision_note"].get<std::string>().empty())
    line += ": " + final_request["decision_note"].get<std::string>();
  ctx.Note(line);
  return final_request;
}

}  // namespace assent::cli
