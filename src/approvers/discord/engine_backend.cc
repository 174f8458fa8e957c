#include "approvers/discord/engine_backend.h"

#include "base/log.h"

namespace assent::discord {
namespace {

// The approver reads requests with an approver's view (every request, reason included:
// the human deciding must see it) but under no token and no client identity.
core::Caller DiscordCaller(const std::string& discord_user_id) {
  core::Caller c;
  c.role = core::Role::kApprover;
  c.peer = "discord";
  if (!discord_user_id.empty()) c.discord_user_id = discord_user_id;
  return c;
}

}  // namespace

Result<core::RequestView> EngineBackend::GetRequest(const std::string& request_id) {
  return engine_.GetRequest(DiscordCaller(""), request_id);
}

Result<core::DecideResult> EngineBackend::Vote(const std::string& request_id,
                                                const std::string& discord_user_id,
                                                bool approve) {
  core::DecideParams p;
  p.request_id = request_id;
  p.approve = approve;
  return engine_.Decide(DiscordCaller(discord_user_id), p);
}

Result<std::vector<core::RequestView>> EngineBackend::ListPending(int64_t limit) {
  core::ListRequestsParams p;
  p.state = "pending";
  p.limit = limit;
  auto r = engine_.ListRequests(DiscordCaller(""), p);
  if (!r.ok()) return r.status();
  return std::move(r->requests);
}

void EngineBackend::RecordDeliveryDead(const std::string& request_id, const std::string& kind,
                                       int64_t attempts, const std::string& error) {
  // The spec's AuditAction enum has no action for a failed approver delivery yet
  // (requested: "approver.delivery_failed"); until it does, the failure is logged and
  // kept on the outbox row (state dead, last_error), where CountOutbox("dead") sees it.
  log::Error("discord.delivery_dead", {{"request_id", request_id},
                                       {"kind", kind},
                                       {"attempts", std::to_string(attempts)},
                                       {"error", error}});
}

}  // namespace assent::discord
