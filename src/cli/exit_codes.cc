#include "cli/exit_codes.h"

namespace assent::cli {

using client::ServiceError;

const char* ExitCodesHelp() {
  return "Exit codes:\n"
         "  0    ok\n"
         "  1    other failure (server error, invalid state, expired grant, ...)\n"
         "  2    usage or configuration error, invalid parameters\n"
         "  3    request denied\n"
         "  4    request timed out (no decision in time)\n"
         "  5    assentd unreachable (not running, wrong address)\n"
         "  6    authentication or permission problem (token, role, lockout)\n"
         "  7    not found (secret, request or grant)\n"
         "  8    request cancelled\n"
         "  126  assent run: the command is not executable\n"
         "  127  assent run: the command was not found\n"
         "  130  interrupted while waiting for approval (the request is cancelled)\n"
         "  assent run returns the command's own exit status once it has started\n"
         "  (128+N when signal N killed it).";
}

int ExitCodeFor(const ServiceError& e) {
  switch (e.kind) {
    case ServiceError::Kind::kUnreachable:
      return kExitUnreachable;
    case ServiceError::Kind::kHttp:
      if (e.name == "unauthorized" || e.name == "peer_forbidden" || e.name == "locked_out")
        return kExitAuth;
      return kExitFailure;
    case ServiceError::Kind::kRpc:
      switch (e.code) {
        case -32001: return kExitAuth;      // forbidden
        case -32002: return kExitNotFound;  // not_found
        case -32602: return kExitUsage;     // invalid_params
        default: return kExitFailure;
      }
    case ServiceError::Kind::kProtocol:
    case ServiceError::Kind::kLocal:
      return kExitFailure;
  }
  return kExitFailure;
}

int ExitCodeForRequestState(const std::string& state) {
  if (state == "approved") return kExitOk;
  if (state == "denied") return kExitDenied;
  if (state == "timed_out") return kExitTimedOut;
  if (state == "cancelled") return kExitCancelled;
  return kExitFailure;
}

std::string Advice(const ServiceError& e, const std::string& endpoint) {
  switch (e.kind) {
    case ServiceError::Kind::kUnreachable:
      return "assentd is not running or not answering at " + endpoint + " (" + e.message +
             ") — start it with `assent daemon start`, or check `server` in the config "
             "(`assent status`).";
    case ServiceError::Kind::kHttp:
      if (e.name == "unauthorized")
        return "the daemon refused the token (" + e.message +
               ") — check the token file, or re-run `assent init` and restart the daemon.";
      if (e.name == "peer_forbidden")
        return "the daemon refuses connections from this user on its socket — run as the "
               "daemon's user, or start assentd with --allow-uid.";
      if (e.name == "locked_out") {
        std::string s = "too many authentication failures: locked out";
        if (e.data.is_object() && e.data.contains("retry_after_s"))
          s += " for " + e.data["retry_after_s"].dump() + " s";
        return s + " — fix the token and try again later.";
      }
      if (e.name == "unsupported_version")
        return "the daemon speaks another protocol version (" + e.message +
               ") — use an assent client that matches assentd.";
      return "the daemon refused the call: " + e.Describe();
    case ServiceError::Kind::kRpc: {
      std::string reason =
          e.data.is_object() && e.data.contains("reason") && e.data["reason"].is_string()
              ? e.data["reason"].get<std::string>()
              : "";
      if (e.code == -32001) {
        if (reason == "role") {
          std::string roles;
          if (e.data.contains("required_roles") && e.data["required_roles"].is_array())
            for (const auto& r : e.data["required_roles"])
              roles += (roles.empty() ? "" : " or ") + r.get<std::string>();
          return "this needs the " + (roles.empty() ? std::string("right") : roles) +
                 " role — pass that role's token with --token-file (or --as ROLE when "
                 "`assent init` recorded its file).";
        }
        if (reason == "self_approval")
          return "a client cannot decide a request it made itself — approve it from "
                 "another client (an approver token) or on Discord.";
        if (reason == "not_originator")
          return "only the client that made the request may do this.";
        if (reason == "client_identity_required")
          return "this needs a client identity (client.hello) — use the agent token.";
        if (reason == "already_voted") return "you have already voted on this request.";
        if (reason == "policy_forbidden")
          return "a secret's policy forbids requests for it.";
        if (reason == "client_kind_not_allowed")
          return "the secret's policy does not admit this client kind (client_kind in the "
                 "config).";
        if (reason == "command_mismatch")
          return "the grant is bound to another command or directory.";
        return "forbidden: " + e.message + (reason.empty() ? "" : " (" + reason + ")");
      }
      if (e.code == -32002) {
        std::string what = "not found";
        if (e.data.is_object() && e.data.contains("kind") && e.data.contains("id"))
          what = "no " + e.data["kind"].get<std::string>() + " " + e.data["id"].get<std::string>();
        if (e.data.is_object() && e.data.value("kind", "") == "secret")
          return what + " — list them with `assent secret list`, add one with "
                        "`assent secret add NAME`.";
        return what + ".";
      }
      if (e.code == -32003) {
        std::string state = e.data.is_object() ? e.data.value("state", "") : "";
        return "not possible in its current state" + (state.empty() ? "" : " (" + state + ")") +
               ".";
      }
      if (e.code == -32004)
        return "the grant is no longer usable (" +
               (e.data.is_object() ? e.data.value("state", "expired") : std::string("expired")) +
               ") — request access again.";
      if (e.code == -32006) {
        std::string limit = e.data.is_object() ? e.data.value("limit", "") : "";
        std::string max = e.data.is_object() && e.data.contains("max") ? e.data["max"].dump() : "";
        return "limit exceeded" + (limit.empty() ? "" : ": " + limit + " (max " + max + ")") + ".";
      }
      if (e.code == -32602) {
        std::string where = e.data.is_object() ? e.data.value("instance_path", "") : "";
        return "invalid parameters" + (where.empty() ? "" : " at " + where) + ": " + e.message;
      }
      if (e.code == -32007)
        return "the daemon could not write its audit log, so nothing changed — check its "
               "disk and `assent daemon logs`.";
      if (e.code == -32008)
        return "this assentd does not implement " +
               (e.data.is_object() ? e.data.value("method", "this method") : "this method") +
               " yet — upgrade assentd.";
      return e.Describe();
    }
    case ServiceError::Kind::kProtocol:
      return "the server at " + endpoint + " did not answer like assentd: " + e.message;
    case ServiceError::Kind::kLocal:
      return e.message;
  }
  return e.Describe();
}

}  // namespace assent::cli
