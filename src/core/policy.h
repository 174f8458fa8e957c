// Per-secret policy: defaults, completion, validation and the effective policy of a
// request over several secrets.
//
// Implements ASSENT-SEC-003 (defaults, ttl_s_default <= ttl_s_max) and ASSENT-REQ-003
// (the strictest of several policies). The JSON form is common.json#/definitions/Policy
// (stored as-is in the secrets table) and PolicyInput (secret.put).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace assent::core {

enum class Approval { kAlways, kNever, kForbidden };
const char* ApprovalName(Approval a);
std::optional<Approval> ParseApproval(const std::string& s);

// All client kinds of the spec's ClientKind enum, in the spec's order.
const std::vector<std::string>& AllClientKinds();

struct Policy {
  Approval approval = Approval::kAlways;
  int64_t ttl_s_default = 300;
  int64_t ttl_s_max = 3600;
  int64_t uses_per_grant = 1;
  int64_t approvals_required = 1;
  std::vector<std::string> client_kinds = AllClientKinds();
  bool bind_command = false;
  bool operator==(const Policy&) const = default;
};

// secret.put's policy: members left out take the defaults above.
struct PolicyInput {
  std::optional<Approval> approval = {};
  std::optional<int64_t> ttl_s_default = {};
  std::optional<int64_t> ttl_s_max = {};
  std::optional<int64_t> uses_per_grant = {};
  std::optional<int64_t> approvals_required = {};
  std::optional<std::vector<std::string>> client_kinds = {};
  std::optional<bool> bind_command = {};
};

// Completes `input` with the defaults. -32602 (instance path under /policy) when
// ttl_s_default exceeds ttl_s_max.
Result<Policy> CompletePolicy(const PolicyInput& input);

nlohmann::json PolicyToJson(const Policy& p);
// Reads a stored policy; a malformed one is an internal error (we wrote it).
Result<Policy> PolicyFromJson(const nlohmann::json& j);
// Reads secret.put's PolicyInput (already schema-valid; unknown members ignored).
PolicyInput PolicyInputFromJson(const nlohmann::json& j);

// The strictest of `policies` (non-empty): forbidden > always > never; smallest TTLs and
// uses; largest quorum; intersection of kinds; bind_command if any binds.
Policy EffectivePolicy(const std::vector<Policy>& policies);

}  // namespace assent::core
