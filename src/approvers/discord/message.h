// The approval message: what a human sees on their phone, and the buttons' custom_id.
//
// One function renders a request, in whatever state it is now, into the body of a
// Discord create/edit message call; the outbox worker and the interactions endpoint both
// use it, so a post, an edit after a decision elsewhere, and the UPDATE_MESSAGE answer to
// a click always agree. Implements the content half of ASSENT-DISC-001 and -008: the
// originator, secrets, reason, bound command, host, TTL and deadline; Approve / Deny
// buttons while the request is pending (interactions mode); the outcome and no buttons
// once it is finished.
//
// Everything the agent wrote (reason, names, argv, cwd) is untrusted: it is shown inside
// code spans with backticks neutralised, truncated on a UTF-8 boundary to fit Discord's
// 2000-character limit, and mentions are disabled (allowed_mentions.parse = []), so a
// request cannot ping @everyone or forge the layout of the message.
//
// custom_id grammar: "assent:" ("approve" | "deny") ":" request_id ":" nonce, where
// request_id is "rq_" + 32 lowercase hex and nonce is 1..64 lowercase hex digits. The
// nonce is random per request and stored beside its message record (state.h), so a
// forged custom_id naming a real request still fails.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "approvers/discord/config.h"
#include "base/clock.h"
#include "core/types.h"

namespace assent::discord {

struct CustomId {
  bool approve = false;
  std::string request_id;
  std::string nonce;
  bool operator==(const CustomId&) const = default;
};

std::string FormatCustomId(const CustomId& id);
// nullopt for anything not produced by FormatCustomId (never throws).
std::optional<CustomId> ParseCustomId(std::string_view text);

bool IsRequestId(std::string_view s);

struct RenderContext {
  std::string host;
  Mode mode = Mode::kInteractions;
  // Set while the request is pending in interactions mode: the buttons carry it.
  std::string button_nonce;
};

// The message body ({content, components, allowed_mentions}) for `request` as it is now.
nlohmann::json RenderRequestMessage(const core::RequestView& request,
                                    const RenderContext& ctx);

// Cuts `s` to at most `max_bytes` bytes without splitting a UTF-8 sequence, appending
// "…" when it cut.
std::string TruncateUtf8(std::string_view s, size_t max_bytes);

}  // namespace assent::discord
