// Domain types of the engine: who calls, what they ask, what they get back.
//
// These mirror the spec's shapes (spec/schemas/*.json) without being JSON: methods/
// converts between the two. Times are milliseconds since the epoch; durations carry
// their unit in the name. Secret values appear only in PutSecretParams (plaintext in,
// wiped by the engine) and RevealResult (sealed to the caller's one-time key).
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "core/policy.h"

namespace assent::core {

enum class Role { kAgent, kApprover, kAdmin };
const char* RoleName(Role role);

// The authenticated caller of one engine call, as established by the transport.
struct Caller {
  Role role = Role::kAgent;
  // Name of the token that authenticated the call; empty without one.
  std::string token_name = {};
  // The proven client identity (cl_…), if the call presented one that verified.
  std::optional<std::string> client_id = {};
  // Coarse peer description for the audit log ("tcp:127.0.0.1", "unix:uid=1000").
  std::string peer = {};
  // Set by the Discord approver for a button click: the clicking user's snowflake.
  std::optional<std::string> discord_user_id = {};

  bool is_agent() const { return role == Role::kAgent; }
};

// The identity a vote counts under (ASSENT-REQ-019): the Discord user, else the token
// name, else the client id. Client ids are deliberately last: minting one is free, so
// counting them would let one token holder reach any quorum alone.
std::string ApproverIdentity(const Caller& caller);

struct Command {
  std::vector<std::string> argv = {};
  std::string cwd = {};
  bool operator==(const Command&) const = default;
};

struct SecretMeta {
  std::string secret_id = {};
  std::string name = {};
  std::string description = {};
  std::string encoding = {};  // utf8 | base64
  int64_t size_bytes = 0;
  int64_t version = 0;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  Policy policy = {};
};

struct PutSecretParams {
  std::string name = {};
  std::string value = {};  // bytes; wiped by the engine
  std::string encoding = "utf8";
  std::optional<std::string> description = {};
  std::optional<PolicyInput> policy = {};
};

struct PutSecretResult {
  SecretMeta secret = {};
  bool created = false;
};

struct DeleteSecretResult {
  int64_t revoked_grants = 0;
  int64_t cancelled_requests = 0;
};

struct HelloParams {
  std::string kind = {};
  std::string name = {};
  std::optional<std::string> client_id = {};
  std::optional<std::string> client_key = {};  // base64url, no padding
};

struct HelloResult {
  std::string client_id = {};
  std::optional<std::string> client_key = {};  // only when minted
  bool resumed = false;
};

struct Originator {
  std::string client_id = {};
  std::string kind = {};
  std::string name = {};
};

// The latest delivery to an approval channel (the Discord message, its edits) the server
// gave up on (ASSENT-REQ-028).
struct ApproverDeliveryFailure {
  TimeMs at = 0;
  int64_t attempts = 0;
};

struct RequestView {
  std::string request_id = {};
  std::string state = {};
  Originator originator = {};
  std::vector<std::string> secrets = {};
  std::string reason = {};
  int64_t ttl_s = 0;
  std::string mode = {};
  std::optional<Command> command = {};
  std::optional<std::string> client_request_id = {};
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
  std::optional<TimeMs> decided_at = {};
  int64_t approvals = 0;
  int64_t approvals_required = 1;
  std::optional<std::string> decision_note = {};
  std::optional<std::string> grant_id = {};
  std::optional<ApproverDeliveryFailure> approver_delivery_failed = {};
  int64_t revision = 0;  // not on the wire; changes whenever the request does
};

struct GrantView {
  std::string grant_id = {};
  std::string request_id = {};
  std::string originator_client_id = {};
  std::vector<std::string> secrets = {};
  std::string state = {};
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
  int64_t uses_left = 0;
  int64_t uses_total = 0;
  bool command_bound = false;
};

struct CreateRequestParams {
  std::vector<std::string> secrets = {};
  std::string reason = {};
  std::optional<int64_t> ttl_s = {};
  std::optional<std::string> mode = {};  // interactive (default) | unattended
  std::optional<int64_t> timeout_s = {};
  std::optional<Command> command = {};
  std::optional<std::string> client_request_id = {};
};

struct ListRequestsParams {
  std::optional<std::string> state = {};
  int64_t limit = 100;
  std::optional<std::string> after = {};  // request id
};

struct ListRequestsResult {
  std::vector<RequestView> requests = {};
  std::optional<std::string> next_after = {};
};

struct WaitResult {
  RequestView request = {};
  bool changed = false;
};

struct DecideParams {
  std::string request_id = {};
  bool approve = false;
  std::optional<int64_t> ttl_s = {};
  std::optional<std::string> note = {};
};

struct DecideResult {
  RequestView request = {};
  std::optional<GrantView> grant = {};  // the grant this decision issued
};

struct ListGrantsParams {
  std::optional<std::string> state = {};
  std::optional<std::string> request_id = {};
};

struct RevokeAllResult {
  int64_t revoked_grants = 0;
  int64_t cancelled_requests = 0;
};

struct RevealParams {
  std::string grant_id = {};
  std::string name = {};
  std::string recipient_key = {};  // 32 raw bytes (X25519 public key)
  std::optional<Command> command = {};
};

struct RevealResult {
  std::string name = {};
  std::string encoding = {};
  std::string sealed_value = {};  // raw bytes of crypto_box_seal
  int64_t uses_left = 0;     // uses left on the grant, all names together
};

struct SweepResult {
  int64_t timed_out_requests = 0;
  int64_t expired_grants = 0;
};

}  // namespace assent::core
