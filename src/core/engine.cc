#include "core/engine.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <set>
#include <unordered_map>

#include "audit/audit.h"
#include "base/log.h"
#include "base/fault.h"
#include "crypto/crypto.h"
#include "base/limits.h"

// Propagates the error of a Result<T> expression, else binds its value to `lhs`.
#define ASSENT_CONCAT_INNER(a, b) a##b
#define ASSENT_CONCAT(a, b) ASSENT_CONCAT_INNER(a, b)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(ASSENT_CONCAT(assign_or_return_, __LINE__), lhs, expr)

namespace assent::core {

using json = nlohmann::json;

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAgent: return "agent";
    case Role::kApprover: return "approver";
    case Role::kAdmin: return "admin";
  }
  return "agent";
}

std::string ApproverIdentity(const Caller& caller) {
  if (caller.discord_user_id) return "discord:" + *caller.discord_user_id;
  if (!caller.token_name.empty()) return "token:" + caller.token_name;
  if (caller.client_id) return "client:" + *caller.client_id;
  return "anonymous";
}

namespace {

// ---- Small helpers --------------------------------------------------------------------

constexpr int64_t kScanAll = 1'000'000'000;  // "every row" for internal scans

json SystemActor() { return json{{"role", "system"}}; }

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status NotFoundErr(const char* kind, const std::string& id) {
  return Status::Error(ErrorCode::kNotFound, std::string("no such ") + kind,
                       {{"kind", kind}, {"id", id}});
}

Status InvalidStateErr(const char* kind, const std::string& id, const std::string& state) {
  return InvalidState(std::string(kind) + " is " + state,
                      {{"kind", kind}, {"id", id}, {"state", state}});
}

Status ExpiredErr(const std::string& grant_id, const std::string& state) {
  return Expired("grant is no longer usable (" + state + ")",
                 {{"grant_id", grant_id}, {"state", state}});
}

Status ForbiddenReason(const char* reason, const std::string& message) {
  return Forbidden("forbidden: " + message, {{"reason", reason}});
}

Status IdentityRequired() {
  return ForbiddenReason("client_identity_required",
                         "this call needs a client identity (say client.hello first)");
}

Status NotOriginator() {
  return ForbiddenReason("not_originator", "only the originator may do this");
}

Status Limit(const std::string& name, int64_t max) {
  return LimitExceeded("limit exceeded: " + name, name, max);
}

std::string SecretAd(const std::string& id, const std::string& name) {
  std::string ad = "assent.secret.v1";
  ad.push_back('\0');
  ad += id;
  ad.push_back('\0');
  ad += name;
  return ad;
}

json CommandToJson(const Command& c) { return json{{"argv", c.argv}, {"cwd", c.cwd}}; }

std::optional<Command> CommandFromText(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Command c;
  try {
    c.argv = j.at("argv").get<std::vector<std::string>>();
    c.cwd = j.at("cwd").get<std::string>();
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return c;
}

// ASSENT-REVEAL-004: commands compare by the hash of one canonical encoding (sorted
// compact JSON), so argv boundaries and cwd are all significant.
std::string CommandHash(const Command& c) { return crypto::Blake2b256Hex(Dump(CommandToJson(c))); }

std::vector<std::string> NamesFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& n : j)
      if (n.is_string()) out.push_back(n.get<std::string>());
  return out;
}

bool KeyProves(const std::string& key_hash, const std::string& key_text) {
  auto key = crypto::Base64UrlDecode(key_text);
  if (!key || key->size() != 32) {
    // Same work as a well-formed key, so timing says nothing about the format.
    (void)crypto::ConstantTimeEqual(crypto::Blake2b256(key_text), key_hash);
    return false;
  }
  bool ok = crypto::ConstantTimeEqual(crypto::Blake2b256(*key), key_hash);
  crypto::Wipe(*key);
  return ok;
}

GrantView ToGrantView(const store::GrantRow& g) {
  GrantView v;
  v.grant_id = g.id;
  v.request_id = g.request_id;
  v.originator_client_id = g.originator;
  v.secrets = NamesFromJson(g.secrets_json);
  v.state = g.state;
  v.created_at = g.created_at;
  v.expires_at = g.expires_at;
  v.uses_left = g.uses_left;
  v.uses_total = g.uses_total;
  v.command_bound = g.command_hash.has_value();
  return v;
}

Result<SecretMeta> ToMeta(const store::SecretRow& r) {
  json pj = json::parse(r.policy_json, nullptr, false);
  ASSIGN_OR_RETURN(Policy policy, PolicyFromJson(pj));
  SecretMeta m;
  m.secret_id = r.id;
  m.name = r.name;
  m.description = r.description;
  m.encoding = r.encoding;
  m.size_bytes = r.size_bytes;
  m.version = r.version;
  m.created_at = r.created_at;
  m.updated_at = r.updated_at;
  m.policy = policy;
  return m;
}

// Wipes a string when the scope ends, however it ends.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit() { crypto::Wipe(s_); }

 private:
  std::string& s_;
};

}  // namespace

// ---- The transaction context -----------------------------------------------------------

namespace internal {

// What one mutation has at hand: the transaction, the one `now` every check and row of
// the change uses, and writers for the audit entry, events and outbox rows that must
// commit with it.
class TxContext {
 public:
  TxContext(store::Tx& tx, TimeMs now, RandomSource& random, bool outbox_enabled)
      : tx(tx), now(now), random_(random), outbox_enabled_(outbox_enabled) {}

  store::Tx& tx;
  const TimeMs now;
  int64_t last_event_id = 0;
  // An error to answer after committing (an audited refusal, or a timeout the call
  // discovered and recorded).
  std::optional<Status> refusal;

  Status Audit(const json& actor, const std::string& action, const json& subject,
               const std::string& outcome = "ok") {
    audit::Entry e;
    e.time = now;
    e.actor = actor;
    e.action = action;
    e.subject = subject;
    e.outcome = outcome;
    auto row = audit::Append(tx, e);
    if (!row.ok()) {
      log::Error("audit.append_failed", {{"action", action}, {"error", row.status().message()}});
      return AuditUnavailable("audit log unavailable; nothing was changed");
    }
    return Status::Ok();
  }

  Status Event(const std::string& type, const std::string& originator, json data) {
    data["time"] = FormatTimeMs(now);
    auto id = tx.InsertEvent(store::EventRow{0, now, type, originator, Dump(data)});
    if (!id.ok()) return id.status();
    last_event_id = *id;
    return Status::Ok();
  }

  // The Discord hook: one row per request lifecycle change, consumed by the worker.
  Status Outbox(const std::string& kind, const std::string& request_id) {
    if (!outbox_enabled_) return Status::Ok();
    store::OutboxRow row;
    row.kind = kind;
    row.request_id = request_id;
    row.payload_json = Dump(json{{"request_id", request_id}});
    row.state = "pending";
    row.next_attempt_at = now;
    // Discord's nonce is at most 25 characters; 24 hex digits are unique enough.
    row.nonce = random_.NewId("").substr(0, 24);
    row.created_at = now;
    row.updated_at = now;
    return tx.InsertOutbox(row).status();
  }

 private:
  RandomSource& random_;
  bool outbox_enabled_;
};

}  // namespace internal

using internal::TxContext;

namespace {

// ---- Transitions: each writes its rows, audit entry, event and outbox row -------------

Status TimeOutRequest(TxContext& c, store::RequestRow& r) {
  assert(r.state == "pending");
  r.state = ASSENT_FAULT("timed-out-reported-denied") ? "denied" : "timed_out";
  // Every final state has decided_at (access.json); a timeout happened at the deadline,
  // even when the sweep that records it runs later.
  r.decided_at = std::min(c.now, r.expires_at);
  ++r.revision;
  ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(r));
  ASSENT_RETURN_IF_ERROR(c.Audit(SystemActor(), "request.timeout", {{"request_id", r.id}}));
  ASSENT_RETURN_IF_ERROR(c.Event("request.timed_out", r.originator,
                                 {{"request_id", r.id},
                                  {"originator_client_id", r.originator},
                                  {"state", "timed_out"}}));
  return c.Outbox("request.updated", r.id);
}

Status CancelRequestRow(TxContext& c, store::RequestRow& r, const json& actor,
                        const char* cancelled_by) {
  assert(r.state == "pending");
  r.state = "cancelled";
  r.decided_at = c.now;
  ++r.revision;
  ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(r));
  ASSENT_RETURN_IF_ERROR(c.Audit(actor, "request.cancel", {{"request_id", r.id}}));
  ASSENT_RETURN_IF_ERROR(c.Event("request.cancelled", r.originator,
                                 {{"request_id", r.id},
                                  {"originator_client_id", r.originator},
                                  {"state", "cancelled"},
                                  {"cancelled_by", cancelled_by}}));
  return c.Outbox("request.updated", r.id);
}

Status ExpireGrant(TxContext& c, store::GrantRow& g) {
  assert(g.state == "live");
  g.state = "expired";
  g.ended_at = c.now;
  ASSENT_RETURN_IF_ERROR(c.tx.UpdateGrant(g));
  ASSENT_RETURN_IF_ERROR(c.Audit(SystemActor(), "grant.expire",
                                 {{"grant_id", g.id}, {"request_id", g.request_id}}));
  return c.Event("grant.expired", g.originator,
                 {{"grant_id", g.id},
                  {"request_id", g.request_id},
                  {"originator_client_id", g.originator},
                  {"state", "expired"}});
}

Status RevokeGrantRow(TxContext& c, store::GrantRow& g, const json& actor) {
  assert(g.state == "live");
  g.state = "revoked";
  g.ended_at = c.now;
  ASSENT_RETURN_IF_ERROR(c.tx.UpdateGrant(g));
  ASSENT_RETURN_IF_ERROR(
      c.Audit(actor, "grant.revoke", {{"grant_id", g.id}, {"request_id", g.request_id}}));
  return c.Event("grant.revoked", g.originator,
                 {{"grant_id", g.id},
                  {"request_id", g.request_id},
                  {"originator_client_id", g.originator},
                  {"state", "revoked"}});
}

// Moves a pending request to approved and issues its one grant (ASSENT-REQ-020,
// ASSENT-GRANT-001). `actor` is whoever cast the deciding vote (the system for
// approval "never").
Result<store::GrantRow> ApproveRequest(TxContext& c, RandomSource& random,
                                       store::RequestRow& r, int64_t grant_ttl_s,
                                       const json& actor) {
  assert(r.state == "pending");
  std::vector<std::string> names = NamesFromJson(r.secrets_json);
  store::GrantRow g;
  g.id = random.NewId("gr_");
  g.request_id = r.id;
  g.originator = r.originator;
  g.secrets_json = r.secrets_json;
  json uses = json::object();
  for (const auto& n : names) uses[n] = r.uses_per_secret;
  g.uses_json = Dump(uses);
  g.uses_total = r.uses_per_secret * static_cast<int64_t>(names.size());
  g.uses_left = g.uses_total;
  g.state = "live";
  g.created_at = c.now;
  g.expires_at = c.now + grant_ttl_s * 1000;
  g.command_hash = r.command_hash;
  ASSIGN_OR_RETURN(g.seq, c.tx.InsertGrant(g));

  r.state = "approved";
  r.decided_at = c.now;
  r.grant_id = g.id;
  ++r.revision;
  ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(r));
  ASSENT_RETURN_IF_ERROR(c.Audit(actor, "request.approve",
                                 {{"request_id", r.id}, {"grant_id", g.id},
                                  {"secret_names", names}, {"count", r.approvals}}));
  // The true count: a request approved by policy at creation (every approval "never")
  // had no vote and reports 0, as its AccessRequest does (ASSENT-REQ-027).
  ASSENT_RETURN_IF_ERROR(c.Event("request.approved", r.originator,
                                 {{"request_id", r.id},
                                  {"originator_client_id", r.originator},
                                  {"state", "approved"},
                                  {"grant_id", g.id},
                                  {"approvals", r.approvals},
                                  {"decided_at", FormatTimeMs(c.now)}}));
  ASSENT_RETURN_IF_ERROR(c.Outbox("request.updated", r.id));
  return g;
}

// Brings a request read inside a mutation up to date with `now`: a pending request past
// its deadline is timed out here and now (ASSENT-REQ-023), in the same transaction.
Status MakeCurrent(TxContext& c, store::RequestRow& r) {
  if (r.state == "pending" && r.expires_at <= c.now) return TimeOutRequest(c, r);
  return Status::Ok();
}

Status MakeCurrent(TxContext& c, store::GrantRow& g) {
  if (g.state == "live" && g.expires_at <= c.now) return ExpireGrant(c, g);
  return Status::Ok();
}

std::string ContentHash(const CreateRequestParams& p) {
  std::vector<std::string> names = p.secrets;
  std::sort(names.begin(), names.end());  // secrets compare as a set (ASSENT-REQ-009)
  json content = {{"secrets", names},
                  {"reason", p.reason},
                  {"ttl_s", p.ttl_s ? json(*p.ttl_s) : json(nullptr)},
                  {"mode", p.mode.value_or("interactive")},
                  {"timeout_s", p.timeout_s ? json(*p.timeout_s) : json(nullptr)},
                  {"command", p.command ? CommandToJson(*p.command) : json(nullptr)}};
  return crypto::Blake2b256Hex(Dump(content));
}

}  // namespace

// ---- Construction ------------------------------------------------------------------------

Engine::Engine(store::Store& store, Clock& clock, RandomSource& random, std::string master_key,
               EngineConfig config)
    : store_(store),
      clock_(clock),
      random_(random),
      master_key_(std::move(master_key)),
      config_(config) {}

Engine::~Engine() {
  Shutdown();
  crypto::Wipe(master_key_);
}

Result<std::unique_ptr<Engine>> Engine::Create(store::Store& store, Clock& clock,
                                               RandomSource& random, std::string master_key,
                                               EngineConfig config) {
  if (master_key.size() != crypto::kAeadKeyBytes) {
    crypto::Wipe(master_key);
    return Internal("the master key must be 32 bytes");
  }
  std::unique_ptr<Engine> engine(
      new Engine(store, clock, random, std::move(master_key), config));
  std::optional<TimeMs> next;
  ASSENT_RETURN_IF_ERROR(engine->Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(next, tx.NextDeadline());
    return Status::Ok();
  }));
  engine->next_deadline_.store(next.value_or(kNoDeadline));
  return engine;
}

// ---- Plumbing ---------------------------------------------------------------------------

Status Engine::Mutate(const std::function<Status(TxContext&)>& fn) {
  int64_t last_event = 0;
  std::optional<Status> refusal;
  {
    std::lock_guard<std::mutex> lock(mutate_mu_);
    const TimeMs now = clock_.NowMs();
    bool body_ok = false;
    std::optional<TimeMs> next;
    Status st = store_.WithTransaction([&](store::Tx& tx) -> Status {
      TxContext c(tx, now, random_, config_.outbox_enabled);
      ASSENT_RETURN_IF_ERROR(fn(c));
      ASSIGN_OR_RETURN(next, tx.NextDeadline());
      last_event = c.last_event_id;
      refusal = c.refusal;
      body_ok = true;
      return Status::Ok();
    });
    if (!st.ok()) {
      if (body_ok) {
        // The change was complete but its commit — which is what makes the audit entry
        // durable — failed: nothing changed, and the audit log is what is unavailable.
        log::Error("store.commit_failed", {{"error", st.message()}});
        return AuditUnavailable("audit log unavailable; nothing was changed");
      }
      if (st.code() == ErrorCode::kInternal)
        log::Error("engine.mutation_failed", {{"error", st.message()}});
      return st;
    }
    next_deadline_.store(next.value_or(kNoDeadline));
  }
  NotifyCommitted(last_event);
  return refusal ? *refusal : Status::Ok();
}

Status Engine::Read(const std::function<Status(store::ReadTx&)>& fn) {
  Status st = store_.WithReadTransaction(fn);
  if (st.code() == ErrorCode::kInternal)
    log::Error("engine.read_failed", {{"error", st.message()}});
  return st;
}

void Engine::NotifyCommitted(int64_t last_event_id) {
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    ++change_counter_;
  }
  wait_cv_.notify_all();
  if (last_event_id <= 0) return;
  std::vector<EventListener> listeners;
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const auto& [_, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) l(last_event_id);
}

int64_t Engine::Subscribe(EventListener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  int64_t id = next_subscription_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Engine::Unsubscribe(int64_t subscription) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(subscription);
}

void Engine::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    shutdown_ = true;
  }
  wait_cv_.notify_all();
}

Status Engine::SweepIfDue() {
  if (clock_.NowMs() < next_deadline_.load()) return Status::Ok();
  return Sweep().status();
}

Result<SweepResult> Engine::Sweep() {
  SweepResult total;
  for (;;) {
    SweepResult batch;
    Status st = Mutate([&](TxContext& c) -> Status {
      batch = SweepResult{};
      ASSIGN_OR_RETURN(auto requests, c.tx.ListDueRequests(c.now, config_.sweep_batch_max));
      for (auto& r : requests) ASSENT_RETURN_IF_ERROR(TimeOutRequest(c, r));
      ASSIGN_OR_RETURN(auto grants, c.tx.ListDueGrants(c.now, config_.sweep_batch_max));
      for (auto& g : grants) ASSENT_RETURN_IF_ERROR(ExpireGrant(c, g));
      batch.timed_out_requests = static_cast<int64_t>(requests.size());
      batch.expired_grants = static_cast<int64_t>(grants.size());
      return Status::Ok();
    });
    if (!st.ok()) return st;
    total.timed_out_requests += batch.timed_out_requests;
    total.expired_grants += batch.expired_grants;
    if (batch.timed_out_requests < config_.sweep_batch_max &&
        batch.expired_grants < config_.sweep_batch_max)
      break;
  }
  return total;
}

std::optional<TimeMs> Engine::NextDeadline() const {
  TimeMs t = next_deadline_.load();
  if (t == kNoDeadline) return std::nullopt;
  return t;
}

Result<RequestView> Engine::ToView(store::ReadTx& tx, const store::RequestRow& r) {
  ASSIGN_OR_RETURN(auto client, tx.GetClient(r.originator));
  if (!client) return Internal("request without its originator");
  RequestView v;
  v.request_id = r.id;
  v.state = r.state;
  v.originator = Originator{client->id, client->kind, client->name};
  v.secrets = NamesFromJson(r.secrets_json);
  v.reason = r.reason;
  v.ttl_s = r.ttl_s;
  v.mode = r.mode;
  v.command = CommandFromText(r.command_json);
  v.client_request_id = r.client_request_id;
  v.created_at = r.created_at;
  v.expires_at = r.expires_at;
  v.decided_at = r.decided_at;
  v.approvals = r.approvals;
  v.approvals_required = r.approvals_required;
  v.decision_note = r.decision_note;
  v.grant_id = r.grant_id;
  if (r.approver_delivery_failed_at)
    v.approver_delivery_failed = ApproverDeliveryFailure{
        *r.approver_delivery_failed_at, r.approver_delivery_attempts.value_or(1)};
  v.revision = r.revision;
  return v;
}

json Engine::ActorJson(const Caller& caller) {
  json a = json::object();
  if (caller.discord_user_id) {
    a["role"] = "discord";
    a["discord_user_id"] = *caller.discord_user_id;
    return a;
  }
  a["role"] = RoleName(caller.role);
  if (caller.client_id) a["client_id"] = *caller.client_id;
  if (!caller.token_name.empty()) a["token_name"] = caller.token_name;
  return a;
}

// ---- Client identity ------------------------------------------------------------------

Result<HelloResult> Engine::Hello(const Caller& caller, const HelloParams& p) {
  HelloResult out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out = HelloResult{};
    const json actor = ActorJson(caller);
    if (p.client_id && p.client_key) {
      ASSIGN_OR_RETURN(auto row, c.tx.GetClient(*p.client_id));
      if (row && (KeyProves(row->key_hash, *p.client_key) || ASSENT_FAULT("hello-resumes-with-wrong-key"))) {
        // ASSENT-ID-006: a resumed identity takes the name and kind it was given.
        row->kind = p.kind;
        row->name = p.name;
        ASSENT_RETURN_IF_ERROR(c.tx.UpdateClient(*row));
        ASSENT_RETURN_IF_ERROR(c.Audit(actor, "client.resume", {{"client_id", row->id}}));
        out.client_id = row->id;
        out.resumed = true;
        if (ASSENT_FAULT("hello-key-returned-on-resume")) out.client_key = *p.client_key;
        return Status::Ok();
      }
      // A wrong key, or an id we never minted: never resumed, always recorded.
      ASSENT_RETURN_IF_ERROR(
          c.Audit(actor, "client.key_mismatch", {{"client_id", *p.client_id}}, "refused"));
    }
    std::string key(32, '\0');
    random_.Fill(reinterpret_cast<uint8_t*>(key.data()), key.size());
    WipeOnExit wipe_key(key);
    store::ClientRow row{random_.NewId("cl_"), p.kind, p.name, crypto::Blake2b256(key), c.now};
    ASSENT_RETURN_IF_ERROR(c.tx.InsertClient(row));
    ASSENT_RETURN_IF_ERROR(c.Audit(actor, "client.hello", {{"client_id", row.id}}));
    out.client_id = row.id;
    out.client_key = crypto::Base64UrlEncode(key);
    out.resumed = false;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

bool Engine::VerifyClient(const std::string& client_id, const std::string& client_key) {
  std::optional<store::ClientRow> row;
  Status st = Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(row, tx.GetClient(client_id));
    return Status::Ok();
  });
  if (!st.ok()) return false;
  // An unknown id is checked against a hash no key has, so it costs the same.
  static const std::string kNoKeyHash(32, '\0');
  bool proves = KeyProves(row ? row->key_hash : kNoKeyHash, client_key);
  return row.has_value() && proves;
}

// ---- Secrets --------------------------------------------------------------------------

Result<PutSecretResult> Engine::PutSecret(const Caller& caller, PutSecretParams p) {
  WipeOnExit wipe_value(p.value);
  if (static_cast<int64_t>(p.value.size()) > limits::kSecretValueBytesMax) {
    const std::string member = p.encoding == "base64" ? "value_base64" : "value";
    return InvalidParams("the secret value is longer than secret_value_bytes_max",
                         {{"instance_path", "/" + member},
                          {"schema_path", "#/properties/" + member + "/maxLength"},
                          {"message", "the value exceeds 65536 bytes"}});
  }
  std::optional<Policy> given_policy;
  if (p.policy) {
    ASSIGN_OR_RETURN(given_policy, CompletePolicy(*p.policy));
  }
  PutSecretResult out;
  Status st = Mutate([&](TxContext& c) -> Status {
    ASSIGN_OR_RETURN(auto existing, c.tx.GetSecretByName(p.name));
    store::SecretRow row;
    Policy policy;
    if (existing) {
      ASSIGN_OR_RETURN(SecretMeta old, ToMeta(*existing));
      row = *existing;
      row.version = existing->version + (ASSENT_FAULT("secret-replace-keeps-version") ? 0 : 1);
      policy = given_policy.value_or(old.policy);  // ASSENT-SEC-002
    } else {
      row.id = random_.NewId("sc_");
      row.name = p.name;
      row.version = 1;
      row.created_at = c.now;
      policy = given_policy.value_or(Policy{});
    }
    if (p.description) row.description = *p.description;
    row.encoding = p.encoding;
    row.size_bytes = static_cast<int64_t>(p.value.size());
    row.updated_at = c.now;
    row.policy_json = Dump(PolicyToJson(policy));
    row.ciphertext = crypto::AeadEncrypt(master_key_, p.value, SecretAd(row.id, row.name));
    if (row.ciphertext.empty()) return Internal("encryption failed");
    ASSENT_RETURN_IF_ERROR(c.tx.PutSecret(row));
    ASSENT_RETURN_IF_ERROR(c.Audit(ActorJson(caller), "secret.put",
                                   {{"secret_id", row.id}, {"secret_name", row.name}}));
    ASSIGN_OR_RETURN(out.secret, ToMeta(row));
    out.created = !existing.has_value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<SecretMeta>> Engine::ListSecrets(const Caller&) {
  std::vector<SecretMeta> out;
  Status st = Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows, tx.ListSecrets(kScanAll));
    for (const auto& r : rows) {
      ASSIGN_OR_RETURN(SecretMeta m, ToMeta(r));
      out.push_back(std::move(m));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<SecretMeta> Engine::DescribeSecret(const Caller&, const std::string& name) {
  std::optional<SecretMeta> out;
  Status st = Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(auto row, tx.GetSecretByName(name));
    if (!row) return NotFoundErr("secret", name);
    ASSIGN_OR_RETURN(out, ToMeta(*row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<DeleteSecretResult> Engine::DeleteSecret(const Caller& caller, const std::string& name) {
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  DeleteSecretResult out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out = DeleteSecretResult{};
    const json actor = ActorJson(caller);
    ASSIGN_OR_RETURN(auto secret, c.tx.GetSecretByName(name));
    if (!secret) return NotFoundErr("secret", name);
    auto names_it = [&](const std::string& names_json) {
      auto names = NamesFromJson(names_json);
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    // ASSENT-SEC-006: live grants naming it are revoked, pending requests cancelled.
    store::GrantFilter live;
    live.state = "live";
    live.limit = kScanAll;
    ASSIGN_OR_RETURN(auto grants, c.tx.ListGrants(live));
    for (auto& g : grants) {
      if (!names_it(g.secrets_json) || ASSENT_FAULT("secret-delete-leaves-grants")) continue;
      ASSENT_RETURN_IF_ERROR(MakeCurrent(c, g));
      if (g.state != "live") continue;
      ASSENT_RETURN_IF_ERROR(RevokeGrantRow(c, g, actor));
      ++out.revoked_grants;
    }
    store::RequestFilter pending;
    pending.state = "pending";
    pending.limit = kScanAll;
    ASSIGN_OR_RETURN(auto requests, c.tx.ListRequests(pending));
    for (auto& r : requests) {
      if (!names_it(r.secrets_json)) continue;
      ASSENT_RETURN_IF_ERROR(MakeCurrent(c, r));
      if (r.state != "pending") continue;
      ASSENT_RETURN_IF_ERROR(CancelRequestRow(c, r, actor, "admin"));
      ++out.cancelled_requests;
    }
    ASSENT_RETURN_IF_ERROR(c.tx.DeleteSecret(secret->id));
    return c.Audit(actor, "secret.delete",
                   {{"secret_id", secret->id},
                    {"secret_name", secret->name},
                    {"count", out.revoked_grants}});
  });
  if (!st.ok()) return st;
  return out;
}

// ---- Access requests --------------------------------------------------------------------

Result<RequestView> Engine::CreateRequest(const Caller& caller, const CreateRequestParams& p) {
  if (!caller.client_id) return IdentityRequired();
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  const std::string& originator = *caller.client_id;
  std::optional<RequestView> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out.reset();
    ASSIGN_OR_RETURN(auto client, c.tx.GetClient(originator));
    if (!client) return IdentityRequired();
    const std::string content_hash = ContentHash(p);

    // Idempotency comes first: a repeat neither creates nor counts (ASSENT-REQ-009/010).
    if (p.client_request_id && !ASSENT_FAULT("idempotency-new-request")) {
      ASSIGN_OR_RETURN(auto existing,
                       c.tx.FindRequestByClientRequestId(originator, *p.client_request_id));
      if (existing) {
        if (existing->content_hash != content_hash) {
          return Status::Error(ErrorCode::kConflict,
                               "client_request_id reused with different content",
                               {{"client_request_id", *p.client_request_id},
                                {"request_id", existing->id}});
        }
        ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *existing));
        ASSIGN_OR_RETURN(out, ToView(c.tx, *existing));
        return Status::Ok();
      }
    }

    // Existence (-32002), then params that depend on the secrets (-32602), then policy
    // (-32001), then limits (-32006): ASSENT-RPC-027.
    std::vector<Policy> policies;
    for (size_t i = 0; i < p.secrets.size(); ++i) {
      // The schema says uniqueItems; a grant's per-secret uses rely on it.
      if (std::find(p.secrets.begin(), p.secrets.begin() + i, p.secrets[i]) !=
          p.secrets.begin() + i) {
        return InvalidParams("secrets must be distinct",
                             {{"instance_path", "/secrets/" + std::to_string(i)},
                              {"schema_path", "#/properties/secrets/uniqueItems"},
                              {"message", "a secret is named twice"}});
      }
    }
    for (const auto& name : p.secrets) {
      ASSIGN_OR_RETURN(auto secret, c.tx.GetSecretByName(name));
      if (!secret) return NotFoundErr("secret", name);
      ASSIGN_OR_RETURN(SecretMeta meta, ToMeta(*secret));
      policies.push_back(meta.policy);
    }
    if (policies.empty()) {
      return InvalidParams("secrets must name at least one secret",
                           {{"instance_path", "/secrets"},
                            {"schema_path", "#/properties/secrets/minItems"},
                            {"message", "at least one secret is required"}});
    }
    const Policy effective = EffectivePolicy(policies);
    if (effective.bind_command && !p.command) {
      return InvalidParams("a secret's policy binds grants to a command; command is required",
                           {{"instance_path", "/command"},
                            {"schema_path", "#/properties/command"},
                            {"message", "command is required by the secrets' policy"}});
    }
    if (effective.approval == Approval::kForbidden)
      return ForbiddenReason("policy_forbidden", "forbidden by the secret's policy");
    if (std::find(effective.client_kinds.begin(), effective.client_kinds.end(),
                  client->kind) == effective.client_kinds.end())
      return ForbiddenReason("client_kind_not_allowed",
                             "the secrets' policy does not admit this kind of client");

    const int64_t ttl_s = p.ttl_s.value_or(effective.ttl_s_default);
    if (ttl_s > effective.ttl_s_max) return Limit("policy.ttl_s_max", effective.ttl_s_max);
    const std::string mode = p.mode.value_or("interactive");
    const bool interactive = mode == "interactive";
    const int64_t timeout_default =
        interactive ? config_.timeout_interactive_s : config_.timeout_unattended_s;
    const int64_t timeout_s = p.timeout_s.value_or(timeout_default);
    if (timeout_s > timeout_default) {
      return Limit(interactive ? "timeout_interactive_s_default"
                               : "timeout_unattended_s_default",
                   timeout_default);
    }
    // Counted at this transaction's `now`: a request that became due since the sweep
    // above is timed out here rather than counted (and the timeout is committed).
    store::RequestFilter mine;
    mine.originator = originator;
    mine.state = "pending";
    mine.limit = kScanAll;
    ASSIGN_OR_RETURN(auto pending_rows, c.tx.ListRequests(mine));
    int64_t pending = 0;
    for (auto& row : pending_rows) {
      ASSENT_RETURN_IF_ERROR(MakeCurrent(c, row));
      if (row.state == "pending") ++pending;
    }
    if (pending >= config_.pending_requests_per_client_max && !ASSENT_FAULT("pending-limit-ignored"))
      return Limit("pending_requests_per_client_max", config_.pending_requests_per_client_max);

    store::RequestRow r;
    r.id = random_.NewId("rq_");
    r.originator = originator;
    r.client_request_id = ASSENT_FAULT("idempotency-new-request") ? std::nullopt : p.client_request_id;
    r.content_hash = content_hash;
    r.secrets_json = Dump(json(p.secrets));
    r.reason = p.reason;
    r.ttl_s = ttl_s;
    r.mode = mode;
    if (p.command) {
      r.command_json = Dump(CommandToJson(*p.command));
      // Only a binding policy makes the grant command-bound; the command is otherwise
      // shown to the approver as information.
      if (effective.bind_command) r.command_hash = CommandHash(*p.command);
    }
    r.approvals_required = effective.approvals_required;
    r.uses_per_secret = effective.uses_per_grant;
    r.state = "pending";
    r.created_at = c.now;
    r.expires_at = c.now + timeout_s * 1000;
    ASSIGN_OR_RETURN(r.seq, c.tx.InsertRequest(r));
    ASSENT_RETURN_IF_ERROR(c.Audit(ActorJson(caller), "request.create",
                                   {{"request_id", r.id},
                                    {"client_id", originator},
                                    {"secret_names", p.secrets},
                                    {"reason_hash", audit::ReasonHash(p.reason)}}));
    ASSENT_RETURN_IF_ERROR(c.Event("request.created", originator,
                                   {{"request_id", r.id},
                                    {"originator_client_id", originator},
                                    {"state", "pending"},
                                    {"secrets", p.secrets},
                                    {"mode", mode},
                                    {"ttl_s", ttl_s},
                                    {"approvals_required", r.approvals_required},
                                    {"command_bound", r.command_hash.has_value()},
                                    {"expires_at", FormatTimeMs(r.expires_at)}}));
    if (effective.approval == Approval::kNever) {
      ASSENT_RETURN_IF_ERROR(ApproveRequest(c, random_, r, ttl_s, SystemActor()).status());
    } else {
      ASSENT_RETURN_IF_ERROR(c.Outbox("request.created", r.id));
    }
    ASSIGN_OR_RETURN(out, ToView(c.tx, r));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<RequestView> Engine::GetRequest(const Caller& caller, const std::string& request_id) {
  if (caller.is_agent() && !caller.client_id) return IdentityRequired();
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  std::optional<RequestView> out;
  Status st = Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(auto row, tx.GetRequest(request_id));
    if (!row) return NotFoundErr("request", request_id);
    if (caller.is_agent() && row->originator != *caller.client_id) return NotOriginator();
    ASSIGN_OR_RETURN(out, ToView(tx, *row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // A deadline may have passed between the sweep and the read (real clocks move).
  if (out->state == "pending" && out->expires_at <= clock_.NowMs()) {
    ASSENT_RETURN_IF_ERROR(Sweep().status());
    return GetRequest(caller, request_id);
  }
  return *out;
}

Result<WaitResult> Engine::WaitRequest(const Caller& caller, const std::string& request_id,
                                       const std::string& known_state, int64_t timeout_ms) {
  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(std::max<int64_t>(
                                                 0, std::min<int64_t>(
                                                        timeout_ms,
                                                        limits::kLongPollSecondsMax * 1000)));
  std::optional<int64_t> first_revision;
  for (;;) {
    uint64_t seen;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(wait_mu_);
      seen = change_counter_;
      stopping = shutdown_;
    }
    // Read after noting the counter: a change committed from here on bumps it, so the
    // wait below cannot miss it.
    ASSIGN_OR_RETURN(RequestView cur, GetRequest(caller, request_id));
    if (!first_revision) first_revision = cur.revision;
    const bool changed = cur.state != known_state || cur.revision != *first_revision;
    const auto now = SteadyClock::now();
    if (changed || stopping || now >= deadline) return WaitResult{cur, changed};

    auto until = deadline;
    if (cur.state == "pending") {
      // Also wake at the request's own deadline, so a timeout is reported on time even
      // when no sweeper thread runs (standalone mode).
      const int64_t left_ms = std::max<int64_t>(0, cur.expires_at - clock_.NowMs()) + 1;
      until = std::min(until, now + std::chrono::milliseconds(left_ms));
    }
    std::unique_lock<std::mutex> lock(wait_mu_);
    wait_cv_.wait_until(lock, until, [&] { return change_counter_ != seen || shutdown_; });
  }
}

Result<ListRequestsResult> Engine::ListRequests(const Caller& caller,
                                                const ListRequestsParams& p) {
  ListRequestsResult out;
  // ASSENT-AUTH-009: an agent sees its own requests, and none without an identity.
  if (caller.is_agent() && !caller.client_id) return out;
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  const int64_t limit = std::clamp<int64_t>(p.limit, 1, config_.list_page_max);
  Status st = Read([&](store::ReadTx& tx) -> Status {
    store::RequestFilter f;
    if (caller.is_agent() && !ASSENT_FAULT("access-list-agent-sees-all")) f.originator = *caller.client_id;
    f.state = p.state;
    f.limit = limit + 1;
    if (p.after) {
      ASSIGN_OR_RETURN(auto cursor, tx.GetRequest(*p.after));
      // Another client's request is as unknown to an agent as a made-up id.
      if (!cursor || (caller.is_agent() && cursor->originator != *caller.client_id))
        return NotFoundErr("request", *p.after);
      f.after_seq = cursor->seq;
    }
    ASSIGN_OR_RETURN(auto rows, tx.ListRequests(f));
    const bool more = static_cast<int64_t>(rows.size()) > limit;
    if (more) rows.resize(limit);
    for (const auto& r : rows) {
      ASSIGN_OR_RETURN(RequestView v, ToView(tx, r));
      out.requests.push_back(std::move(v));
    }
    if (more) out.next_after = rows.back().id;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<RequestView> Engine::CancelRequest(const Caller& caller, const std::string& request_id) {
  if (!caller.client_id) return IdentityRequired();
  std::optional<RequestView> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    ASSIGN_OR_RETURN(auto r, c.tx.GetRequest(request_id));
    if (!r) return NotFoundErr("request", request_id);
    if (r->originator != *caller.client_id) return NotOriginator();
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *r));
    if (r->state != "pending") {
      c.refusal = InvalidStateErr("request", r->id, r->state);
      return Status::Ok();  // commit a timeout MakeCurrent may have recorded
    }
    ASSENT_RETURN_IF_ERROR(CancelRequestRow(c, *r, ActorJson(caller), "originator"));
    ASSIGN_OR_RETURN(out, ToView(c.tx, *r));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<RequestView> Engine::ExtendRequest(const Caller& caller, const std::string& request_id,
                                          int64_t timeout_s) {
  if (!caller.client_id) return IdentityRequired();
  std::optional<RequestView> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    ASSIGN_OR_RETURN(auto r, c.tx.GetRequest(request_id));
    if (!r) return NotFoundErr("request", request_id);
    if (r->originator != *caller.client_id && !ASSENT_FAULT("extend-by-non-originator")) return NotOriginator();
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *r));
    if (r->state != "pending") {
      c.refusal = InvalidStateErr("request", r->id, r->state);
      return Status::Ok();
    }
    const TimeMs expires_at = r->expires_at + timeout_s * 1000;
    if (expires_at - r->created_at > config_.timeout_s_max * 1000)
      return Limit("timeout_s_max", config_.timeout_s_max);
    r->expires_at = expires_at;
    ++r->revision;
    ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(*r));
    ASSENT_RETURN_IF_ERROR(c.Audit(ActorJson(caller), "request.extend", {{"request_id", r->id}}));
    ASSENT_RETURN_IF_ERROR(c.Event("request.extended", r->originator,
                                   {{"request_id", r->id},
                                    {"originator_client_id", r->originator},
                                    {"state", "pending"},
                                    {"expires_at", FormatTimeMs(expires_at)}}));
    ASSENT_RETURN_IF_ERROR(c.Outbox("request.updated", r->id));
    ASSIGN_OR_RETURN(out, ToView(c.tx, *r));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<DecideResult> Engine::Decide(const Caller& caller, const DecideParams& p) {
  std::optional<DecideResult> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out.reset();
    const json actor = ActorJson(caller);
    ASSIGN_OR_RETURN(auto r, c.tx.GetRequest(p.request_id));
    if (!r) return NotFoundErr("request", p.request_id);
    if (caller.client_id && *caller.client_id == r->originator && !ASSENT_FAULT("self-approval-allowed")) {
      // ASSENT-AUTH-011: recorded, because an attempt at self-approval is evidence.
      ASSENT_RETURN_IF_ERROR(
          c.Audit(actor, "request.vote", {{"request_id", r->id}}, "refused"));
      c.refusal = ForbiddenReason("self_approval", "a client cannot decide its own request");
      return Status::Ok();
    }
    const std::string approver = ApproverIdentity(caller) + (ASSENT_FAULT("quorum-counts-same-approver-twice") || (ASSENT_FAULT("discord-duplicate-counted-twice") && caller.discord_user_id) ? random_.NewId("#") : "");
    ASSIGN_OR_RETURN(auto votes, c.tx.ListVotes(r->id));
    for (const auto& v : votes) {
      if (v.approver == approver)
        return ForbiddenReason("already_voted", "this approver already voted on this request");
    }
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *r));
    if (r->state != "pending") {
      c.refusal = InvalidStateErr("request", r->id, r->state);
      return Status::Ok();
    }
    if (p.approve && p.ttl_s && *p.ttl_s > r->ttl_s) return Limit("request.ttl_s", r->ttl_s);

    store::VoteRow vote{r->id, approver, p.approve ? "approve" : "deny",
                        p.approve ? p.ttl_s : std::nullopt, c.now};
    ASSENT_RETURN_IF_ERROR(c.tx.InsertVote(vote));
    DecideResult result;
    if (!p.approve) {
      // ASSENT-REQ-022: one deny ends it.
      r->state = "denied";
      if (ASSENT_FAULT("deny-leaves-pending")) r->state = "pending";
      r->decided_at = c.now;
      r->decision_note = p.note;
      ++r->revision;
      ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(*r));
      ASSENT_RETURN_IF_ERROR(c.Audit(actor, "request.deny", {{"request_id", r->id}}));
      ASSENT_RETURN_IF_ERROR(c.Event("request.denied", r->originator,
                                     {{"request_id", r->id},
                                      {"originator_client_id", r->originator},
                                      {"state", "denied"},
                                      {"decided_at", FormatTimeMs(c.now)}}));
      ASSENT_RETURN_IF_ERROR(c.Outbox("request.updated", r->id));
    } else {
      ++r->approvals;
      if (r->approvals >= r->approvals_required) {
        // ASSENT-REQ-021: the smallest ttl_s any approver gave, else the asked ttl_s.
        int64_t ttl_s = r->ttl_s;
        if (p.ttl_s) ttl_s = std::min(ttl_s, *p.ttl_s);
        for (const auto& v : votes)
          if (v.decision == "approve" && v.ttl_s) ttl_s = std::min(ttl_s, *v.ttl_s);
        if (p.note) r->decision_note = p.note;
        ASSIGN_OR_RETURN(auto grant, ApproveRequest(c, random_, *r, ttl_s, actor));
        result.grant = ToGrantView(grant);
      } else {
        // A vote short of the quorum: audited, no event (ASSENT-EVT-015).
        ++r->revision;
        ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(*r));
        ASSENT_RETURN_IF_ERROR(c.Audit(actor, "request.vote",
                                       {{"request_id", r->id}, {"count", r->approvals}}));
        // The Discord message shows the tally: update it for votes made over RPC too.
        ASSENT_RETURN_IF_ERROR(c.Outbox("request.updated", r->id));
      }
    }
    ASSIGN_OR_RETURN(result.request, ToView(c.tx, *r));
    out = std::move(result);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<RequestView> Engine::RecordApproverDeliveryFailed(
    const std::string& request_id, int64_t attempts,
    const std::function<Status(store::Tx&)>& also) {
  std::optional<RequestView> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out.reset();
    ASSIGN_OR_RETURN(auto r, c.tx.GetRequest(request_id));
    if (!r) return NotFoundErr("request", request_id);
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *r));
    // Not a transition: the state stays, no event is sent, and no outbox row is written
    // (the channel that just failed is the one that would carry it). The revision moves
    // so that access.wait reports the change (ASSENT-REQ-028).
    r->approver_delivery_failed_at = c.now;
    r->approver_delivery_attempts = std::max<int64_t>(attempts, 1);
    ++r->revision;
    ASSENT_RETURN_IF_ERROR(c.tx.UpdateRequest(*r));
    ASSENT_RETURN_IF_ERROR(c.Audit(SystemActor(), "approver.delivery_failed",
                                   {{"request_id", r->id},
                                    {"count", *r->approver_delivery_attempts}},
                                   "error"));
    if (also) ASSENT_RETURN_IF_ERROR(also(c.tx));
    ASSIGN_OR_RETURN(out, ToView(c.tx, *r));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

// ---- Grants and reveal ------------------------------------------------------------------

Result<std::vector<GrantView>> Engine::ListGrants(const Caller& caller,
                                                  const ListGrantsParams& p) {
  std::vector<GrantView> out;
  if (caller.is_agent() && !caller.client_id) return out;
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  Status st = Read([&](store::ReadTx& tx) -> Status {
    store::GrantFilter f;
    if (caller.is_agent() && !ASSENT_FAULT("grant-list-agent-sees-all")) f.originator = *caller.client_id;
    f.state = p.state;
    f.request_id = p.request_id;
    f.limit = config_.list_page_max;
    ASSIGN_OR_RETURN(auto rows, tx.ListGrants(f));
    for (const auto& g : rows) out.push_back(ToGrantView(g));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<GrantView> Engine::RevokeGrant(const Caller& caller, const std::string& grant_id) {
  if (caller.is_agent() && !caller.client_id) return IdentityRequired();
  std::optional<GrantView> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    ASSIGN_OR_RETURN(auto g, c.tx.GetGrant(grant_id));
    if (!g) return NotFoundErr("grant", grant_id);
    if (caller.is_agent() && g->originator != *caller.client_id) return NotOriginator();
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *g));
    if (g->state != "live") {
      c.refusal = InvalidStateErr("grant", g->id, g->state);
      return Status::Ok();
    }
    ASSENT_RETURN_IF_ERROR(RevokeGrantRow(c, *g, ActorJson(caller)));
    out = ToGrantView(*g);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return *out;
}

Result<RevokeAllResult> Engine::RevokeAll(const Caller& caller) {
  ASSENT_RETURN_IF_ERROR(SweepIfDue());
  RevokeAllResult out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out = RevokeAllResult{};
    const json actor = ActorJson(caller);
    store::GrantFilter live;
    live.state = "live";
    live.limit = kScanAll;
    ASSIGN_OR_RETURN(auto grants, c.tx.ListGrants(live));
    for (auto& g : grants) {
      ASSENT_RETURN_IF_ERROR(MakeCurrent(c, g));
      if (g.state != "live") continue;
      if (ASSENT_FAULT("revoke-all-leaves-grants")) { ++out.revoked_grants; continue; }
      ASSENT_RETURN_IF_ERROR(RevokeGrantRow(c, g, actor));
      ++out.revoked_grants;
    }
    store::RequestFilter pending;
    pending.state = "pending";
    pending.limit = kScanAll;
    ASSIGN_OR_RETURN(auto requests, c.tx.ListRequests(pending));
    for (auto& r : requests) {
      ASSENT_RETURN_IF_ERROR(MakeCurrent(c, r));
      if (r.state != "pending") continue;
      ASSENT_RETURN_IF_ERROR(CancelRequestRow(c, r, actor, "admin"));
      ++out.cancelled_requests;
    }
    return c.Audit(actor, "grant.revoke_all",
                   {{"count", out.revoked_grants + out.cancelled_requests}});
  });
  if (!st.ok()) return st;
  return out;
}

Result<RevealResult> Engine::Reveal(const Caller& caller, const RevealParams& p) {
  if (!caller.client_id) return IdentityRequired();
  if (p.recipient_key.size() != crypto::kBoxPublicKeyBytes) {
    return InvalidParams("recipient_key must be a 32-byte X25519 public key",
                         {{"instance_path", "/recipient_key"},
                          {"schema_path", "#/properties/recipient_key"},
                          {"message", "must decode to 32 bytes"}});
  }
  std::optional<RevealResult> out;
  Status st = Mutate([&](TxContext& c) -> Status {
    out.reset();
    const json actor = ActorJson(caller);
    ASSIGN_OR_RETURN(auto g, c.tx.GetGrant(p.grant_id));
    if (!g) return NotFoundErr("grant", p.grant_id);
    json subject = {{"grant_id", g->id}, {"request_id", g->request_id},
                    {"secret_name", p.name}};
    // Refusals past this point are audited: they are attempts on a real grant.
    auto refuse = [&](Status why) -> Status {
      ASSENT_RETURN_IF_ERROR(c.Audit(actor, "grant.reveal", subject, "refused"));
      c.refusal = std::move(why);
      return Status::Ok();
    };
    if (g->originator != *caller.client_id && !ASSENT_FAULT("reveal-by-non-originator")) return refuse(NotOriginator());
    const auto names = NamesFromJson(g->secrets_json);
    if (std::find(names.begin(), names.end(), p.name) == names.end())
      return refuse(ForbiddenReason("not_in_grant", "the grant does not name this secret"));
    if (g->command_hash && !ASSENT_FAULT("reveal-ignores-command") &&
        (!p.command || !crypto::ConstantTimeEqual(CommandHash(*p.command), *g->command_hash)))
      return refuse(ForbiddenReason("command_mismatch", "command differs from the bound command"));
    ASSENT_RETURN_IF_ERROR(MakeCurrent(c, *g));  // expiry at use, sweeper or not
    if (g->state != "live" && !(ASSENT_FAULT("reveal-after-expiry") && g->state == "expired")) return refuse(ExpiredErr(g->id, g->state));
    json uses = json::parse(g->uses_json, nullptr, false);
    if (!uses.is_object() || !uses.contains(p.name) || !uses[p.name].is_number_integer())
      return Internal("grant uses are malformed");
    const int64_t left_for_name = uses[p.name].get<int64_t>();
    // ASSENT-REVEAL-007: this name's uses are spent even though others may remain.
    if (left_for_name <= 0) return refuse(ExpiredErr(g->id, "exhausted"));

    ASSIGN_OR_RETURN(auto secret, c.tx.GetSecretByName(p.name));
    if (!secret) return NotFoundErr("secret", p.name);  // deleting revokes; belt and braces
    subject["secret_id"] = secret->id;
    auto value = crypto::AeadDecrypt(master_key_, secret->ciphertext,
                                     SecretAd(secret->id, secret->name));
    if (!value) {
      log::Error("secret.decrypt_failed", {{"secret_id", secret->id}});
      return Internal("a stored secret failed authentication");
    }
    WipeOnExit wipe_value(*value);
    auto sealed = crypto::SealTo(p.recipient_key, *value);
    if (ASSENT_FAULT("reveal-plaintext")) sealed = *value;
    if (!sealed) return Internal("sealing failed");

    uses[p.name] = left_for_name - 1;
    g->uses_json = Dump(uses);
    --g->uses_left;
    if (ASSENT_FAULT("reveal-spends-no-use")) { uses[p.name] = left_for_name; g->uses_json = Dump(uses); ++g->uses_left; }
    if (g->uses_left == 0) {
      g->state = "exhausted";  // ASSENT-GRANT-006
      g->ended_at = c.now;
    }
    ASSENT_RETURN_IF_ERROR(c.tx.UpdateGrant(*g));
    if (!ASSENT_FAULT("audit-reveal-not-recorded")) ASSENT_RETURN_IF_ERROR(c.Audit(actor, "grant.reveal", subject));
    ASSENT_RETURN_IF_ERROR(c.Event("grant.used", g->originator,
                                   {{"grant_id", g->id},
                                    {"request_id", g->request_id},
                                    {"originator_client_id", g->originator},
                                    {"secret_name", p.name},
                                    {"uses_left", g->uses_left},
                                    {"state", g->state}}));
    out = RevealResult{p.name, secret->encoding, std::move(*sealed), g->uses_left};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

// ---- Audit ------------------------------------------------------------------------------

Result<Engine::AuditPage> Engine::ListAudit(int64_t after_seq, int64_t limit) {
  AuditPage out;
  limit = std::clamp<int64_t>(limit, 1, limits::kAuditPageMax);
  Status st = Read([&](store::ReadTx& tx) -> Status {
    ASSIGN_OR_RETURN(out.entries, tx.ListAudit(std::max<int64_t>(0, after_seq), limit + 1));
    if (static_cast<int64_t>(out.entries.size()) > limit) {
      out.entries.resize(limit);
      out.next_after_seq = out.entries.back().seq;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<audit::VerifyReport> Engine::VerifyAudit() { return audit::Verify(store_); }

Status Engine::RecordAudit(const json& actor, const std::string& action, const json& subject,
                           const std::string& outcome) {
  return Mutate([&](TxContext& c) { return c.Audit(actor, action, subject, outcome); });
}

}  // namespace assent::core
