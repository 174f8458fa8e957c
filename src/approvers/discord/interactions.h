// POST /discord/interactions: Discord's signed webhook, the button half of the approver.
//
// Order of work for every delivery (nothing is parsed before the signature holds):
//   1. X-Signature-Ed25519 (128 hex) and X-Signature-Timestamp (decimal Unix seconds)
//      must both be present and well formed, the signature must verify with the
//      application's public key over timestamp ‖ raw body, and the timestamp must be
//      within discord_signature_max_age_s of our clock, either way. Any failure →
//      HTTP 401 {"error":"bad_signature"} and nothing else happens
//      (ASSENT-DISC-002, ASSENT-DISC-003).
//   2. PING (type 1) → {"type":1} (ASSENT-DISC-004).
//   3. MESSAGE_COMPONENT (type 3): an interaction id seen before gets the answer it got
//      the first time (durable, so a redelivery after a restart counts once too); a
//      clicker not on the allowlist gets an ephemeral refusal and decides nothing
//      (ASSENT-DISC-005); a custom_id whose nonce is not the one stored for that
//      request decides nothing; an allowlisted click is one vote through the engine's
//      decision path, committed before this returns, answered with UPDATE_MESSAGE
//      (type 7) showing the votes so far or the outcome without buttons
//      (ASSENT-DISC-006); a click on a finished request gets an ephemeral "already
//      decided".
//
// The HTTP layer owns the socket; this class sees only the raw body and a header lookup
// (the daemon adapts http::RawRequest/RawResponse, see discord_approver.h).
//
// Thread safety: Handle() may be called from any number of HTTP worker threads;
// component clicks are serialised (a human clicks a few times a minute, and serialising
// makes a concurrent redelivery of one interaction see the first answer).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "approvers/discord/backend.h"
#include "approvers/discord/config.h"
#include "base/clock.h"
#include "base/limits.h"
#include "store/store.h"

namespace assent::discord {

struct InteractionRequest {
  std::string body;
  // Header lookup by (case-insensitive) name; "" when absent.
  std::function<std::string(const std::string&)> header;
};

struct InteractionResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

enum class SignatureCheck { kOk, kMissing, kMalformed, kBadSignature, kStale };
const char* SignatureCheckName(SignatureCheck c);

// Step 1 above, as a pure function. `public_key` is 32 raw bytes.
SignatureCheck VerifyInteractionSignature(
    std::string_view public_key, std::string_view signature_hex, std::string_view timestamp,
    std::string_view body, TimeMs now_ms,
    int64_t max_age_s = limits::kDiscordSignatureMaxAgeSeconds);

// The members of an interaction the approver reads. Never throws; nullopt when the body
// is not a JSON object with an integer `type`.
struct Interaction {
  int64_t type = 0;
  std::string id;
  std::string custom_id;   // data.custom_id (components)
  std::string user_id;     // member.user.id, else user.id
  std::string message_id;  // message.id
};
std::optional<Interaction> ParseInteraction(std::string_view body);

inline constexpr int64_t kInteractionPing = 1;
inline constexpr int64_t kInteractionComponent = 3;
inline constexpr int kEphemeralFlag = 64;

// An ephemeral reply (type 4, flags 64) with `text`.
std::string EphemeralReply(const std::string& text);

class InteractionsEndpoint {
 public:
  // `config.public_key` (32 bytes) and `config.allowed_users` are read on every call.
  InteractionsEndpoint(const DiscordConfig& config, store::Store& store, Clock& clock,
                       ApprovalBackend& backend);

  InteractionResponse Handle(const InteractionRequest& request);

 private:
  InteractionResponse HandleComponent(const Interaction& ix);

  const DiscordConfig& config_;
  store::Store& store_;
  Clock& clock_;
  ApprovalBackend& backend_;
  std::mutex component_mu_;
};

}  // namespace assent::discord
