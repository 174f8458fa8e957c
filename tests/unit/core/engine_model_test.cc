// A RapidCheck stateful test (rc::state) of requests and grants against a plain model.
//
// The model is a few vectors and the rules of spec/PROTOCOL.md §9–11 written out
// directly: effective policy, idempotency, quorum, self-approval, deny, cancel, extend,
// timeouts, grant expiry, per-secret uses, command binding, revoke, revoke_all — and a
// restart that reopens the store on the same file. Every command predicts its exact
// outcome (result, or error code with its data), and after every command every request's
// and grant's state is compared with the engine's.
//
// Time is a FakeClock that only the Advance command moves; deadlines are therefore
// exact, and the engine must report a timeout or an expiry the moment it is due even
// though no sweeper runs here.
//
// CoreModel.EveryStateAndErrorIsReachable runs the property and then checks that the
// runs, together, reached every request and grant state and every error the engine can
// produce — so a model that silently stops exercising something fails.
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/engine_fixture.h"

namespace assent::core::testing {
namespace {

using json = nlohmann::json;

constexpr TimeMs kT0 = 1'780'000'000'000;

// ---- The fixed world ---------------------------------------------------------------

struct SecretSpec {
  std::string name;
  Approval approval;
  int64_t ttl_default, ttl_max, uses, quorum;
  bool bind;
  std::vector<std::string> kinds;
};

const std::vector<SecretSpec>& Secrets() {
  static const std::vector<SecretSpec> kSecrets = {
      {"A", Approval::kAlways, 60, 120, 1, 1, false, {"agent", "script", "cli"}},
      {"B", Approval::kAlways, 100, 300, 2, 2, false, {"agent", "script", "cli"}},
      {"N", Approval::kNever, 30, 60, 1, 1, false, {"agent", "script", "cli"}},
      {"F", Approval::kForbidden, 300, 3600, 1, 1, false, {"agent", "script", "cli"}},
      // Bound to a command, granted at once: bound grants are common in the runs.
      {"K", Approval::kNever, 300, 3600, 1, 1, true, {"agent", "script", "cli"}},
      // Only agents may ask (client 1 is a script).
      {"S", Approval::kAlways, 300, 3600, 1, 1, false, {"agent"}},
  };
  return kSecrets;
}

const SecretSpec* FindSecret(const std::string& name) {
  for (const auto& s : Secrets())
    if (s.name == name) return &s;
  return nullptr;
}

std::string ValueOf(const std::string& name) { return "value-of-" + name; }

EngineConfig ModelConfig() {
  EngineConfig c;
  // Small bounds so that every limit is reachable in short command sequences.
  c.timeout_interactive_s = 120;
  c.timeout_unattended_s = 60;
  c.timeout_s_max = 200;
  c.pending_requests_per_client_max = 1;
  return c;
}

// Client 0 is an agent, client 1 a script; caller 2 is an agent without identity.
constexpr int kNoIdentity = 2;
const char* const kClientKinds[] = {"agent", "script"};
// Approvers by token; "mallory" holds client 0's identity (self-approval).
const std::vector<std::string> kApprovers = {"alice", "bob", "carol", "mallory"};
const Command kCommand{{"deploy", "--prod"}, "/srv"};
const Command kWrongCommand{{"deploy", "--prod", "--force"}, "/srv"};

// ---- The model ---------------------------------------------------------------------

struct MReq {
  int client = 0;
  std::vector<std::string> secrets;
  std::string reason;
  std::optional<int64_t> ttl_asked;
  std::string mode;
  std::optional<int64_t> timeout_asked;
  bool command = false;
  std::optional<std::string> crid;

  std::string state = "pending";
  TimeMs created_at = 0, expires_at = 0;
  int64_t ttl_s = 0, quorum = 1, uses = 1;
  bool bound = false;
  std::set<std::string> voters;
  int64_t approvals = 0;
  std::vector<int64_t> vote_ttls;
  std::optional<size_t> grant;
};

struct MGrant {
  int client = 0;
  std::vector<std::string> secrets;
  std::map<std::string, int64_t> uses;
  std::string state = "live";
  TimeMs expires_at = 0;
  bool bound = false;
  int64_t UsesLeft() const {
    int64_t n = 0;
    for (const auto& [_, u] : uses) n += u;
    return n;
  }
};

struct Model {
  TimeMs now = kT0;
  std::vector<MReq> requests;
  std::vector<MGrant> grants;
};

std::string Cur(const Model& m, const MReq& r) {
  return r.state == "pending" && r.expires_at <= m.now ? "timed_out" : r.state;
}
std::string Cur(const Model& m, const MGrant& g) {
  return g.state == "live" && g.expires_at <= m.now ? "expired" : g.state;
}

// Makes every due transition explicit (the engine reports them from the moment they
// are due; the model just writes them down before changing anything).
void Normalize(Model& m) {
  for (auto& r : m.requests) r.state = Cur(m, r);
  for (auto& g : m.grants) g.state = Cur(m, g);
}

void IssueGrant(Model& m, MReq& r, int64_t ttl_s) {
  MGrant g;
  g.client = r.client;
  g.secrets = r.secrets;
  for (const auto& s : r.secrets) g.uses[s] = r.uses;
  g.expires_at = m.now + ttl_s * 1000;
  g.bound = r.bound;
  r.state = "approved";
  r.grant = m.grants.size();
  m.grants.push_back(g);
}

// ---- The system under test ---------------------------------------------------------

std::set<std::string>& SeenTags() {
  static std::set<std::string> seen;
  return seen;
}

struct Sut {
  assent::testing::TempDir dir;
  FakeClock clock{kT0};
  SeededRandom random{42};
  crypto::BoxKeyPair keys = crypto::NewBoxKeyPair();
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<Engine> engine;
  std::vector<std::string> clients;
  std::vector<std::string> request_ids;
  std::vector<std::string> grant_ids;

  Sut() {
    Open();
    for (const char* kind : kClientKinds) {
      auto r = engine->Hello(AgentCaller(std::nullopt), HelloParams{kind, "c", {}, {}});
      RC_ASSERT(r.ok());
      clients.push_back(r->client_id);
    }
    for (const auto& s : Secrets()) {
      PutSecretParams p;
      p.name = s.name;
      p.value = ValueOf(s.name);
      PolicyInput in;
      in.approval = s.approval;
      in.ttl_s_default = s.ttl_default;
      in.ttl_s_max = s.ttl_max;
      in.uses_per_grant = s.uses;
      in.approvals_required = s.quorum;
      in.bind_command = s.bind;
      in.client_kinds = s.kinds;
      p.policy = in;
      RC_ASSERT(engine->PutSecret(AdminCaller(), p).ok());
    }
  }

  void Open() {
    engine.reset();
    store.reset();
    auto s = store::SqliteStore::Open(dir.File("model.db"));
    RC_ASSERT(s.ok());
    store = std::move(s).value();
    auto e = Engine::Create(*store, clock, random, MasterKey(), ModelConfig());
    RC_ASSERT(e.ok());
    engine = std::move(e).value();
  }

  Caller Agent(int client) const {
    return AgentCaller(client == kNoIdentity ? std::nullopt
                                             : std::optional<std::string>(clients[client]));
  }
  Caller Approver(int a) const {
    return ApproverCaller(kApprovers[a], a == 3 ? std::optional<std::string>(clients[0])
                                                : std::nullopt);
  }
};

// An expected error: its code and its data (ids filled in by the SUT side).
struct Err {
  ErrorCode code;
  json data;
};

Err Forbid(const char* reason) { return {ErrorCode::kForbidden, {{"reason", reason}}}; }
Err LimitErr(const std::string& name, int64_t max) {
  return {ErrorCode::kLimitExceeded, {{"limit", name}, {"max", max}}};
}

void Tag(const std::string& tag) { SeenTags().insert(tag); }

void CheckError(const Status& got, const Err& want) {
  RC_ASSERT(!got.ok());
  RC_ASSERT(static_cast<int>(got.code()) == static_cast<int>(want.code));
  if (want.code == ErrorCode::kInvalidParams) {
    RC_ASSERT(got.data()["instance_path"] == want.data["instance_path"]);
  } else {
    RC_ASSERT(got.data() == want.data);
  }
  std::string tag = "err:" + std::to_string(static_cast<int>(want.code));
  if (want.data.contains("reason")) tag += ":" + want.data["reason"].get<std::string>();
  if (want.data.contains("limit")) tag += ":" + want.data["limit"].get<std::string>();
  Tag(tag);
}

// After every command: every request and grant the model knows has the same state in
// the engine, as seen by an admin.
void CompareAll(const Model& m, Sut& sut) {
  auto reqs = sut.engine->ListRequests(AdminCaller(), ListRequestsParams{.limit = 500});
  RC_ASSERT(reqs.ok());
  RC_ASSERT(reqs->requests.size() == m.requests.size());
  std::map<std::string, const RequestView*> by_id;
  for (const auto& v : reqs->requests) by_id[v.request_id] = &v;
  for (size_t i = 0; i < m.requests.size(); ++i) {
    const MReq& r = m.requests[i];
    const RequestView* v = by_id.at(sut.request_ids.at(i));
    const std::string state = Cur(m, r);
    RC_ASSERT(v->state == state);
    RC_ASSERT(v->approvals == r.approvals);
    RC_ASSERT(v->expires_at == r.expires_at);
    RC_ASSERT(v->ttl_s == r.ttl_s);
    RC_ASSERT(v->grant_id.has_value() == r.grant.has_value());
    if (r.grant) RC_ASSERT(*v->grant_id == sut.grant_ids.at(*r.grant));
    Tag("req:" + state);
    if (r.bound) Tag("req:bound:" + state);
  }
  auto grants = sut.engine->ListGrants(AdminCaller(), {});
  RC_ASSERT(grants.ok());
  RC_ASSERT(grants->size() == m.grants.size());
  std::map<std::string, const GrantView*> gby_id;
  for (const auto& g : *grants) gby_id[g.grant_id] = &g;
  for (size_t i = 0; i < m.grants.size(); ++i) {
    const MGrant& g = m.grants[i];
    const GrantView* v = gby_id.at(sut.grant_ids.at(i));
    const std::string state = Cur(m, g);
    RC_ASSERT(v->state == state);
    RC_ASSERT(v->uses_left == g.UsesLeft());
    RC_ASSERT(v->expires_at == g.expires_at);
    RC_ASSERT(v->command_bound == g.bound);
    Tag("grant:" + state);
    if (g.bound) Tag("grant:bound:" + state);
  }
}

using Cmd = rc::state::Command<Model, Sut>;

// Every command: predict (on a copy of the model) → compare with the engine → compare all.
template <typename Self>
struct ModelCommand : Cmd {
  void apply(Model& m) const override {
    Normalize(m);
    static_cast<const Self*>(this)->Apply(m, nullptr);
  }
  void run(const Model& before, Sut& sut) const override {
    Model after = before;
    Normalize(after);
    static_cast<const Self*>(this)->Apply(after, &sut);
    CompareAll(after, sut);
  }
};

// ---- Commands ----------------------------------------------------------------------

// Mostly the originator, sometimes anybody: both paths matter.
int OriginatorOr(int originator) {
  return *rc::gen::weightedElement<int>({{6, originator}, {1, 0}, {1, 1}, {1, kNoIdentity}});
}

size_t PickIndex(size_t n) { return *rc::gen::inRange<size_t>(0, std::max<size_t>(1, n)); }

// Prefers recent requests and grants: they are the ones still pending or live.
size_t PickRecent(size_t n) {
  if (n > 3 && *rc::gen::arbitrary<bool>()) return n - 1 - *rc::gen::inRange<size_t>(0, 3);
  return PickIndex(n);
}
size_t PickRequest(const Model& m) { return PickRecent(m.requests.size()); }

template <typename T>
using Weighted = std::initializer_list<std::pair<std::size_t, T>>;

struct Request : ModelCommand<Request> {
  int client = *rc::gen::weightedElement<int>({{5, 0}, {4, 1}, {1, kNoIdentity}});
  std::vector<std::string> secrets;
  std::string reason = *rc::gen::element<std::string>("r1", "r2");
  std::optional<int64_t> ttl = *rc::gen::weightedElement<std::optional<int64_t>>(
      Weighted<std::optional<int64_t>>{{6, std::nullopt}, {1, 10}, {1, 60}, {1, 121}, {1, 301}});
  std::optional<std::string> mode = *rc::gen::elementOf(
      std::vector<std::optional<std::string>>{std::nullopt, "interactive", "unattended"});
  std::optional<int64_t> timeout = *rc::gen::weightedElement<std::optional<int64_t>>(
      Weighted<std::optional<int64_t>>{{6, std::nullopt}, {1, 1}, {1, 60}, {1, 61}, {1, 121}});
  bool command = *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
  std::optional<std::string> crid =
      *rc::gen::elementOf(std::vector<std::optional<std::string>>{std::nullopt, "k1", "k2"});

  Request() {
    static const std::vector<std::string> kPick = {"A", "A", "A", "B", "B", "N", "N",
                                                   "K", "K", "S", "F", "X"};
    const int n = *rc::gen::weightedElement<int>({{6, 1}, {3, 2}, {1, 3}});
    for (int i = 0; i < n; ++i) {
      std::string s = *rc::gen::elementOf(kPick);
      if (std::find(secrets.begin(), secrets.end(), s) == secrets.end()) secrets.push_back(s);
    }
  }

  // A repeat of an earlier request's client_request_id: the same content, or (to reach
  // the conflict) one field changed.
  explicit Request(const Model& m) : Request() {
    if (m.requests.empty() || !*rc::gen::weightedElement<bool>({{1, true}, {2, false}})) return;
    const MReq& e = m.requests[*rc::gen::inRange<size_t>(0, m.requests.size())];
    if (!e.crid) return;
    client = e.client;
    secrets = e.secrets;
    std::reverse(secrets.begin(), secrets.end());  // the same set in another order
    reason = e.reason;
    ttl = e.ttl_asked;
    mode = e.mode;
    timeout = e.timeout_asked;
    command = e.command;
    crid = e.crid;
    if (*rc::gen::weightedElement<bool>({{1, true}, {3, false}})) reason += "-changed";
  }

  bool SameContent(const MReq& r) const {
    auto a = r.secrets, b = secrets;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return a == b && r.reason == reason && r.ttl_asked == ttl &&
           r.mode == mode.value_or("interactive") && r.timeout_asked == timeout &&
           r.command == command;
  }

  void Apply(Model& m, Sut* sut) const {
    std::optional<Err> err;
    std::optional<size_t> repeat;
    MReq r;
    bool never = false;
    [&] {
      if (client == kNoIdentity) return void(err = Forbid("client_identity_required"));
      if (crid) {
        for (size_t i = 0; i < m.requests.size(); ++i) {
          const MReq& e = m.requests[i];
          if (e.client != client || e.crid != crid) continue;
          if (SameContent(e)) return void(repeat = i);
          err = Err{ErrorCode::kConflict,
                    {{"client_request_id", *crid},
                     {"request_id", sut ? sut->request_ids[i] : ""}}};
          return;
        }
      }
      std::vector<const SecretSpec*> specs;
      for (const auto& s : secrets) {
        const SecretSpec* spec = FindSecret(s);
        if (!spec) return void(err = Err{ErrorCode::kNotFound, {{"kind", "secret"}, {"id", s}}});
        specs.push_back(spec);
      }
      bool bind = false, forbidden = false, always = false, kind_ok = true;
      int64_t ttl_default = INT64_MAX, ttl_max = INT64_MAX, uses = INT64_MAX, quorum = 0;
      for (const auto* s : specs) {
        bind = bind || s->bind;
        forbidden = forbidden || s->approval == Approval::kForbidden;
        always = always || s->approval == Approval::kAlways;
        ttl_default = std::min(ttl_default, s->ttl_default);
        ttl_max = std::min(ttl_max, s->ttl_max);
        uses = std::min(uses, s->uses);
        quorum = std::max(quorum, s->quorum);
        if (std::find(s->kinds.begin(), s->kinds.end(), kClientKinds[client]) == s->kinds.end())
          kind_ok = false;
      }
      if (bind && !command)
        return void(err = Err{ErrorCode::kInvalidParams, {{"instance_path", "/command"}}});
      if (forbidden) return void(err = Forbid("policy_forbidden"));
      if (!kind_ok) return void(err = Forbid("client_kind_not_allowed"));
      const int64_t ttl_s = ttl.value_or(ttl_default);
      if (ttl_s > ttl_max) return void(err = LimitErr("policy.ttl_s_max", ttl_max));
      const std::string md = mode.value_or("interactive");
      const EngineConfig cfg = ModelConfig();
      const int64_t timeout_default =
          md == "interactive" ? cfg.timeout_interactive_s : cfg.timeout_unattended_s;
      if (timeout.value_or(timeout_default) > timeout_default) {
        return void(err = LimitErr(md == "interactive" ? "timeout_interactive_s_default"
                                                      : "timeout_unattended_s_default",
                                   timeout_default));
      }
      int64_t pending = 0;
      for (const auto& e : m.requests)
        if (e.client == client && Cur(m, e) == "pending") ++pending;
      if (pending >= cfg.pending_requests_per_client_max)
        return void(err = LimitErr("pending_requests_per_client_max",
                                   cfg.pending_requests_per_client_max));
      r.client = client;
      r.secrets = secrets;
      r.reason = reason;
      r.ttl_asked = ttl;
      r.mode = md;
      r.timeout_asked = timeout;
      r.command = command;
      r.crid = crid;
      r.created_at = m.now;
      r.expires_at = m.now + timeout.value_or(timeout_default) * 1000;
      r.ttl_s = ttl_s;
      r.quorum = quorum;
      r.uses = uses;
      r.bound = bind;
      never = !always;
    }();

    if (!err && !repeat) {
      m.requests.push_back(r);
      if (never) IssueGrant(m, m.requests.back(), r.ttl_s);
    }
    if (!sut) return;

    CreateRequestParams p;
    p.secrets = secrets;
    p.reason = reason;
    p.ttl_s = ttl;
    p.mode = mode;
    p.timeout_s = timeout;
    if (command) p.command = kCommand;
    p.client_request_id = crid;
    auto got = sut->engine->CreateRequest(sut->Agent(client), p);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    if (repeat) {
      RC_ASSERT(got->request_id == sut->request_ids[*repeat]);
      Tag("request:idempotent_repeat");
      return;
    }
    sut->request_ids.push_back(got->request_id);
    RC_ASSERT(got->state == m.requests.back().state);
    if (never) {
      RC_ASSERT(got->grant_id.has_value());
      sut->grant_ids.push_back(*got->grant_id);
    }
  }

  void show(std::ostream& os) const override {
    os << "Request(client=" << client << ", secrets=";
    for (const auto& s : secrets) os << s << ' ';
    os << "reason=" << reason << " ttl=" << (ttl ? std::to_string(*ttl) : "-")
       << " mode=" << mode.value_or("-") << " timeout=" << (timeout ? std::to_string(*timeout) : "-")
       << " command=" << command << " crid=" << crid.value_or("-") << ")";
  }
};

struct Decide : ModelCommand<Decide> {
  size_t req;
  int approver = *rc::gen::inRange(0, 4);
  bool approve = *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
  std::optional<int64_t> ttl =
      *rc::gen::elementOf(std::vector<std::optional<int64_t>>{std::nullopt, 5, 50, 100, 400});

  explicit Decide(const Model& m) : req(PickRequest(m)) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(req < m.requests.size()); }

  void Apply(Model& m, Sut* sut) const {
    MReq& r = m.requests[req];
    const std::string& who = kApprovers[approver];
    std::optional<Err> err;
    std::optional<size_t> issued;
    if (approver == 3 && r.client == 0) {
      err = Forbid("self_approval");
    } else if (r.voters.count(who)) {
      err = Forbid("already_voted");
    } else if (r.state != "pending") {
      err = Err{ErrorCode::kInvalidState,
                {{"kind", "request"}, {"id", sut ? sut->request_ids[req] : ""}, {"state", r.state}}};
    } else if (approve && ttl && *ttl > r.ttl_s) {
      err = LimitErr("request.ttl_s", r.ttl_s);
    } else {
      r.voters.insert(who);
      if (!approve) {
        r.state = "denied";
      } else {
        ++r.approvals;
        if (ttl) r.vote_ttls.push_back(*ttl);
        if (r.approvals >= r.quorum) {
          int64_t g_ttl = r.ttl_s;
          for (int64_t t : r.vote_ttls) g_ttl = std::min(g_ttl, t);
          IssueGrant(m, r, g_ttl);
          issued = *r.grant;
        }
      }
    }
    if (!sut) return;
    auto got = sut->engine->Decide(sut->Approver(approver),
                                   DecideParams{sut->request_ids[req], approve, ttl, {}});
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->request.state == r.state);
    RC_ASSERT(got->grant.has_value() == issued.has_value());
    if (issued) sut->grant_ids.push_back(got->grant->grant_id);
  }

  void show(std::ostream& os) const override {
    os << "Decide(req=" << req << ", approver=" << kApprovers[approver]
       << ", " << (approve ? "approve" : "deny") << ", ttl=" << (ttl ? std::to_string(*ttl) : "-")
       << ")";
  }
};

Err RequestStateErr(const Sut* sut, size_t i, const std::string& state) {
  return {ErrorCode::kInvalidState,
          {{"kind", "request"}, {"id", sut ? sut->request_ids[i] : ""}, {"state", state}}};
}

struct Cancel : ModelCommand<Cancel> {
  size_t req;
  int client;
  explicit Cancel(const Model& m)
      : req(PickRequest(m)),
        client(req < m.requests.size() ? OriginatorOr(m.requests[req].client) : 0) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(req < m.requests.size()); }

  void Apply(Model& m, Sut* sut) const {
    MReq& r = m.requests[req];
    std::optional<Err> err;
    if (client == kNoIdentity) err = Forbid("client_identity_required");
    else if (r.client != client) err = Forbid("not_originator");
    else if (r.state != "pending") err = RequestStateErr(sut, req, r.state);
    else r.state = "cancelled";
    if (!sut) return;
    auto got = sut->engine->CancelRequest(sut->Agent(client), sut->request_ids[req]);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->state == "cancelled");
  }
  void show(std::ostream& os) const override {
    os << "Cancel(req=" << req << ", client=" << client << ")";
  }
};

struct Extend : ModelCommand<Extend> {
  size_t req;
  int client;
  int64_t seconds = *rc::gen::element<int64_t>(10, 100, 500);
  explicit Extend(const Model& m)
      : req(PickRequest(m)),
        client(req < m.requests.size() ? OriginatorOr(m.requests[req].client) : 0) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(req < m.requests.size()); }

  void Apply(Model& m, Sut* sut) const {
    MReq& r = m.requests[req];
    const int64_t max_s = ModelConfig().timeout_s_max;
    std::optional<Err> err;
    if (client == kNoIdentity) err = Forbid("client_identity_required");
    else if (r.client != client) err = Forbid("not_originator");
    else if (r.state != "pending") err = RequestStateErr(sut, req, r.state);
    else if (r.expires_at + seconds * 1000 - r.created_at > max_s * 1000)
      err = LimitErr("timeout_s_max", max_s);
    else r.expires_at += seconds * 1000;
    if (!sut) return;
    auto got = sut->engine->ExtendRequest(sut->Agent(client), sut->request_ids[req], seconds);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->expires_at == r.expires_at);
  }
  void show(std::ostream& os) const override {
    os << "Extend(req=" << req << ", client=" << client << ", +" << seconds << "s)";
  }
};

struct Advance : ModelCommand<Advance> {
  int64_t ms = *rc::gen::element<int64_t>(1'000, 30'000, 61'000, 130'000);
  void Apply(Model& m, Sut* sut) const {
    m.now += ms;
    Normalize(m);
    if (sut) sut->clock.AdvanceMs(ms);
  }
  void show(std::ostream& os) const override { os << "Advance(" << ms << "ms)"; }
};

struct Reveal : ModelCommand<Reveal> {
  size_t grant;
  int client;
  std::string name;
  int command = *rc::gen::weightedElement<int>({{1, 0}, {2, 1}, {1, 2}});  // none/bound/other
  explicit Reveal(const Model& m) : grant(PickRecent(m.grants.size())) {
    const bool known = grant < m.grants.size();
    client = known ? OriginatorOr(m.grants[grant].client) : 0;
    // Mostly a name the grant covers.
    if (known && *rc::gen::weightedElement<bool>({{4, true}, {1, false}}))
      name = *rc::gen::elementOf(m.grants[grant].secrets);
    else
      name = *rc::gen::element<std::string>("A", "B", "N", "K", "S");
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(grant < m.grants.size()); }

  void Apply(Model& m, Sut* sut) const {
    MGrant& g = m.grants[grant];
    const std::string gid = sut ? sut->grant_ids[grant] : "";
    std::optional<Err> err;
    if (client == kNoIdentity) err = Forbid("client_identity_required");
    else if (g.client != client) err = Forbid("not_originator");
    else if (!g.uses.count(name)) err = Forbid("not_in_grant");
    else if (g.bound && command != 1) err = Forbid("command_mismatch");
    else if (g.state != "live")
      err = Err{ErrorCode::kExpired, {{"grant_id", gid}, {"state", g.state}}};
    else if (g.uses[name] == 0)
      err = Err{ErrorCode::kExpired, {{"grant_id", gid}, {"state", "exhausted"}}};
    else {
      --g.uses[name];
      if (g.UsesLeft() == 0) g.state = "exhausted";
    }
    if (!sut) return;
    RevealParams p;
    p.grant_id = gid;
    p.name = name;
    p.recipient_key = sut->keys.public_key;
    if (command == 1) p.command = kCommand;
    if (command == 2) p.command = kWrongCommand;
    auto got = sut->engine->Reveal(sut->Agent(client), p);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->uses_left == g.UsesLeft());
    auto opened = crypto::SealOpen(sut->keys.public_key, sut->keys.secret_key, got->sealed_value);
    RC_ASSERT(opened.has_value());
    RC_ASSERT(*opened == ValueOf(name));
    Tag("reveal:ok");
  }
  void show(std::ostream& os) const override {
    os << "Reveal(grant=" << grant << ", client=" << client << ", name=" << name
       << ", command=" << command << ")";
  }
};

struct Revoke : ModelCommand<Revoke> {
  size_t grant;
  int who = *rc::gen::inRange(0, 5);  // 0,1 agents; 2 no identity; 3 approver; 4 admin
  explicit Revoke(const Model& m) : grant(PickRecent(m.grants.size())) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(grant < m.grants.size()); }

  void Apply(Model& m, Sut* sut) const {
    MGrant& g = m.grants[grant];
    const std::string gid = sut ? sut->grant_ids[grant] : "";
    std::optional<Err> err;
    if (who == kNoIdentity) err = Forbid("client_identity_required");
    else if (who < 2 && g.client != who) err = Forbid("not_originator");
    else if (g.state != "live")
      err = Err{ErrorCode::kInvalidState, {{"kind", "grant"}, {"id", gid}, {"state", g.state}}};
    else g.state = "revoked";
    if (!sut) return;
    Caller c = who <= 2 ? sut->Agent(who) : who == 3 ? sut->Approver(0) : AdminCaller();
    auto got = sut->engine->RevokeGrant(c, gid);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->state == "revoked");
  }
  void show(std::ostream& os) const override {
    os << "Revoke(grant=" << grant << ", who=" << who << ")";
  }
};

struct RevokeAll : ModelCommand<RevokeAll> {
  void Apply(Model& m, Sut* sut) const {
    int64_t grants = 0, requests = 0;
    for (auto& g : m.grants)
      if (g.state == "live") {
        g.state = "revoked";
        ++grants;
      }
    for (auto& r : m.requests)
      if (r.state == "pending") {
        r.state = "cancelled";
        ++requests;
      }
    if (!sut) return;
    auto got = sut->engine->RevokeAll(AdminCaller());
    RC_ASSERT(got.ok());
    RC_ASSERT(got->revoked_grants == grants);
    RC_ASSERT(got->cancelled_requests == requests);
  }
  void show(std::ostream& os) const override { os << "RevokeAll"; }
};

struct Restart : ModelCommand<Restart> {
  void Apply(Model&, Sut* sut) const {
    if (!sut) return;
    sut->Open();
    auto v = sut->engine->VerifyAudit();
    RC_ASSERT(v.ok());
    RC_ASSERT(v->ok);
  }
  void show(std::ostream& os) const override { os << "Restart"; }
};

struct Get : ModelCommand<Get> {
  size_t req;
  int who = *rc::gen::inRange(0, 4);  // 0,1 agents; 2 no identity; 3 admin
  explicit Get(const Model& m) : req(PickIndex(m.requests.size())) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(req < m.requests.size()); }

  void Apply(Model& m, Sut* sut) const {
    const MReq& r = m.requests[req];
    std::optional<Err> err;
    if (who == kNoIdentity) err = Forbid("client_identity_required");
    else if (who < 2 && r.client != who) err = Forbid("not_originator");
    if (!sut) return;
    auto got = sut->engine->GetRequest(who == 3 ? AdminCaller() : sut->Agent(who),
                                       sut->request_ids[req]);
    if (err) return CheckError(got.status(), *err);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->state == r.state);
    RC_ASSERT(got->reason == r.reason);
    RC_ASSERT(got->secrets == r.secrets);
  }
  void show(std::ostream& os) const override {
    os << "Get(req=" << req << ", who=" << who << ")";
  }
};

void RunModel() {
  Model initial;
  Sut sut;
  rc::state::check(initial, sut,
                   rc::state::gen::execOneOfWithArgs<Request, Request, Request, Decide, Decide,
                                                     Cancel, Extend, Advance, Advance, Reveal,
                                                     Reveal, Revoke, RevokeAll, Restart, Get>());
}

TEST(CoreModel, EveryStateAndErrorIsReachable) {
  ASSERT_TRUE(crypto::Init());
  SeenTags().clear();
  // rc::check prints its seed; a failure shows the shrunk command sequence. Three runs
  // (each description gives its own seed) so that, together, they reach everything.
  for (const char* run : {"requests and grants behave like the model (1)",
                          "requests and grants behave like the model (2)",
                          "requests and grants behave like the model (3)"})
    ASSERT_TRUE(rc::check(run, [] { RunModel(); }));

  const std::vector<std::string> expected = {
      "req:pending", "req:approved", "req:denied", "req:timed_out", "req:cancelled",
      "grant:live", "grant:expired", "grant:revoked", "grant:exhausted",
      "reveal:ok", "request:idempotent_repeat",
      "err:-32001:client_identity_required", "err:-32001:not_originator",
      "err:-32001:self_approval", "err:-32001:policy_forbidden",
      "err:-32001:client_kind_not_allowed", "err:-32001:not_in_grant",
      "err:-32001:command_mismatch", "err:-32001:already_voted",
      "err:-32002", "err:-32003", "err:-32004", "err:-32005", "err:-32602",
      "err:-32006:policy.ttl_s_max", "err:-32006:request.ttl_s",
      "err:-32006:timeout_interactive_s_default", "err:-32006:timeout_unattended_s_default",
      "err:-32006:timeout_s_max", "err:-32006:pending_requests_per_client_max"};
  bool all = true;
  for (const auto& tag : expected) {
    EXPECT_TRUE(SeenTags().count(tag)) << "never reached: " << tag;
    all = all && SeenTags().count(tag);
  }
  if (!all)
    for (const auto& tag : SeenTags()) std::cerr << "reached: " << tag << "\n";
}

}  // namespace
}  // namespace assent::core::testing
