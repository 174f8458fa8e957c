// ApprovalBackend: the narrow slice of the engine the Discord approver uses.
//
// The approver never changes a request itself: a click or a reaction becomes a vote
// through the very path `access.decide` takes (core::Engine::Decide, with the Discord
// user as the approver identity "discord:<id>", quorum, self-approval and state checks,
// audit entry, event and outbox row in one transaction). Keeping this seam small lets
// the unit tests and the fuzz harness drive the approver with a fake, and lets the
// engine evolve without touching the Discord code beyond engine_backend.cc.
//
// Thread safety: implementations must be callable from the HTTP worker threads, the
// outbox worker and the reactions poller at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/types.h"
#include "store/store.h"

namespace assent::discord {

class ApprovalBackend {
 public:
  virtual ~ApprovalBackend() = default;

  // The request as an approver sees it. kNotFound when unknown.
  virtual Result<core::RequestView> GetRequest(const std::string& request_id) = 0;

  // One vote by Discord user `discord_user_id` (ASSENT-DISC-006, ASSENT-REQ-019..022).
  // Errors are access.decide's: kInvalidState for a finished or overdue request,
  // kForbidden (data.reason "already_voted") for a second vote, kNotFound, and
  // kAuditUnavailable / kInternal when nothing could be committed.
  virtual Result<core::DecideResult> Vote(const std::string& request_id,
                                          const std::string& discord_user_id,
                                          bool approve) = 0;

  // Pending requests, oldest first, at most `limit` (reactions mode polls these).
  virtual Result<std::vector<core::RequestView>> ListPending(int64_t limit) = 0;

  // An outgoing Discord call was given up for good (the outbox row is dead). The
  // engine records it so that it is audited and visible on the request, and runs `also`
  // inside that same transaction: the outbox worker passes the removal of the row from
  // its durable list of dead rows not yet recorded, so a crash leaves either both done or
  // neither (then Recover() records it at the next start). kNotFound when the request
  // is gone.
  using TxStep = std::function<Status(store::Tx&)>;
  virtual Status RecordDeliveryDead(const std::string& request_id, const std::string& kind,
                                    int64_t attempts, const TxStep& also) = 0;
};

}  // namespace assent::discord
