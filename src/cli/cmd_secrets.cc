// Secrets (admin) and the audit chain (through the daemon, or offline on a database file).
//
// `secret add` takes the value from stdin or a no-echo prompt, never from argv (argv is
// world-readable in /proc and lands in shell history).
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <sstream>

#include "audit/audit.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"
#include "crypto/crypto.h"
#include "store/sqlite_store.h"

namespace assent::cli {

namespace {

std::string Str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// The value, read from a prompt (twice, must match) or from all of stdin.
std::string ReadValue(CliContext& ctx, const SecretAddOptions& o) {
  if (IsTty(STDIN_FILENO)) {
    if (o.binary)
      ctx.Die(kExitUsage, "assent secret add --binary reads the bytes from stdin: "
                          "assent secret add " + o.name + " --binary < FILE");
    auto first = ReadHiddenLine("value for " + o.name + ": ");
    if (!first) ctx.Die(kExitUsage, "assent: no value entered");
    auto second = ReadHiddenLine("again: ");
    if (!second || *second != *first) {
      std::string a = *first;
      crypto::Wipe(a);
      if (second) crypto::Wipe(*second);
      ctx.Die(kExitUsage, "assent: the two values differ; nothing was stored");
    }
    crypto::Wipe(*second);
    return *first;
  }
  std::string value;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    value.append(buf, static_cast<size_t>(n));
    if (value.size() > 65536 + 2)
      ctx.Die(kExitUsage, "assent: the value is larger than secret_value_bytes_max (65536 bytes)");
  }
  if (!o.binary && !o.keep_newline) {
    // `echo VALUE | assent secret add` should store VALUE, not VALUE\n.
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
  }
  return value;
}

}  // namespace

int CmdSecretAdd(CliContext& ctx, const SecretAddOptions& o) {
  auto service = ctx.Open("admin");
  json params = {{"name", o.name}};
  if (o.description) params["description"] = *o.description;
  json policy = json::object();
  if (o.approval) policy["approval"] = *o.approval;
  if (o.ttl_default_s) policy["ttl_s_default"] = *o.ttl_default_s;
  if (o.ttl_max_s) policy["ttl_s_max"] = *o.ttl_max_s;
  if (o.uses) policy["uses_per_grant"] = *o.uses;
  if (o.approvals) policy["approvals_required"] = *o.approvals;
  if (!o.kinds.empty()) policy["client_kinds"] = o.kinds;
  if (o.bind_command) policy["bind_command"] = true;
  if (!policy.empty()) params["policy"] = policy;

  std::string value = ReadValue(ctx, o);
  if (o.binary) {
    std::string b64 = crypto::Base64Encode(value);
    params["value_base64"] = b64;
    crypto::Wipe(b64);
  } else {
    params["value"] = value;
  }
  crypto::Wipe(value);
  auto reply = service->PutSecret(params);
  // Our JSON copy of the value: overwrite it before anything else happens.
  for (const char* k : {"value", "value_base64"})
    if (params.contains(k)) crypto::Wipe(params[k].get_ref<std::string&>());
  json r = ctx.Check(std::move(reply), *service);
  if (ctx.options.json) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  const json& s = r["secret"];
  std::cout << (r.value("created", false) ? "added " : "updated ") << Str(s, "name")
            << " (version " << s.value("version", 0) << ", " << s.value("size_bytes", 0)
            << " bytes, approval " << Str(s["policy"], "approval") << ", ttl "
            << FormatDuration(s["policy"].value("ttl_s_default", 0)) << " default / "
            << FormatDuration(s["policy"].value("ttl_s_max", 0)) << " max)\n";
  return kExitOk;
}

int CmdSecretList(CliContext& ctx) {
  auto service = ctx.Open("admin");
  json r = ctx.Check(service->ListSecrets(), *service);
  if (ctx.options.json) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  if (r["secrets"].empty()) {
    std::cout << "no secrets — add one with `echo -n VALUE | assent secret add NAME`\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "VERSION", "SIZE", "APPROVAL", "TTL (DEFAULT/MAX)", "UPDATED", "DESCRIPTION"}};
  for (const auto& s : r["secrets"]) {
    const json& p = s["policy"];
    rows.push_back({Str(s, "name"), std::to_string(s.value("version", 0)),
                    std::to_string(s.value("size_bytes", 0)) + " B",
                    Str(p, "approval") +
                        (p.value("approvals_required", 1) > 1
                             ? " x" + std::to_string(p.value("approvals_required", 1))
                             : ""),
                    FormatDuration(p.value("ttl_s_default", 0)) + "/" +
                        FormatDuration(p.value("ttl_s_max", 0)),
                    FormatLocalTime(Str(s, "updated_at")), Ellipsize(Str(s, "description"), 40)});
  }
  PrintTable(rows);
  return kExitOk;
}

int CmdSecretRemove(CliContext& ctx, const std::string& name) {
  auto service = ctx.Open("admin");
  json r = ctx.Check(service->DeleteSecret(name), *service);
  if (ctx.options.json) {
    ctx.PrintJson(r);
    return kExitOk;
  }
  std::cout << "removed " << name;
  int64_t revoked = r.value("revoked_grants", 0);
  if (revoked > 0) std::cout << " (revoked " << revoked << " live grant" << (revoked == 1 ? "" : "s") << ")";
  std::cout << "\n";
  return kExitOk;
}

namespace {

// The offline check: the same audit::Verify the daemon runs for audit.verify, on a
// read-only connection to the file. A file that cannot be checked is exit 2 with the
// reason, distinct from a broken chain (exit 1).
json VerifyDatabaseFile(CliContext& ctx, const std::string& path) {
  auto store = store::SqliteStore::OpenReadOnly(path);
  if (!store.ok())
    ctx.Die(kExitUsage, "assent audit verify: cannot check " + store.status().message());
  auto report = audit::Verify(**store);
  if (!report.ok())
    ctx.Die(kExitUsage, "assent audit verify: cannot check " + path + ": " +
                            report.status().message());
  return audit::VerifyReportToJson(*report);
}

}  // namespace

int CmdAuditVerify(CliContext& ctx, const AuditVerifyOptions& o) {
  json r;
  if (o.db_path) {
    r = VerifyDatabaseFile(ctx, *o.db_path);
  } else {
    auto service = ctx.Open("admin");
    r = ctx.Check(service->AuditVerify(), *service);
  }
  bool ok = r.value("ok", false);
  if (ctx.options.json) {
    ctx.PrintJson(r);
  } else if (ok) {
    std::cout << "audit chain intact: " << r.value("entries", 0) << " entries";
    if (r["head"].is_string()) std::cout << ", head " << r["head"].get<std::string>().substr(0, 16) << "…";
    std::cout << "\n";
  } else {
    std::cout << "audit chain BROKEN at seq " << r["first_bad_seq"].dump() << " of "
              << r.value("entries", 0)
              << " — an entry was edited, deleted, inserted or reordered\n";
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace assent::cli
