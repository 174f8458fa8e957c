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

Status EngineBackend::RecordDeliveryDead(const std::string& request_id,
                                         const std::string& kind, int64_t attempts,
                                         const TxStep& also) {
  // Audited and marked on the request in one engine transaction (ASSENT-DISC-011,
  // ASSENT-AUDIT-009, ASSENT-REQ-028), together with the worker's `also`. The error
  // summary stays out of it: the outbox worker has logged it, and the audit subject has
  // no room for Discord's words.
  auto r = engine_.RecordApproverDeliveryFailed(request_id, attempts, also);
  if (!r.ok())
    log::Error("discord.delivery_dead_not_recorded", {{"request_id", request_id},
                                                      {"kind", kind},
                                                      {"error", r.status().message()}});
  return r.status();
}

}  // namespace assent::discord
