#include "core/policy.h"

#include <algorithm>
#include <cassert>

namespace assent::core {

using json = nlohmann::json;

const char* ApprovalName(Approval a) {
  switch (a) {
    case Approval::kAlways: return "always";
    case Approval::kNever: return "never";
    case Approval::kForbidden: return "forbidden";
  }
  return "always";
}

std::optional<Approval> ParseApproval(const std::string& s) {
  if (s == "always") return Approval::kAlways;
  if (s == "never") return Approval::kNever;
  if (s == "forbidden") return Approval::kForbidden;
  return std::nullopt;
}

const std::vector<std::string>& AllClientKinds() {
  static const std::vector<std::string> kKinds = {"agent", "script", "cli"};
  return kKinds;
}

namespace {
// Kinds in the spec's order, without duplicates or unknown names.
std::vector<std::string> NormalizeKinds(const std::vector<std::string>& kinds) {
  std::vector<std::string> out;
  for (const auto& k : AllClientKinds())
    if (std::find(kinds.begin(), kinds.end(), k) != kinds.end()) out.push_back(k);
  return out;
}
}  // namespace

Result<Policy> CompletePolicy(const PolicyInput& in) {
  Policy p;
  if (in.approval) p.approval = *in.approval;
  if (in.ttl_s_default) p.ttl_s_default = *in.ttl_s_default;
  if (in.ttl_s_max) p.ttl_s_max = *in.ttl_s_max;
  if (in.uses_per_grant) p.uses_per_grant = *in.uses_per_grant;
  if (in.approvals_required) p.approvals_required = *in.approvals_required;
  if (in.client_kinds) p.client_kinds = NormalizeKinds(*in.client_kinds);
  if (in.bind_command) p.bind_command = *in.bind_command;
  if (p.ttl_s_default > p.ttl_s_max) {
    // A semantic rule the schema cannot express (ASSENT-SEC-003, ASSENT-RPC-028). The
    // offending member is the default when it was given, else the maximum.
    const char* member = in.ttl_s_default ? "ttl_s_default" : "ttl_s_max";
    return InvalidParams("policy.ttl_s_default must not exceed policy.ttl_s_max",
                         {{"instance_path", std::string("/policy/") + member},
                          {"schema_path", std::string("#/properties/policy/properties/") +
                                              member},
                          {"message", "ttl_s_default must not exceed ttl_s_max"}});
  }
  if (p.client_kinds.empty()) {
    return InvalidParams("policy.client_kinds names no known client kind",
                         {{"instance_path", "/policy/client_kinds"},
                          {"schema_path", "#/properties/policy/properties/client_kinds"},
                          {"message", "at least one client kind is required"}});
  }
  return p;
}

json PolicyToJson(const Policy& p) {
  return json{{"approval", ApprovalName(p.approval)},
              {"ttl_s_default", p.ttl_s_default},
              {"ttl_s_max", p.ttl_s_max},
              {"uses_per_grant", p.uses_per_grant},
              {"approvals_required", p.approvals_required},
              {"client_kinds", p.client_kinds},
              {"bind_command", p.bind_command}};
}

Result<Policy> PolicyFromJson(const json& j) {
  try {
    Policy p;
    auto approval = ParseApproval(j.at("approval").get<std::string>());
    if (!approval) return Internal("stored policy has an unknown approval mode");
    p.approval = *approval;
    p.ttl_s_default = j.at("ttl_s_default").get<int64_t>();
    p.ttl_s_max = j.at("ttl_s_max").get<int64_t>();
    p.uses_per_grant = j.at("uses_per_grant").get<int64_t>();
    p.approvals_required = j.at("approvals_required").get<int64_t>();
    p.client_kinds = j.at("client_kinds").get<std::vector<std::string>>();
    p.bind_command = j.at("bind_command").get<bool>();
    return p;
  } catch (const json::exception&) {
    return Internal("stored policy is malformed");
  }
}

PolicyInput PolicyInputFromJson(const json& j) {
  PolicyInput in;
  if (!j.is_object()) return in;
  if (auto it = j.find("approval"); it != j.end() && it->is_string())
    in.approval = ParseApproval(it->get<std::string>());
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  in.ttl_s_default = integer("ttl_s_default");
  in.ttl_s_max = integer("ttl_s_max");
  in.uses_per_grant = integer("uses_per_grant");
  in.approvals_required = integer("approvals_required");
  if (auto it = j.find("client_kinds"); it != j.end() && it->is_array()) {
    std::vector<std::string> kinds;
    for (const auto& k : *it)
      if (k.is_string()) kinds.push_back(k.get<std::string>());
    in.client_kinds = kinds;
  }
  if (auto it = j.find("bind_command"); it != j.end() && it->is_boolean())
    in.bind_command = it->get<bool>();
  return in;
}

Policy EffectivePolicy(const std::vector<Policy>& policies) {
  assert(!policies.empty());
  Policy e = policies.front();
  for (size_t i = 1; i < policies.size(); ++i) {
    const Policy& p = policies[i];
    // Rank by strictness: forbidden > always > never.
    auto rank = [](Approval a) {
      return a == Approval::kForbidden ? 2 : a == Approval::kAlways ? 1 : 0;
    };
    if (rank(p.approval) > rank(e.approval)) e.approval = p.approval;
    e.ttl_s_default = std::min(e.ttl_s_default, p.ttl_s_default);
    e.ttl_s_max = std::min(e.ttl_s_max, p.ttl_s_max);
    e.uses_per_grant = std::min(e.uses_per_grant, p.uses_per_grant);
    e.approvals_required = std::max(e.approvals_required, p.approvals_required);
    std::vector<std::string> kinds;
    for (const auto& k : e.client_kinds)
      if (std::find(p.client_kinds.begin(), p.client_kinds.end(), k) != p.client_kinds.end())
        kinds.push_back(k);
    e.client_kinds = kinds;
    e.bind_command = e.bind_command || p.bind_command;
  }
  return e;
}

}  // namespace assent::core
