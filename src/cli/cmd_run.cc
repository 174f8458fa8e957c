// `assent run --secret NAME[=ENV] … -- CMD ARGS`: request, wait, reveal, exec, mask.
//
// Secret values exist only in this process's memory (the sealed-box plaintext, the
// maskers, the child's environment block) and are wiped once the child has been forked
// and when it exits. They never reach argv, a file or a log line.
#include <unistd.h>

#include <climits>
#include <cstring>
#include <iostream>
#include <map>
#include <set>

#include "cli/child_runner.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/secret_binding.h"
#include "cli/terminal.h"
#include "crypto/crypto.h"

extern char** environ;

namespace assent::cli {

namespace {

std::string DefaultReason(const std::vector<std::string>& argv) {
  std::string r = "assent run:";
  for (const auto& a : argv) {
    if (r.size() + a.size() + 1 > 512) {
      r += " …";
      break;
    }
    r += " " + a;
  }
  return r;
}

// Wipes every value it holds when it goes out of scope.
struct RevealedValues {
  std::vector<std::string> values;
  ~RevealedValues() {
    for (auto& v : values) crypto::Wipe(v);
  }
};

}  // namespace

int CmdRun(CliContext& ctx, RunOptions o) {
  if (o.command.empty())
    ctx.Die(kExitUsage, "assent run: no command — usage: assent run --secret NAME -- CMD ARGS");
  std::vector<SecretBinding> bindings;
  std::set<std::string> names, envs;
  for (const auto& s : o.secrets) {
    std::string why;
    auto b = ParseSecretBinding(s, &why);
    if (!b) ctx.Die(kExitUsage, "assent run: --secret " + s + ": " + why);
    if (!envs.insert(b->env).second)
      ctx.Die(kExitUsage, "assent run: two secrets would set $" + b->env);
    // One secret may go into two variables; it is requested and revealed once.
    names.insert(b->name);
    bindings.push_back(*b);
  }
  if (bindings.empty())
    ctx.Die(kExitUsage, "assent run: name at least one --secret NAME[=ENV]");

  auto service = ctx.Open("agent");
  ctx.EnsureIdentity(*service);

  char cwd_buf[PATH_MAX];
  if (!::getcwd(cwd_buf, sizeof(cwd_buf)))
    ctx.Die(kExitFailure, std::string("assent run: cannot read the working directory: ") +
                              std::strerror(errno));
  client::CommandSpec command{o.command, cwd_buf};

  client::AccessRequestParams params;
  params.secrets.assign(names.begin(), names.end());
  params.reason = o.reason.value_or(DefaultReason(o.command));
  params.ttl_s = o.ttl_s;
  params.timeout_s = o.timeout_s;
  if (o.unattended) params.mode = "unattended";
  // The approver sees exactly what will run; a command-bound grant is checked at reveal.
  params.command = command;
  json created = ctx.Check(service->RequestAccess(params), *service);
  json request = created["request"];
  const std::string request_id = request.value("request_id", "");
  request = WaitForDecision(ctx, *service, request);
  const std::string state = request.value("state", "");
  if (state != "approved") {
    int code = ExitCodeForRequestState(state);
    std::string msg = "assent: " + request_id + " was " + state;
    if (state == "denied") msg += " — the command was not run";
    if (state == "timed_out")
      msg += " — nobody decided before the deadline; ask again, or raise --timeout";
    ctx.Die(code, msg);
  }
  if (!request["grant_id"].is_string())
    ctx.Die(kExitFailure, "assent: " + request_id + " is approved but names no grant");
  const std::string grant_id = request["grant_id"].get<std::string>();

  // Reveal each secret with a fresh X25519 key pair (ASSENT-REVEAL-008).
  RevealedValues revealed;
  std::map<std::string, size_t> index_of;
  for (const auto& name : params.secrets) {
    crypto::BoxKeyPair kp = crypto::NewBoxKeyPair();
    auto r = service->Reveal(grant_id, name, crypto::Base64Encode(kp.public_key), command);
    if (!r.ok()) {
      crypto::Wipe(kp.secret_key);
      ctx.Fail(r.error(), *service);
    }
    auto sealed = crypto::Base64Decode(r->value("sealed_value", ""));
    std::optional<std::string> value;
    if (sealed) value = crypto::SealOpen(kp.public_key, kp.secret_key, *sealed);
    crypto::Wipe(kp.secret_key);
    if (!value)
      ctx.Die(kExitFailure, "assent: the sealed value of " + name +
                                " could not be opened — the server's answer is corrupt");
    if (value->find('\0') != std::string::npos) {
      crypto::Wipe(*value);
      ctx.Die(kExitFailure, "assent: " + name + " holds a NUL byte and cannot be placed in an "
                                                "environment variable");
    }
    index_of[name] = revealed.values.size();
    revealed.values.push_back(std::move(*value));
    crypto::Wipe(*value);
  }

  ChildSpec spec;
  spec.argv = o.command;
  spec.mask_output = !o.no_mask;
  std::set<std::string> overridden;
  for (const auto& b : bindings) overridden.insert(b.env);
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    if (!overridden.count(key)) spec.env.push_back(std::move(entry));
  }
  for (const auto& b : bindings) {
    std::string entry = b.env + "=";
    entry += revealed.values[index_of[b.name]];
    spec.env.push_back(std::move(entry));
  }
  if (spec.mask_output) {
    for (const auto& v : revealed.values) {
      if (!v.empty() && v.size() < 4)
        ctx.Note("assent: warning: a revealed value is shorter than 4 bytes; masking hides "
                 "every occurrence of it in the output");
      spec.mask_values.push_back(v);
    }
  }
  for (auto& v : revealed.values) crypto::Wipe(v);
  revealed.values.clear();

  std::cout.flush();
  std::cerr.flush();
  ChildOutcome outcome = RunChild(std::move(spec));
  if (!outcome.started) ctx.Die(outcome.exit_code, "assent run: " + outcome.error);
  return outcome.exit_code;
}

}  // namespace assent::cli
