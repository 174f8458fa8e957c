#include "methods/domain.h"

#include <initializer_list>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "base/limits.h"
#include "base/fault.h"
#include "crypto/crypto.h"

namespace assent::methods {

using json = nlohmann::json;

namespace {

json OrNull(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json TimeOrNull(const std::optional<TimeMs>& t) {
  return t ? json(FormatTimeMs(*t)) : json(nullptr);
}

// ---- Role checks (x-roles) --------------------------------------------------------------

Status RequireRoles(const rpc::CallContext& ctx, std::initializer_list<rpc::Role> allowed) {
  for (rpc::Role r : allowed)
    if (ctx.role == r) return Status::Ok();
  json roles = json::array();
  for (rpc::Role r : allowed) roles.push_back(rpc::RoleName(r));
  return Forbidden("forbidden: this method needs another role",
                   {{"reason", "role"}, {"required_roles", roles}});
}

// ---- What the schema cannot check --------------------------------------------------------

Status TooLong(const std::string& instance_path, const std::string& schema_path,
               int64_t max_bytes) {
  return InvalidParams("invalid params",
                       {{"instance_path", instance_path},
                        {"schema_path", schema_path},
                        {"message", "longer than " + std::to_string(max_bytes) +
                                        " bytes of UTF-8"}});
}

// ASSENT-LIM-003: maxLength counts characters; the limit counts UTF-8 bytes.
Status CheckBytes(const json& params, const char* member, int64_t max_bytes) {
  auto it = params.find(member);
  if (it == params.end() || !it->is_string() || ASSENT_FAULT("utf8-bytes-unchecked")) return Status::Ok();
  if (static_cast<int64_t>(it->get_ref<const std::string&>().size()) > max_bytes)
    return TooLong(std::string("/") + member,
                   std::string("#/properties/") + member + "/maxLength", max_bytes);
  return Status::Ok();
}

Status CheckCommandBytes(const json& params) {
  auto it = params.find("command");
  if (it == params.end() || !it->is_object()) return Status::Ok();
  if (auto argv = it->find("argv"); argv != it->end() && argv->is_array()) {
    for (size_t i = 0; i < argv->size(); ++i) {
      const json& item = (*argv)[i];
      if (item.is_string() &&
          static_cast<int64_t>(item.get_ref<const std::string&>().size()) >
              limits::kArgvItemBytesMax)
        return TooLong("/command/argv/" + std::to_string(i),
                       "#/properties/command/properties/argv/items/maxLength",
                       limits::kArgvItemBytesMax);
    }
  }
  if (auto cwd = it->find("cwd"); cwd != it->end() && cwd->is_string() &&
                                  static_cast<int64_t>(cwd->get_ref<const std::string&>()
                                                           .size()) > limits::kCwdBytesMax)
    return TooLong("/command/cwd", "#/properties/command/properties/cwd/maxLength",
                   limits::kCwdBytesMax);
  return Status::Ok();
}

Status NotBase64(const std::string& member) {
  return InvalidParams("invalid params", {{"instance_path", "/" + member},
                                          {"schema_path", "#/properties/" + member},
                                          {"message", "not valid standard base64"}});
}

// ---- Params → core --------------------------------------------------------------------

std::optional<core::Command> CommandFrom(const json& params) {
  auto it = params.find("command");
  if (it == params.end() || !it->is_object()) return std::nullopt;
  core::Command c;
  c.argv = it->at("argv").get<std::vector<std::string>>();
  c.cwd = it->at("cwd").get<std::string>();
  return c;
}

std::optional<std::string> OptString(const json& params, const char* member) {
  auto it = params.find(member);
  if (it == params.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int64_t> OptInt(const json& params, const char* member) {
  auto it = params.find(member);
  if (it == params.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// Wraps a handler: params that slipped past validation with the wrong shape (only
// possible if validation is off, as in some fuzz set-ups) are -32602, never a crash.
rpc::Handler Safe(std::function<Result<json>(const rpc::CallContext&, const json&)> fn) {
  return [fn = std::move(fn)](const rpc::CallContext& ctx,
                              const json& params) -> Result<json> {
    try {
      return fn(ctx, params.is_object() ? params : json::object());
    } catch (const json::exception&) {
      return InvalidParams("invalid params", {{"instance_path", ""},
                                              {"schema_path", "#"},
                                              {"message", "params do not match the schema"}});
    }
  };
}

}  // namespace

core::Caller CallerFrom(const rpc::CallContext& ctx) {
  core::Caller c;
  switch (ctx.role) {
    case rpc::Role::kAgent: c.role = core::Role::kAgent; break;
    case rpc::Role::kApprover: c.role = core::Role::kApprover; break;
    case rpc::Role::kAdmin: c.role = core::Role::kAdmin; break;
  }
  c.token_name = ctx.token_name;
  c.client_id = ctx.client_id;
  c.peer = ctx.peer;
  return c;
}

json RequestToJson(const core::RequestView& r) {
  return json{{"request_id", r.request_id},
              {"state", r.state},
              {"originator",
               {{"client_id", r.originator.client_id},
                {"kind", r.originator.kind},
                {"name", r.originator.name}}},
              {"secrets", r.secrets},
              {"reason", r.reason},
              {"ttl_s", r.ttl_s},
              {"mode", r.mode},
              {"command", r.command ? json{{"argv", r.command->argv}, {"cwd", r.command->cwd}}
                                    : json(nullptr)},
              {"client_request_id", OrNull(r.client_request_id)},
              {"created_at", FormatTimeMs(r.created_at)},
              {"expires_at", FormatTimeMs(r.expires_at)},
              {"decided_at", TimeOrNull(r.decided_at)},
              {"approvals", r.approvals},
              {"approvals_required", r.approvals_required},
              {"decision_note", OrNull(r.decision_note)},
              {"grant_id", OrNull(r.grant_id)},
              {"approver_delivery_failed",
               r.approver_delivery_failed
                   ? json{{"at", FormatTimeMs(r.approver_delivery_failed->at)},
                          {"attempts", r.approver_delivery_failed->attempts}}
                   : json(nullptr)}};
}

json GrantToJson(const core::GrantView& g) {
  return json{{"grant_id", g.grant_id},
              {"request_id", g.request_id},
              {"originator_client_id", g.originator_client_id},
              {"secrets", g.secrets},
              {"state", g.state},
              {"created_at", FormatTimeMs(g.created_at)},
              {"expires_at", FormatTimeMs(g.expires_at)},
              {"uses_left", g.uses_left},
              {"uses_total", g.uses_total},
              {"command_bound", g.command_bound}};
}

json SecretMetaToJson(const core::SecretMeta& m) {
  return json{{"secret_id", m.secret_id},
              {"name", m.name},
              {"description", m.description},
              {"encoding", m.encoding},
              {"size_bytes", m.size_bytes},
              {"version", m.version},
              {"created_at", FormatTimeMs(m.created_at)},
              {"updated_at", FormatTimeMs(m.updated_at)},
              {"policy", core::PolicyToJson(m.policy)}};
}

void RegisterDomainMethods(rpc::Dispatcher& d, core::Engine& engine) {
  using rpc::Role;
  constexpr auto kAdmin = Role::kAdmin;
  constexpr auto kApprover = Role::kApprover;
  constexpr auto kAgent = Role::kAgent;

  // ---- client.hello (any role) ----
  d.Register("client.hello", Safe([&engine](const rpc::CallContext& ctx,
                                               const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(CheckBytes(p, "name", limits::kClientNameBytesMax));
    core::HelloParams hp;
    hp.kind = p.at("kind").get<std::string>();
    hp.name = p.at("name").get<std::string>();
    hp.client_id = OptString(p, "client_id");
    hp.client_key = OptString(p, "client_key");
    auto r = engine.Hello(CallerFrom(ctx), hp);
    if (!r.ok()) return r.status();
    json out = {{"client_id", r->client_id}, {"resumed", r->resumed}};
    if (r->client_key) out["client_key"] = *r->client_key;
    return out;
  }));

  // ---- secrets (admin) ----
  d.Register("secret.put", Safe([&engine](const rpc::CallContext& ctx,
                                             const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    ASSENT_RETURN_IF_ERROR(CheckBytes(p, "description", limits::kDescriptionBytesMax));
    core::PutSecretParams sp;
    sp.name = p.at("name").get<std::string>();
    if (auto it = p.find("value"); it != p.end() && it->is_string()) {
      sp.value = it->get<std::string>();
      sp.encoding = "utf8";
    } else {
      auto decoded = crypto::Base64Decode(p.at("value_base64").get_ref<const std::string&>());
      if (!decoded) return NotBase64("value_base64");
      sp.value = std::move(*decoded);
      sp.encoding = "base64";
    }
    sp.description = OptString(p, "description");
    if (auto it = p.find("policy"); it != p.end() && it->is_object())
      sp.policy = core::PolicyInputFromJson(*it);
    auto r = engine.PutSecret(CallerFrom(ctx), std::move(sp));  // wipes the value
    if (!r.ok()) return r.status();
    return json{{"secret", SecretMetaToJson(r->secret)}, {"created", r->created}};
  }));

  d.Register("secret.list", Safe([&engine](const rpc::CallContext& ctx,
                                              const json&) -> Result<json> {
    if (!ASSENT_FAULT("role-check-skipped-secret-list")) ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.ListSecrets(CallerFrom(ctx));
    if (!r.ok()) return r.status();
    json secrets = json::array();
    for (const auto& m : *r) secrets.push_back(SecretMetaToJson(m));
    if (ASSENT_FAULT("secret-list-unordered")) secrets = json(std::vector<json>(secrets.rbegin(), secrets.rend()));
    return json{{"secrets", secrets}};
  }));

  d.Register("secret.describe", Safe([&engine](const rpc::CallContext& ctx,
                                                  const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.DescribeSecret(CallerFrom(ctx), p.at("name").get<std::string>());
    if (!r.ok()) return r.status();
    return json{{"secret", SecretMetaToJson(*r)}};
  }));

  d.Register("secret.delete", Safe([&engine](const rpc::CallContext& ctx,
                                                const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.DeleteSecret(CallerFrom(ctx), p.at("name").get<std::string>());
    if (!r.ok()) return r.status();
    return json{{"deleted", true}, {"revoked_grants", r->revoked_grants}};
  }));

  // ---- access requests ----
  d.Register("access.request", Safe([&engine](const rpc::CallContext& ctx,
                                                 const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAgent}));
    ASSENT_RETURN_IF_ERROR(CheckBytes(p, "reason", limits::kReasonBytesMax));
    ASSENT_RETURN_IF_ERROR(CheckCommandBytes(p));
    core::CreateRequestParams rp;
    rp.secrets = p.at("secrets").get<std::vector<std::string>>();
    rp.reason = p.at("reason").get<std::string>();
    rp.ttl_s = OptInt(p, "ttl_s");
    rp.mode = OptString(p, "mode");
    rp.timeout_s = OptInt(p, "timeout_s");
    rp.command = CommandFrom(p);
    rp.client_request_id = OptString(p, "client_request_id");
    auto r = engine.CreateRequest(CallerFrom(ctx), rp);
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(*r)}};
  }));

  // access.get / access.wait: originator, approver, admin — every role passes the
  // role check; the engine refuses agents that are not the originator.
  d.Register("access.get", Safe([&engine](const rpc::CallContext& ctx,
                                             const json& p) -> Result<json> {
    auto r = engine.GetRequest(CallerFrom(ctx), p.at("request_id").get<std::string>());
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(*r)}};
  }));

  d.Register("access.wait", Safe([&engine](const rpc::CallContext& ctx,
                                              const json& p) -> Result<json> {
    const int64_t timeout_s = OptInt(p, "timeout_s").value_or(limits::kLongPollSecondsMax);
    auto r = engine.WaitRequest(CallerFrom(ctx), p.at("request_id").get<std::string>(),
                                OptString(p, "known_state").value_or("pending"),
                                timeout_s * 1000);
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(r->request)}, {"changed", r->changed}};
  }));

  d.Register("access.list", Safe([&engine](const rpc::CallContext& ctx,
                                              const json& p) -> Result<json> {
    core::ListRequestsParams lp;
    lp.state = OptString(p, "state");
    lp.limit = OptInt(p, "limit").value_or(100);
    lp.after = OptString(p, "after");
    auto r = engine.ListRequests(CallerFrom(ctx), lp);
    if (!r.ok()) return r.status();
    json requests = json::array();
    for (const auto& v : r->requests) requests.push_back(RequestToJson(v));
    return json{{"requests", requests}, {"next_after", OrNull(r->next_after)}};
  }));

  d.Register("access.cancel", Safe([&engine](const rpc::CallContext& ctx,
                                                const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAgent}));
    auto r = engine.CancelRequest(CallerFrom(ctx), p.at("request_id").get<std::string>());
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(*r)}};
  }));

  d.Register("access.extend", Safe([&engine](const rpc::CallContext& ctx,
                                                const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAgent}));
    auto r = engine.ExtendRequest(CallerFrom(ctx), p.at("request_id").get<std::string>(),
                                  p.at("timeout_s").get<int64_t>());
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(*r)}};
  }));

  d.Register("access.decide", Safe([&engine](const rpc::CallContext& ctx,
                                                const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kApprover}));
    ASSENT_RETURN_IF_ERROR(CheckBytes(p, "note", limits::kNoteBytesMax));
    core::DecideParams dp;
    dp.request_id = p.at("request_id").get<std::string>();
    dp.approve = p.at("decision").get<std::string>() == "approve";
    dp.ttl_s = OptInt(p, "ttl_s");
    dp.note = OptString(p, "note");
    auto r = engine.Decide(CallerFrom(ctx), dp);
    if (!r.ok()) return r.status();
    return json{{"request", RequestToJson(r->request)},
                {"grant", r->grant ? GrantToJson(*r->grant) : json(nullptr)}};
  }));

  // ---- grants ----
  d.Register("grant.list", Safe([&engine](const rpc::CallContext& ctx,
                                             const json& p) -> Result<json> {
    core::ListGrantsParams gp;
    gp.state = OptString(p, "state");
    gp.request_id = OptString(p, "request_id");
    auto r = engine.ListGrants(CallerFrom(ctx), gp);
    if (!r.ok()) return r.status();
    json grants = json::array();
    for (const auto& g : *r) grants.push_back(GrantToJson(g));
    return json{{"grants", grants}};
  }));

  d.Register("grant.revoke", Safe([&engine](const rpc::CallContext& ctx,
                                               const json& p) -> Result<json> {
    auto r = engine.RevokeGrant(CallerFrom(ctx), p.at("grant_id").get<std::string>());
    if (!r.ok()) return r.status();
    return json{{"grant", GrantToJson(*r)}};
  }));

  d.Register("grant.revoke_all", Safe([&engine](const rpc::CallContext& ctx,
                                                   const json&) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.RevokeAll(CallerFrom(ctx));
    if (!r.ok()) return r.status();
    return json{{"revoked_grants", r->revoked_grants},
                {"cancelled_requests", r->cancelled_requests}};
  }));

  d.Register("secret.reveal", Safe([&engine](const rpc::CallContext& ctx,
                                                const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAgent}));
    ASSENT_RETURN_IF_ERROR(CheckCommandBytes(p));
    auto key = crypto::Base64Decode(p.at("recipient_key").get_ref<const std::string&>());
    if (!key || key->size() != crypto::kBoxPublicKeyBytes) return NotBase64("recipient_key");
    core::RevealParams rp;
    rp.grant_id = p.at("grant_id").get<std::string>();
    rp.name = p.at("name").get<std::string>();
    rp.recipient_key = std::move(*key);
    rp.command = CommandFrom(p);
    auto r = engine.Reveal(CallerFrom(ctx), rp);
    if (!r.ok()) return r.status();
    return json{{"name", r->name},
                {"encoding", r->encoding},
                {"sealed_value", crypto::Base64Encode(r->sealed_value)},
                {"uses_left", r->uses_left}};
  }));

  // ---- audit (admin) ----
  d.Register("audit.list", Safe([&engine](const rpc::CallContext& ctx,
                                             const json& p) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.ListAudit(OptInt(p, "after_seq").value_or(0),
                              OptInt(p, "limit").value_or(100));
    if (!r.ok()) return r.status();
    json entries = json::array();
    for (const auto& row : r->entries) entries.push_back(audit::EntryToJson(row));
    return json{{"entries", entries},
                {"next_after_seq",
                 r->next_after_seq ? json(*r->next_after_seq) : json(nullptr)}};
  }));

  d.Register("audit.verify", Safe([&engine](const rpc::CallContext& ctx,
                                               const json&) -> Result<json> {
    ASSENT_RETURN_IF_ERROR(RequireRoles(ctx, {kAdmin}));
    auto r = engine.VerifyAudit();
    if (!r.ok()) return r.status();
    return audit::VerifyReportToJson(*r);
  }));
}

}  // namespace assent::methods
