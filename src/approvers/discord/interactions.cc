#include "approvers/discord/interactions.h"

#include <nlohmann/json.hpp>

#include "base/json_members.h"

#include "approvers/discord/message.h"
#include "approvers/discord/state.h"
#include "base/log.h"
#include "base/fault.h"
#include "crypto/crypto.h"

namespace assent::discord {
namespace {

using nlohmann::json;

constexpr size_t kSignatureHexChars = 2 * crypto::kSignatureBytes;
// Unix seconds fit in 11 digits until the year 5138; more is not a timestamp.
constexpr size_t kTimestampDigitsMax = 12;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

InteractionResponse HttpError(int status, const std::string& error, const std::string& msg) {
  InteractionResponse r;
  r.status = status;
  r.body = Dump({{"error", error}, {"message", msg}});
  return r;
}

InteractionResponse Ok(std::string body) {
  InteractionResponse r;
  r.body = std::move(body);
  return r;
}

// A string member, or "" when absent or of another type.
std::string Str(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

const json* Obj(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  if (it == o.end() || !it->is_object()) return nullptr;
  return &*it;
}

}  // namespace

const char* SignatureCheckName(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::kOk: return "ok";
    case SignatureCheck::kMissing: return "missing";
    case SignatureCheck::kMalformed: return "malformed";
    case SignatureCheck::kBadSignature: return "bad_signature";
    case SignatureCheck::kStale: return "stale";
  }
  return "unknown";
}

SignatureCheck VerifyInteractionSignature(std::string_view public_key,
                                          std::string_view signature_hex,
                                          std::string_view timestamp, std::string_view body,
                                          TimeMs now_ms, int64_t max_age_s) {
  if (signature_hex.empty() || timestamp.empty()) return SignatureCheck::kMissing;
  if (signature_hex.size() != kSignatureHexChars || timestamp.size() > kTimestampDigitsMax)
    return SignatureCheck::kMalformed;
  int64_t ts_s = 0;
  for (char c : timestamp) {
    if (c < '0' || c > '9') return SignatureCheck::kMalformed;
    ts_s = ts_s * 10 + (c - '0');
  }
  auto signature = crypto::HexDecode(signature_hex);
  if (!signature || signature->size() != crypto::kSignatureBytes)
    return SignatureCheck::kMalformed;
  std::string message;
  message.reserve(timestamp.size() + body.size());
  message.append(timestamp);
  message.append(body);
  if (!crypto::Ed25519Verify(public_key, message, *signature))
    return SignatureCheck::kBadSignature;
  // Checked after the signature so an attacker learns nothing about our clock from
  // unsigned probes; a signed but old (or future) delivery is a replay.
  const int64_t now_s = now_ms / 1000;
  const int64_t age_s = now_s >= ts_s ? now_s - ts_s : ts_s - now_s;
  if (age_s > max_age_s) return SignatureCheck::kStale;
  return SignatureCheck::kOk;
}

std::optional<Interaction> ParseInteraction(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto t = j.find("type");
  if (t == j.end() || !t->is_number_integer()) return std::nullopt;
  Interaction ix;
  ix.type = t->get<int64_t>();
  ix.id = Str(j, "id");
  if (const json* data = Obj(j, "data")) ix.custom_id = Str(*data, "custom_id");
  if (const json* member = Obj(j, "member")) {
    if (const json* user = Obj(*member, "user")) ix.user_id = Str(*user, "id");
  }
  if (ix.user_id.empty()) {
    if (const json* user = Obj(j, "user")) ix.user_id = Str(*user, "id");
  }
  if (const json* msg = Obj(j, "message")) ix.message_id = Str(*msg, "id");
  return ix;
}

std::string EphemeralReply(const std::string& text) {
  return Dump({{"type", 4},
               {"data",
                {{"content", TruncateUtf8(text, kMessageContentBytesMax)},
                 {"flags", kEphemeralFlag},
                 {"allowed_mentions", {{"parse", json::array()}}}}}});
}

InteractionsEndpoint::InteractionsEndpoint(const DiscordConfig& config, store::Store& store,
                                           Clock& clock, ApprovalBackend& backend)
    : config_(config), store_(store), clock_(clock), backend_(backend) {}

InteractionResponse InteractionsEndpoint::Handle(const InteractionRequest& request) {
  const std::string sig = request.header ? request.header("X-Signature-Ed25519") : "";
  const std::string ts = request.header ? request.header("X-Signature-Timestamp") : "";
  SignatureCheck check = VerifyInteractionSignature(config_.public_key, sig, ts, request.body,
                                                    clock_.NowMs());
  if (check != SignatureCheck::kOk && !ASSENT_FAULT("discord-unsigned-accepted")) {
    log::Warn("discord.interaction_refused", {{"reason", SignatureCheckName(check)}});
    return HttpError(401, "bad_signature",
                     check == SignatureCheck::kStale
                         ? "X-Signature-Timestamp is too far from the server's clock"
                         : "missing or invalid X-Signature-Ed25519");
  }
  auto ix = ParseInteraction(request.body);
  if (!ix) return HttpError(400, "bad_request", "the body is not a Discord interaction");
  if (ix->type == kInteractionPing) return Ok(R"({"type":1})");
  if (ix->type != kInteractionComponent)
    return Ok(EphemeralReply("Assent only handles its own Approve and Deny buttons."));
  return HandleComponent(*ix);
}

InteractionResponse InteractionsEndpoint::HandleComponent(const Interaction& ix) {
  if (!IsSnowflake(ix.id))
    return HttpError(400, "bad_request", "the interaction has no valid id");
  std::lock_guard<std::mutex> lock(component_mu_);

  // A redelivered interaction gets the first answer again and changes nothing.
  std::optional<std::string> seen;
  Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto a = GetInteractionAnswer(tx, ix.id);
    if (!a.ok()) return a.status();
    seen = *a;
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Error("discord.interaction_store_failed", {{"op", "read"}});
    return Ok(EphemeralReply("Assent could not read its state; nothing changed. Try again."));
  }
  if (seen && !ASSENT_FAULT("discord-duplicate-counted-twice")) {
    log::Info("discord.interaction_duplicate", {{"interaction_id", ix.id}});
    return Ok(*seen);
  }

  // Computes the answer; `remember` is false for transient failures, which a retry
  // (a new click) may get past.
  bool remember = true;
  std::string answer = [&]() -> std::string {
    if (!IsSnowflake(ix.user_id))
      return EphemeralReply("Assent cannot tell who clicked; nothing was decided.");
    auto cid = ParseCustomId(ix.custom_id);
    if (!cid) return EphemeralReply("This is not an Assent button; nothing was decided.");
    if (config_.allowed_users.count(ix.user_id) == 0) {
      log::Warn("discord.unlisted_click", {{"user_id", ix.user_id}});
      return EphemeralReply(
          "You are not on this Assent server's list of approvers; nothing was decided.");
    }
    std::optional<MessageRecord> record;
    Status rs = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
      auto r = GetMessageRecord(tx, cid->request_id);
      if (!r.ok()) return r.status();
      record = *r;
      return Status::Ok();
    });
    if (!rs.ok()) {
      remember = false;
      return EphemeralReply("Assent could not read its state; nothing changed. Try again.");
    }
    if (!record || record->button_nonce.empty() ||
        !crypto::ConstantTimeEqual(record->button_nonce, cid->nonce)) {
      log::Warn("discord.forged_button", {{"user_id", ix.user_id}});
      return EphemeralReply("This button is not valid for that request; nothing was decided.");
    }
    auto vote = backend_.Vote(cid->request_id, ix.user_id, cid->approve);
    if (!vote.ok()) {
      const Status& e = vote.status();
      if (e.code() == ErrorCode::kInvalidState) {
        std::string state = StrMember(e.data(), "state");
        return EphemeralReply("This request is already decided" +
                              (state.empty() ? std::string() : " (" + state + ")") +
                              "; your click changed nothing.");
      }
      if (e.code() == ErrorCode::kForbidden) {
        std::string reason = StrMember(e.data(), "reason");
        if (reason == "already_voted")
          return EphemeralReply("You already voted on this request.");
        return EphemeralReply("Assent refused this vote (" + reason + ").");
      }
      if (e.code() == ErrorCode::kNotFound)
        return EphemeralReply("Assent does not know this request.");
      remember = false;
      log::Error("discord.vote_failed", {{"code", ErrorName(e.code())}});
      return EphemeralReply("Assent could not record your vote; nothing changed. Try again.");
    }
    log::Info("discord.vote", {{"request_id", cid->request_id},
                               {"user_id", ix.user_id},
                               {"decision", cid->approve ? "approve" : "deny"},
                               {"state", vote->request.state}});
    RenderContext ctx{config_.host, config_.mode, record->button_nonce};
    return Dump({{"type", 7}, {"data", RenderRequestMessage(vote->request, ctx)}});
  }();

  if (remember) {
    Status ws = store_.WithTransaction(
        [&](store::Tx& tx) { return PutInteractionAnswer(tx, ix.id, answer); });
    // The vote itself is already committed; a lost dedupe record only means that a
    // redelivery is refused by the engine (already voted / decided) instead of replayed.
    if (!ws.ok()) log::Warn("discord.interaction_store_failed", {{"op", "write"}});
  }
  return Ok(std::move(answer));
}

}  // namespace assent::discord
