#include "approvers/discord/outbox_worker.h"

#include <nlohmann/json.hpp>

#include "base/json_members.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "approvers/discord/message.h"
#include "approvers/discord/state.h"
#include "base/log.h"
#include "crypto/crypto.h"

namespace assent::discord {

using nlohmann::json;

struct OutboxWorker::Outcome {
  enum class Kind { kDone, kRetry, kDead, kDefer };
  Outcome() = default;
  Outcome(Kind k, std::string e) : kind(k), error(std::move(e)) {}
  Kind kind = Kind::kDone;
  std::string error;      // safe to store and log
  int64_t delay_ms = -1;  // kRetry: Discord's retry_after (else backoff); kDefer: wait
  // Applied in the transaction that finishes the row.
  std::function<Status(store::Tx&)> on_commit;
  bool posted = false;
  bool rate_limited = false;
};

namespace {

// Rows about a request (posts, edits, reactions) have their failure recorded on it.
bool HasRequest(const store::OutboxRow& r) { return r.request_id && !r.request_id->empty(); }

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RandomHex(RandomSource& random, size_t bytes) {
  std::vector<uint8_t> b(bytes);
  random.Fill(b.data(), b.size());
  return HexEncode(b.data(), b.size());
}

}  // namespace

int64_t BackoffMs(const DiscordConfig& c, int64_t attempts) {
  if (attempts < 1) attempts = 1;
  int64_t d = std::max<int64_t>(c.backoff_base_ms, 1);
  for (int64_t i = 1; i < attempts && d < c.backoff_cap_ms; ++i) d *= 2;
  return std::min(d, c.backoff_cap_ms);
}

std::string DiscordNonce(int64_t row_id, const std::string& row_nonce) {
  std::string material = "assent.discord.nonce.v1";
  material.push_back('\0');
  material += std::to_string(row_id);
  material.push_back('\0');
  material += row_nonce;
  return crypto::Blake2b256Hex(material).substr(0, kMessageNonceBytesMax);
}

OutboxWorker::OutboxWorker(const DiscordConfig& config, store::Store& store, Clock& clock,
                           RandomSource& random, RestClient& rest, ApprovalBackend& backend)
    : config_(config),
      store_(store),
      clock_(clock),
      random_(random),
      rest_(rest),
      backend_(backend) {}

OutboxWorker::~OutboxWorker() { Stop(); }

Status OutboxWorker::Recover() {
  int64_t recovered = 0;
  Status st = store_.WithTransaction([&](store::Tx& tx) -> Status {
    auto ids = GetInflight(tx);
    if (!ids.ok()) return ids.status();
    for (int64_t id : *ids) {
      auto row = tx.GetOutbox(id);
      if (!row.ok()) return row.status();
      if (!*row || (*row)->state != "inflight") continue;
      store::OutboxRow r = **row;
      r.state = "pending";
      r.next_attempt_at = clock_.NowMs();
      r.updated_at = clock_.NowMs();
      ASSENT_RETURN_IF_ERROR(tx.UpdateOutbox(r));
      ++recovered;
    }
    return PutInflight(tx, {});
  });
  if (st.ok() && recovered > 0)
    log::Info("discord.outbox_recovered", {{"rows", std::to_string(recovered)}});
  if (!st.ok()) return st;
  // Dead rows whose failure a crash kept from being recorded on the request.
  std::vector<store::OutboxRow> unrecorded;
  st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto ids = GetDeadUnrecorded(tx);
    if (!ids.ok()) return ids.status();
    for (int64_t id : *ids) {
      auto row = tx.GetOutbox(id);
      if (!row.ok()) return row.status();
      store::OutboxRow r;
      if (*row) r = **row;
      r.id = id;
      unrecorded.push_back(std::move(r));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  for (const auto& r : unrecorded) RecordDead(r);
  if (!unrecorded.empty())
    log::Info("discord.outbox_dead_recovered", {{"rows", std::to_string(unrecorded.size())}});
  return Status::Ok();
}

void OutboxWorker::RecordDead(const store::OutboxRow& row) {
  auto unlist = [id = row.id](store::Tx& tx) -> Status {
    auto ids = GetDeadUnrecorded(tx);
    if (!ids.ok()) return ids.status();
    ids->erase(id);
    return PutDeadUnrecorded(tx, *ids);
  };
  Status st = NotFound("no request");
  if (HasRequest(row))
    st = backend_.RecordDeliveryDead(*row.request_id, row.kind, row.attempts, unlist);
  // Nothing can be recorded about a request that does not exist: drop it from the list
  // instead of trying at every start. Other failures keep it listed for the next start.
  if (st.code() == ErrorCode::kNotFound) (void)store_.WithTransaction(unlist);
}

int OutboxWorker::RunOnce() {
  if (clock_.NowMs() < paused_until_ms_) return 0;
  std::vector<int64_t> ids;
  Status st = store_.WithReadTransaction([&](store::ReadTx& tx) -> Status {
    auto rows = tx.ListDueOutbox(clock_.NowMs(), kOutboxBatchMax);
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows) ids.push_back(r.id);
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Error("discord.outbox_read_failed");
    return 0;
  }
  int handled = 0;
  for (int64_t id : ids) {
    if (clock_.NowMs() < paused_until_ms_) break;
    Process(id);
    ++handled;
  }
  return handled;
}

void OutboxWorker::Process(int64_t row_id) {
  // Claim: pending → inflight, committed before the call.
  std::optional<store::OutboxRow> claimed;
  Status st = store_.WithTransaction([&](store::Tx& tx) -> Status {
    auto row = tx.GetOutbox(row_id);
    if (!row.ok()) return row.status();
    if (!*row || (*row)->state != "pending") return Status::Ok();
    store::OutboxRow r = **row;
    r.state = "inflight";
    r.attempts += 1;
    r.updated_at = clock_.NowMs();
    if (r.nonce.empty()) r.nonce = RandomHex(random_, 16);
    if (r.kind == kOutboxRequestCreated && r.request_id) {
      auto rec = GetMessageRecord(tx, *r.request_id);
      if (!rec.ok()) return rec.status();
      if (!*rec) {
        MessageRecord fresh;
        fresh.button_nonce = RandomHex(random_, kButtonNonceBytes);
        fresh.channel_id = config_.channel_id;
        ASSENT_RETURN_IF_ERROR(PutMessageRecord(tx, *r.request_id, fresh));
      }
    }
    auto inflight = GetInflight(tx);
    if (!inflight.ok()) return inflight.status();
    inflight->insert(r.id);
    ASSENT_RETURN_IF_ERROR(PutInflight(tx, *inflight));
    ASSENT_RETURN_IF_ERROR(tx.UpdateOutbox(r));
    claimed = r;
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Error("discord.outbox_claim_failed", {{"row", std::to_string(row_id)}});
    return;
  }
  if (!claimed) return;

  Outcome out = Perform(*claimed);

  store::OutboxRow r = *claimed;
  const TimeMs now = clock_.NowMs();
  r.updated_at = now;
  using K = Outcome::Kind;
  // A 429 is Discord pacing us, not a failure: while the row is young it does not use
  // up an attempt (a burst of requests must not kill posts); an old row that is still
  // being refused counts, so nothing waits forever.
  if (out.kind == K::kRetry && out.rate_limited && now - r.created_at < kRateLimitedFreeMs)
    r.attempts -= 1;
  if (out.kind == K::kRetry && r.attempts >= config_.max_attempts) out.kind = K::kDead;
  switch (out.kind) {
    case K::kDone:
      r.state = "done";
      r.last_error = out.error.empty() ? std::nullopt : std::optional<std::string>(out.error);
      break;
    case K::kRetry:
      r.state = "pending";
      r.next_attempt_at =
          now + (out.delay_ms >= 0 ? out.delay_ms : BackoffMs(config_, r.attempts));
      r.last_error = out.error;
      break;
    case K::kDefer:
      r.state = "pending";
      r.attempts -= 1;  // waiting for another row is not a failed attempt
      r.next_attempt_at = now + out.delay_ms;
      break;
    case K::kDead:
      r.state = "dead";
      r.last_error = out.error;
      break;
  }
  st = store_.WithTransaction([&](store::Tx& tx) -> Status {
    if (out.on_commit) ASSENT_RETURN_IF_ERROR(out.on_commit(tx));
    if (r.state == "dead" && r.kind == kOutboxRequestCreated && r.request_id) {
      auto rec = GetMessageRecord(tx, *r.request_id);
      if (!rec.ok()) return rec.status();
      MessageRecord m = rec->value_or(MessageRecord{});
      m.dead = true;
      ASSENT_RETURN_IF_ERROR(PutMessageRecord(tx, *r.request_id, m));
    }
    auto inflight = GetInflight(tx);
    if (!inflight.ok()) return inflight.status();
    inflight->erase(r.id);
    ASSENT_RETURN_IF_ERROR(PutInflight(tx, *inflight));
    if (r.state == "dead" && HasRequest(r)) {
      auto unrecorded = GetDeadUnrecorded(tx);
      if (!unrecorded.ok()) return unrecorded.status();
      unrecorded->insert(r.id);
      ASSENT_RETURN_IF_ERROR(PutDeadUnrecorded(tx, *unrecorded));
    }
    return tx.UpdateOutbox(r);
  });
  if (!st.ok()) {
    // The row stays inflight; Recover() at the next start sends it again, and the
    // nonce keeps a post from appearing twice.
    log::Error("discord.outbox_finish_failed", {{"row", std::to_string(r.id)}});
    return;
  }
  if (r.state == "dead") {
    log::Error("discord.outbox_dead", {{"row", std::to_string(r.id)},
                                       {"kind", r.kind},
                                       {"attempts", std::to_string(r.attempts)},
                                       {"error", out.error}});
    if (HasRequest(r)) RecordDead(r);
  } else if (r.state == "pending" && out.kind == K::kRetry) {
    log::Warn("discord.outbox_retry", {{"row", std::to_string(r.id)},
                                       {"kind", r.kind},
                                       {"attempts", std::to_string(r.attempts)},
                                       {"error", out.error}});
  }
  if (out.posted && on_posted_) on_posted_();
}

void OutboxWorker::NoteBucket(const RestResult& res) {
  // Discord says the bucket is empty: wait for it to refill instead of earning a 429.
  if (res.remaining && *res.remaining == 0 && res.reset_after_ms) {
    const TimeMs until = clock_.NowMs() + std::min(*res.reset_after_ms, kRetryAfterMsMax);
    if (until > paused_until_ms_.load()) paused_until_ms_ = until;
  }
}

OutboxWorker::Outcome OutboxWorker::FromRest(const RestResult& res) {
  Outcome o;
  if (res.outcome == RestOutcome::kRateLimited) {
    o.kind = Outcome::Kind::kRetry;
    o.rate_limited = true;
    o.delay_ms = res.retry_after_ms;
    paused_until_ms_ = clock_.NowMs() + res.retry_after_ms;
  } else if (res.retryable()) {
    o.kind = Outcome::Kind::kRetry;
  } else {
    o.kind = Outcome::Kind::kDead;
  }
  o.error = res.error;
  return o;
}

OutboxWorker::Outcome OutboxWorker::Perform(const store::OutboxRow& row) {
  json payload = json::parse(row.payload_json, nullptr, false);
  std::string request_id = row.request_id.value_or("");
  if (!StrMember(payload, "request_id").empty()) request_id = StrMember(payload, "request_id");
  if (!IsRequestId(request_id)) return {Outcome::Kind::kDead, "no request id in the row"};
  if (row.kind == kOutboxRequestCreated) return PostMessage(row, request_id);
  if (row.kind == kOutboxRequestUpdated) return EditMessage(row, request_id);
  if (row.kind == kOutboxReact) {
    std::string emoji = StrMember(payload, "emoji");
    if (emoji != kApproveEmoji && emoji != kDenyEmoji)
      return {Outcome::Kind::kDead, "unknown reaction"};
    return React(row, request_id, emoji);
  }
  return {Outcome::Kind::kDead, "unknown outbox kind"};
}

OutboxWorker::Outcome OutboxWorker::PostMessage(const store::OutboxRow& row,
                                                const std::string& request_id) {
  auto read = ReadMessageRecord(store_, request_id);
  if (!read.ok() || !*read) return {Outcome::Kind::kRetry, "store read failed"};
  std::optional<MessageRecord>& rec = *read;
  if (!rec->message_id.empty()) return {Outcome::Kind::kDone, ""};  // posted before

  auto view = backend_.GetRequest(request_id);
  if (!view.ok()) {
    if (view.status().code() == ErrorCode::kNotFound)
      return {Outcome::Kind::kDead, "the request does not exist"};
    return {Outcome::Kind::kRetry, "could not read the request"};
  }
  RenderContext ctx{config_.host, config_.mode, rec->button_nonce};
  json msg = RenderRequestMessage(*view, ctx);
  RestResult res = rest_.CreateMessage(config_.channel_id, msg, DiscordNonce(row.id, row.nonce));
  NoteBucket(res);
  if (!res.ok()) return FromRest(res);
  if (!IsSnowflake(StrMember(res.body, "id")))
    return {Outcome::Kind::kRetry, "Discord's answer has no message id"};

  MessageRecord posted = *rec;
  posted.message_id = res.body["id"].get<std::string>();
  posted.channel_id = config_.channel_id;
  std::string author;
  if (res.body.contains("author")) author = StrMember(res.body["author"], "id");
  const bool add_reactions = config_.mode == Mode::kReactions && view->state == "pending";
  const TimeMs now = clock_.NowMs();
  Outcome o;
  o.kind = Outcome::Kind::kDone;
  o.posted = true;
  o.on_commit = [=, this](store::Tx& tx) -> Status {
    ASSENT_RETURN_IF_ERROR(PutMessageRecord(tx, request_id, posted));
    if (IsSnowflake(author)) ASSENT_RETURN_IF_ERROR(PutBotUserId(tx, author));
    if (add_reactions) {
      for (const char* emoji : {kApproveEmoji, kDenyEmoji}) {
        store::OutboxRow react;
        react.kind = kOutboxReact;
        react.request_id = request_id;
        react.payload_json = Dump({{"request_id", request_id}, {"emoji", emoji}});
        react.state = "pending";
        react.next_attempt_at = now;
        react.nonce = RandomHex(random_, 16);
        react.created_at = now;
        react.updated_at = now;
        auto id = tx.InsertOutbox(react);
        if (!id.ok()) return id.status();
      }
    }
    return Status::Ok();
  };
  log::Info("discord.posted", {{"request_id", request_id}, {"message_id", posted.message_id}});
  return o;
}

OutboxWorker::Outcome OutboxWorker::EditMessage(const store::OutboxRow& row,
                                                const std::string& request_id) {
  auto read = ReadMessageRecord(store_, request_id);
  if (!read.ok()) return {Outcome::Kind::kRetry, "store read failed"};
  std::optional<MessageRecord>& rec = *read;
  if (!rec || rec->message_id.empty()) {
    if (rec && rec->dead) return {Outcome::Kind::kDone, "no message: its post was given up"};
    if (clock_.NowMs() - row.created_at > kEditWaitForPostMsMax)
      return {Outcome::Kind::kDone, "no message to edit"};
    Outcome o{Outcome::Kind::kDefer, ""};
    o.delay_ms = kEditDeferMs;
    return o;
  }
  auto view = backend_.GetRequest(request_id);
  if (!view.ok()) {
    if (view.status().code() == ErrorCode::kNotFound)
      return {Outcome::Kind::kDead, "the request does not exist"};
    return {Outcome::Kind::kRetry, "could not read the request"};
  }
  RenderContext ctx{config_.host, config_.mode, rec->button_nonce};
  RestResult res = rest_.EditMessage(MessageChannel(*rec, config_.channel_id),
                                     rec->message_id, RenderRequestMessage(*view, ctx));
  NoteBucket(res);
  if (!res.ok()) return FromRest(res);
  log::Info("discord.edited", {{"request_id", request_id}, {"state", view->state}});
  return {Outcome::Kind::kDone, ""};
}

OutboxWorker::Outcome OutboxWorker::React(const store::OutboxRow&, const std::string& request_id,
                                          const std::string& emoji) {
  auto read = ReadMessageRecord(store_, request_id);
  if (!read.ok()) return {Outcome::Kind::kRetry, "store read failed"};
  std::optional<MessageRecord>& rec = *read;
  if (!rec || rec->message_id.empty()) return {Outcome::Kind::kDead, "no message to react to"};
  RestResult res = rest_.AddReaction(MessageChannel(*rec, config_.channel_id),
                                     rec->message_id, emoji);
  NoteBucket(res);
  if (!res.ok()) return FromRest(res);
  return {Outcome::Kind::kDone, ""};
}

void OutboxWorker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OutboxWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void OutboxWorker::Loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      wake_ = false;
    }
    int handled = RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) return;
    if (handled >= kOutboxBatchMax) continue;  // more may be due at once
    int64_t wait_ms = config_.outbox_poll_ms;
    const TimeMs now = clock_.NowMs();
    const TimeMs paused = paused_until_ms_.load();
    if (paused > now) wait_ms = std::min(wait_ms, paused - now);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)),
                 [&] { return stop_ || wake_; });
  }
}

}  // namespace assent::discord
