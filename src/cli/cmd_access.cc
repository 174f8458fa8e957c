// Requests, decisions, grants and the event stream.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace assent::cli {

namespace {

// Listing commands see everything with an approver token, only their own requests and
// grants as an agent: prefer the approver token when `assent init` recorded one.
std::string ReaderRole(CliContext& ctx) {
  return ctx.Config().approver_token_file.empty() ? "agent" : "approver";
}

std::unique_ptr<client::Service> OpenReader(CliContext& ctx) {
  auto service = ctx.Open(ReaderRole(ctx));
  bool agent = ctx.role() == "agent";
  if (ctx.role() == "token") {
    // A token given with --token-file: ask the server which role it carries.
    json info = ctx.Check(service->Info(), *service);
    agent = info.value("role", "agent") == "agent";
  }
  // Agents see only their own requests, grants and events: present the identity.
  if (agent) ctx.EnsureIdentity(*service);
  return service;
}

std::string Names(const json& a) {
  std::string out;
  if (!a.is_array()) return out;
  for (const auto& n : a) out += (out.empty() ? "" : ",") + n.get<std::string>();
  return out;
}

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// "in 4m05s" / "4m05s ago" relative to now.
std::string Relative(const std::string& time) {
  RealClock clock;
  TimeMs t = 0;
  if (!ParseTimeMs(time, &t)) return time;
  int64_t d = (t - clock.NowMs()) / 1000;
  return d > 0 ? "in " + FormatDuration(d) : FormatDuration(-d) + " ago";
}

void PrintRequestSummary(CliContext& ctx, const json& r) {
  std::cout << Str(r, "request_id") << "  " << Str(r, "state") << "  " << Names(r["secrets"])
            << "\n";
  if (r.contains("originator"))
    std::cout << "  from:     " << Str(r["originator"], "name") << " ("
              << Str(r["originator"], "kind") << ", " << Str(r["originator"], "client_id")
              << ")\n";
  std::cout << "  reason:   " << Ellipsize(Str(r, "reason"), 200) << "\n";
  if (r.contains("command") && r["command"].is_object()) {
    std::string cmd;
    for (const auto& a : r["command"]["argv"]) cmd += (cmd.empty() ? "" : " ") + a.get<std::string>();
    std::cout << "  command:  " << Ellipsize(cmd, 200) << "  (in " << Str(r["command"], "cwd")
              << ")\n";
  }
  std::cout << "  ttl:      " << FormatDuration(r.value("ttl_s", 0)) << "\n";
  if (Str(r, "state") == "pending")
    std::cout << "  deadline: " << FormatLocalTime(Str(r, "expires_at")) << " ("
              << Relative(Str(r, "expires_at")) << ")\n";
  if (r.value("approvals_required", 1) > 1)
    std::cout << "  approvals: " << r.value("approvals", 0) << "/"
              << r.value("approvals_required", 1) << "\n";
  if (r.contains("grant_id") && r["grant_id"].is_string())
    std::cout << "  grant:    " << r["grant_id"].get<std::string>() << "\n";
  if (r.contains("decision_note") && r["decision_note"].is_string() &&
      !r["decision_note"].get<std::string>().empty())
    std::cout << "  note:     " << Ellipsize(r["decision_note"].get<std::string>(), 200) << "\n";
  (void)ctx;
  std::cout.flush();
}

}  // namespace

int CmdRequest(CliContext& ctx, const RequestOptions& o) {
  auto service = ctx.Open("agent");
  ctx.EnsureIdentity(*service);
  client::AccessRequestParams p;
  p.secrets = o.secrets;
  p.reason = o.reason;
  p.ttl_s = o.ttl_s;
  p.timeout_s = o.timeout_s;
  if (o.unattended) p.mode = "unattended";
  p.client_request_id = o.client_request_id;
  json result = ctx.Check(service->RequestAccess(p), *service);
  json request = result["request"];
  if (o.wait) request = WaitForDecision(ctx, *service, request);
  if (ctx.options.json) ctx.PrintJson({{"request", request}});
  else PrintRequestSummary(ctx, request);
  const std::string state = Str(request, "state");
  if (!o.wait && state == "pending") {
    ctx.Note("assent: approve with `assent approve " + Str(request, "request_id") +
             "` (approver token); wait with `assent request … --wait`");
    return kExitOk;
  }
  return ExitCodeForRequestState(state);
}

int CmdRequests(CliContext& ctx, const ListRequestsOptions& o) {
  auto service = OpenReader(ctx);
  std::optional<std::string> state = o.state;
  if (!state && !o.all) state = "pending";
  json all = json::array();
  std::optional<std::string> after;
  // Pages of list_page_max; a bound on pages keeps a huge history from flooding.
  for (int page = 0; page < 100; ++page) {
    json r = ctx.Check(service->ListRequests(state, 500, after), *service);
    for (auto& q : r["requests"]) all.push_back(q);
    if (!r["next_after"].is_string()) break;
    after = r["next_after"].get<std::string>();
  }
  if (ctx.options.json) {
    ctx.PrintJson({{"requests", all}});
    return kExitOk;
  }
  if (all.empty()) {
    std::cout << "no " << (state ? *state + " " : std::string()) << "requests\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"REQUEST", "STATE", "SECRETS", "FROM", "WHEN", "REASON"}};
  for (const auto& r : all) {
    std::string when = Str(r, "state") == "pending" ? "expires " + Relative(Str(r, "expires_at"))
                                                    : Relative(Str(r, "decided_at").empty()
                                                                   ? Str(r, "created_at")
                                                                   : Str(r, "decided_at"));
    rows.push_back({Str(r, "request_id"), Str(r, "state"), Names(r["secrets"]),
                    r.contains("originator") ? Str(r["originator"], "name") : "", when,
                    Ellipsize(Str(r, "reason"), 48)});
  }
  PrintTable(rows);
  return kExitOk;
}

int CmdDecide(CliContext& ctx, const std::string& decision, const DecideOptions& o) {
  auto service = ctx.Open("approver");
  json r = ctx.Check(service->Decide(o.request_id, decision, o.ttl_s, o.note), *service);
  if (ctx.options.json) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  const json& req = r["request"];
  const std::string state = Str(req, "state");
  if (decision == "deny") {
    std::cout << "denied " << o.request_id << "\n";
  } else if (state == "approved" && r["grant"].is_object()) {
    const json& g = r["grant"];
    std::cout << "approved " << o.request_id << " (" << Names(req["secrets"]) << ") — grant "
              << Str(g, "grant_id") << " until " << FormatLocalTime(Str(g, "expires_at"))
              << "\n";
  } else {
    std::cout << "vote counted for " << o.request_id << ": " << req.value("approvals", 0) << " of "
              << req.value("approvals_required", 1) << " approvals\n";
  }
  return kExitOk;
}

int CmdCancel(CliContext& ctx, const std::string& request_id) {
  auto service = ctx.Open("agent");
  ctx.EnsureIdentity(*service);
  json r = ctx.Check(service->CancelRequest(request_id), *service);
  if (ctx.options.json) ctx.PrintJson(r);
  else std::cout << "cancelled " << request_id << "\n";
  return kExitOk;
}

int CmdGrants(CliContext& ctx, const GrantsOptions& o) {
  auto service = OpenReader(ctx);
  json r = ctx.Check(service->ListGrants(o.state, o.request_id), *service);
  if (ctx.options.json) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  if (r["grants"].empty()) {
    std::cout << "no grants\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"GRANT", "STATE", "SECRETS", "USES LEFT", "EXPIRES", "REQUEST"}};
  for (const auto& g : r["grants"])
    rows.push_back({Str(g, "grant_id"), Str(g, "state"), Names(g["secrets"]),
                    std::to_string(g.value("uses_left", 0)) + "/" +
                        std::to_string(g.value("uses_total", 0)),
                    Relative(Str(g, "expires_at")), Str(g, "request_id")});
  PrintTable(rows);
  return kExitOk;
}

int CmdRevoke(CliContext& ctx, const std::string& id) {
  auto service = OpenReader(ctx);
  std::string grant_id = id;
  if (id.rfind("rq_", 0) == 0) {
    // A request id: revoke the grant it produced.
    json r = ctx.Check(service->ListGrants(std::nullopt, id), *service);
    if (r["grants"].empty())
      ctx.Die(kExitNotFound, "assent: " + id + " has no grant (is it still pending? cancel it "
                                               "with `assent cancel " + id + "`)");
    grant_id = Str(r["grants"][0], "grant_id");
  }
  json r = ctx.Check(service->RevokeGrant(grant_id), *service);
  if (ctx.options.json) ctx.PrintJson(r);
  else std::cout << "revoked " << grant_id << "\n";
  return kExitOk;
}

int CmdWatch(CliContext& ctx, const WatchOptions& o) {
  auto service = OpenReader(ctx);
  std::optional<int64_t> since = o.since;
  int64_t delivered = 0;
  int64_t backoff_ms = 500;
  bool announced_loss = false;
  if (!ctx.options.json) ctx.Note("assent: watching events at " + service->Endpoint() + " (Ctrl-C to stop)");
  while (true) {
    bool reached_count = false;
    auto r = service->StreamEvents(since, [&](const client::ServerEvent& ev) {
      backoff_ms = 500;
      if (announced_loss) {
        ctx.Note("assent: reconnected");
        announced_loss = false;
      }
      if (ev.id) since = *ev.id;
      if (ctx.options.json) {
        json line = {{"type", ev.type}, {"data", ev.data}};
        line["id"] = ev.id ? json(*ev.id) : json(nullptr);
        std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      } else {
        std::string detail;
        const json& d = ev.data;
        if (d.is_object()) {
          for (const char* k : {"request_id", "grant_id", "state"})
            if (d.contains(k) && d[k].is_string()) detail += " " + d[k].get<std::string>();
          if (d.contains("secrets")) detail += " [" + Names(d["secrets"]) + "]";
          if (ev.type == "gap")
            detail = " events " + d.value("from_id", json(0)).dump() + ".." +
                     d.value("to_id", json(0)).dump() + " were pruned";
        }
        std::cout << (ev.id ? std::to_string(*ev.id) : std::string("-")) << "  " << ev.type
                  << detail << "\n";
      }
      std::cout.flush();
      ++delivered;
      if (o.count && delivered >= *o.count) {
        reached_count = true;
        return false;
      }
      return true;
    });
    if (reached_count) return kExitOk;
    if (!r.ok()) {
      const client::ServiceError& e = r.error();
      bool transient = e.kind == client::ServiceError::Kind::kUnreachable ||
                       (e.kind == client::ServiceError::Kind::kHttp &&
                        e.name == "too_many_subscribers");
      if (!transient) ctx.Fail(e, *service);
      if (!announced_loss) {
        ctx.Note("assent: " + Advice(e, service->Endpoint()) + " — retrying");
        announced_loss = true;
      }
    }
    // Stream ended (shutdown) or broke: reconnect with Last-Event-ID.
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 10000);
  }
}

}  // namespace assent::cli
