// EngineBackend: ApprovalBackend over core::Engine — the daemon's wiring of the approver.
//
// A Discord vote is an engine Decide() by a Caller with role approver and
// discord_user_id set: the engine counts it under "discord:<id>" (ASSENT-REQ-019),
// audits it with actor {"role":"discord","discord_user_id":…} and writes the event and
// the "request.updated" outbox row in the same transaction (ASSENT-DISC-006).
//
// Thread safety: as core::Engine (any thread).
#pragma once

#include "approvers/discord/backend.h"
#include "core/engine.h"

namespace assent::discord {

class EngineBackend final : public ApprovalBackend {
 public:
  explicit EngineBackend(core::Engine& engine) : engine_(engine) {}

  Result<core::RequestView> GetRequest(const std::string& request_id) override;
  Result<core::DecideResult> Vote(const std::string& request_id,
                                  const std::string& discord_user_id, bool approve) override;
  Result<std::vector<core::RequestView>> ListPending(int64_t limit) override;
  Status RecordDeliveryDead(const std::string& request_id, const std::string& kind,
                            int64_t attempts, const TxStep& also) override;

 private:
  core::Engine& engine_;
};

}  // namespace assent::discord
