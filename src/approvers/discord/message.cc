#include "approvers/discord/message.h"

#include <string>
#include <vector>

namespace assent::discord {
namespace {

constexpr std::string_view kPrefix = "assent:";
constexpr size_t kNonceHexMax = 64;

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Untrusted text inside a code span or block: a backtick would end it early, and a
// newline would break an inline span, so both are replaced.
std::string Codeish(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '`') {
      out += "\xCB\x8B";  // U+02CB MODIFIER LETTER GRAVE ACCENT, looks alike, inert
    } else if ((c == '\n' || c == '\r') && !keep_newlines) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string InlineCode(std::string_view s, size_t max_bytes) {
  std::string body = Codeish(TruncateUtf8(s, max_bytes), false);
  if (body.empty()) body = " ";
  return "`" + body + "`";
}

std::string Duration(int64_t s) {
  std::string human;
  if (s % 3600 == 0 && s >= 3600) {
    human = std::to_string(s / 3600) + " h";
  } else if (s % 60 == 0 && s >= 60) {
    human = std::to_string(s / 60) + " min";
  } else {
    return std::to_string(s) + " s";
  }
  return human + " (" + std::to_string(s) + " s)";
}

std::string DiscordTime(TimeMs t) {
  std::string unix_s = std::to_string(t / 1000);
  return "<t:" + unix_s + ":f> (<t:" + unix_s + ":R>, " + FormatTimeMs(t) + ")";
}

std::string StatusLine(const core::RequestView& r) {
  const std::string tally = std::to_string(r.approvals) + " of " +
                            std::to_string(r.approvals_required) + " approval" +
                            (r.approvals_required == 1 ? "" : "s");
  if (r.state == "pending") return "\xE2\x8F\xB3 **Waiting for a decision** \xE2\x80\x94 " + tally;
  if (r.state == "approved") return "\xE2\x9C\x85 **Approved** \xE2\x80\x94 " + tally;
  if (r.state == "denied") {
    std::string line = "\xE2\x9D\x8C **Denied**";
    if (r.decision_note && !r.decision_note->empty())
      line += " \xE2\x80\x94 note: " + InlineCode(*r.decision_note, 200);
    return line;
  }
  if (r.state == "timed_out")
    return "\xE2\x8C\x9B **Timed out** \xE2\x80\x94 nobody decided before the deadline";
  if (r.state == "cancelled") return "\xF0\x9F\x9A\xAB **Cancelled**";
  return "**" + Codeish(r.state, false) + "**";
}

}  // namespace

std::string TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (max_bytes < kEllipsis.size()) return "";
  size_t cut = max_bytes - kEllipsis.size();
  // Back off continuation bytes so the cut lands on the start of a sequence.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + std::string(kEllipsis);
}

bool IsRequestId(std::string_view s) {
  return s.size() == 35 && s.substr(0, 3) == "rq_" && IsLowerHex(s.substr(3));
}

std::string FormatCustomId(const CustomId& id) {
  return std::string(kPrefix) + (id.approve ? "approve" : "deny") + ":" + id.request_id +
         ":" + id.nonce;
}

std::optional<CustomId> ParseCustomId(std::string_view text) {
  if (text.size() > static_cast<size_t>(kCustomIdBytesMax)) return std::nullopt;
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  CustomId out;
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view action = text.substr(0, colon);
  if (action == "approve") {
    out.approve = true;
  } else if (action == "deny") {
    out.approve = false;
  } else {
    return std::nullopt;
  }
  text.remove_prefix(colon + 1);
  colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view rid = text.substr(0, colon);
  std::string_view nonce = text.substr(colon + 1);
  if (!IsRequestId(rid)) return std::nullopt;
  if (nonce.empty() || nonce.size() > kNonceHexMax || !IsLowerHex(nonce)) return std::nullopt;
  out.request_id = std::string(rid);
  out.nonce = std::string(nonce);
  return out;
}

nlohmann::json RenderRequestMessage(const core::RequestView& r, const RenderContext& ctx) {
  std::string c;
  c += "\xF0\x9F\x94\x90 **Assent access request** " + InlineCode(r.request_id, 64) + "\n";
  c += StatusLine(r) + "\n";
  c += "**Requester:** " + InlineCode(r.originator.name, 128) + " (" +
       InlineCode(r.originator.kind, 32) + ", " + InlineCode(r.originator.client_id, 64) +
       ")\n";
  std::string names;
  for (size_t i = 0; i < r.secrets.size(); ++i) names += (i ? ", " : "") + r.secrets[i];
  c += "**Secrets:** " + InlineCode(names, 400) + "\n";
  if (r.command) {
    std::string argv;
    for (size_t i = 0; i < r.command->argv.size(); ++i)
      argv += (i ? " " : "") + r.command->argv[i];
    c += "**Command:** " + InlineCode(argv, 300) + " in " + InlineCode(r.command->cwd, 150) +
         "\n";
  } else {
    c += "**Command:** not bound (any use of the grant)\n";
  }
  c += "**Host:** " + InlineCode(ctx.host, 64) + "\n";
  c += "**TTL asked:** " + Duration(r.ttl_s) + " \xC2\xB7 **Mode:** " + Codeish(r.mode, false) +
       "\n";
  c += "**Decide by:** " + DiscordTime(r.expires_at) + "\n";
  c += "**Reason:**\n```text\n" + Codeish(TruncateUtf8(r.reason, 800), true) + "\n```";
  const bool pending = r.state == "pending";
  if (pending && ctx.mode == Mode::kReactions)
    c += "\nReact \xE2\x9C\x85 to approve or \xE2\x9D\x8C to deny.";
  c = TruncateUtf8(c, static_cast<size_t>(kMessageContentBytesMax));

  nlohmann::json components = nlohmann::json::array();
  if (pending && ctx.mode == Mode::kInteractions && !ctx.button_nonce.empty()) {
    CustomId approve{true, r.request_id, ctx.button_nonce};
    CustomId deny{false, r.request_id, ctx.button_nonce};
    components.push_back(
        {{"type", 1},
         {"components",
          {{{"type", 2}, {"style", 3}, {"label", "Approve"}, {"custom_id", FormatCustomId(approve)}},
           {{"type", 2}, {"style", 4}, {"label", "Deny"}, {"custom_id", FormatCustomId(deny)}}}}});
  }
  return {{"content", c},
          {"components", components},
          {"allowed_mentions", {{"parse", nlohmann::json::array()}}}};
}

}  // namespace assent::discord
