#include "approvers/discord/discord_approver.h"

#include <nlohmann/json.hpp>

#include "base/json_members.h"

#include "base/log.h"

namespace assent::discord {

DiscordApprover::DiscordApprover(DiscordConfig config, store::Store& store, Clock& clock,
                                 RandomSource& random, ApprovalBackend& backend,
                                 std::unique_ptr<HttpTransport> transport)
    : config_(std::move(config)),
      random_(random),
      rest_(transport ? std::move(transport) : MakeHttplibTransport(config_)) {
  endpoint_ = std::make_unique<InteractionsEndpoint>(config_, store, clock, backend);
  outbox_ = std::make_unique<OutboxWorker>(config_, store, clock, random, rest_, backend);
  if (config_.mode == Mode::kReactions) {
    poller_ = std::make_unique<ReactionsPoller>(config_, store, clock, rest_, backend);
    outbox_->SetOnPosted([this] { poller_->Wake(); });
  }
}

DiscordApprover::~DiscordApprover() { Stop(); }

Status DiscordApprover::Start() {
  if (started_) return Status::Ok();
  ASSENT_RETURN_IF_ERROR(outbox_->Recover());
  outbox_->Start();
  if (poller_) poller_->Start();
  started_ = true;
  // Never the token: the base URL, channel and mode are enough to tell the wiring.
  log::Info("discord.started", {{"mode", ModeName(config_.mode)},
                                {"api_base", config_.api_base},
                                {"channel_id", config_.channel_id},
                                {"approvers", std::to_string(config_.allowed_users.size())}});
  return Status::Ok();
}

void DiscordApprover::Stop() {
  if (poller_) poller_->Stop();
  if (outbox_) outbox_->Stop();
  started_ = false;
}

void DiscordApprover::Wake() { outbox_->Wake(); }

std::function<InteractionResponse(const InteractionRequest&)>
DiscordApprover::InteractionsHandler() {
  InteractionsEndpoint* ep = endpoint_.get();
  return [ep](const InteractionRequest& r) { return ep->Handle(r); };
}

Result<std::string> DiscordApprover::PostTestMessage() {
  nlohmann::json msg = {
      {"content", "Assent wiring check from " + config_.host +
                      ": this channel will receive approval requests. No action needed."},
      {"allowed_mentions", {{"parse", nlohmann::json::array()}}}};
  // A fresh nonce each time: a wiring check should post every time it is asked to.
  uint8_t b[8];
  random_.Fill(b, sizeof b);
  RestResult r = rest_.CreateMessage(config_.channel_id, msg, "chk" + HexEncode(b, sizeof b));
  if (!r.ok()) {
    std::string hint;
    if (r.status == 401) hint = ": the bot token is wrong";
    if (r.status == 403) hint = ": the bot may not post in this channel (permissions)";
    if (r.status == 404) hint = ": unknown channel (check --discord-channel-id)";
    return InvalidParams("Discord refused the wiring check: " + r.error + hint);
  }
  std::string id = StrMember(r.body, "id");
  return "Discord accepted the wiring check: message " + id + " posted in channel " +
         config_.channel_id;
}

}  // namespace assent::discord
