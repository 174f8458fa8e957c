// DiscordApprover: the Discord approver as one object the daemon wires.
//
// Owns the REST client, the outbox worker, the reactions poller (reactions mode) and the
// interactions endpoint (interactions mode; in reactions mode the endpoint still answers
// PING and signed clicks if a public key was configured). The daemon:
//   1. builds a DiscordConfig (LoadDiscordConfig) and an ApprovalBackend over the engine
//      (EngineBackend), with EngineConfig::outbox_enabled = true;
//   2. installs InteractionsHandler() on the HTTP server for POST /discord/interactions;
//   3. calls Start() once the store is open (moves rows a crash left inflight back to
//      pending, then starts the threads), and Wake() after every engine commit
//      (Engine::Subscribe) so new outbox rows go out at once;
//   4. calls Stop() before the engine and the store are destroyed.
// See docs/discord.md for the whole picture.
//
// Thread safety: Start/Stop from the owning thread; Wake and the handler from any.
#pragma once

#include <functional>
#include <memory>

#include "approvers/discord/backend.h"
#include "approvers/discord/config.h"
#include "approvers/discord/interactions.h"
#include "approvers/discord/outbox_worker.h"
#include "approvers/discord/reactions_poller.h"
#include "approvers/discord/rest_client.h"
#include "base/clock.h"
#include "base/random.h"
#include "store/store.h"

namespace assent::discord {

class DiscordApprover {
 public:
  // `transport` = nullptr: the real HTTP(S) transport to config.api_base.
  DiscordApprover(DiscordConfig config, store::Store& store, Clock& clock,
                  RandomSource& random, ApprovalBackend& backend,
                  std::unique_ptr<HttpTransport> transport = nullptr);
  ~DiscordApprover();

  Status Start();
  void Stop();
  void Wake();

  std::function<InteractionResponse(const InteractionRequest&)> InteractionsHandler();

  // Posts one harmless message (no buttons) to the configured channel and returns a
  // one-line summary of Discord's answer: a wiring check for operators. The token is
  // never part of the summary.
  Result<std::string> PostTestMessage();

  const DiscordConfig& config() const { return config_; }
  OutboxWorker& outbox() { return *outbox_; }
  ReactionsPoller* poller() { return poller_.get(); }

 private:
  DiscordConfig config_;
  RandomSource& random_;
  RestClient rest_;
  std::unique_ptr<InteractionsEndpoint> endpoint_;
  std::unique_ptr<OutboxWorker> outbox_;
  std::unique_ptr<ReactionsPoller> poller_;
  bool started_ = false;
};

}  // namespace assent::discord
