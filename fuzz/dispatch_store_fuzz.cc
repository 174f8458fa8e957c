// Fuzz harness: JSON-RPC envelope and dispatch over the REAL engine on an in-memory
// SQLite store, with a fake clock and a seeded random source (issue 3: "a fuzz harness
// for dispatch with the real store on an in-memory database"). No sockets.
//
// Each input starts from the same state, made by a fixed preamble: the admin puts
// FUZZ_SECRET (a human decides), AUTO_SECRET (approval "never": a grant at once) and
// BIN_SECRET (binary, two approvals), and two agents say client.hello. The input is
// then a sequence of lines, each one step:
//
//   a<body>  POST /rpc as the admin          p<body>  as approver "alice"
//   q<body>  as approver "bob"               g<body>  as agent 1 (proven identity $C)
//   h<body>  as agent 2 (identity $D)        n<body>  as an agent with no identity
//   t<N>     advance the fake clock N seconds (N ≤ 10^6)
//   s        run the engine's sweep
//
// Bodies may name what the harness learnt so far, substituted before the call: $R / $r
// the newest / oldest request id seen in any answer, $G / $g the same for grants, $C and
// $D the agents' client ids, $K a recipient public key whose secret key the harness
// holds. Lines with another first byte are ignored. A custom mutator changes one step's
// JSON body structurally (json_mutator.h), its role, or duplicates a step.
//
// Properties checked after every step (the run aborts with the reason otherwise):
//   1. The answer is a JSON-RPC response, a non-empty batch of them, or 204 with no body
//      for notifications only; it validates against envelope.json#ResponseBody, and its
//      HTTP status agrees with the error class (ErrorHttpStatus).
//   2. No answer is -32603: the endpoint validates every result against the method's
//      result schema (validate_responses) and turns a mismatch or a handler exception
//      into -32603, so -32603 here means a handler broke its schema or threw.
//   3. No answer, event or audit entry carries a secret's plaintext (or its base64),
//      unless the input itself spelled that text.
//   4. A successful secret.reveal sealed to $K opens, with the harness's secret key, to
//      exactly the value most recently put under that name; a secret.put that succeeds
//      with value_base64 gave canonical base64 (ASSENT-RPC-028).
//   5. An answer to an agent never names the other agent's client id unless the call
//      did (agents see only their own requests and grants, ASSENT-AUTH-009).
// And after the whole input:
//   6. audit.verify's chain walk (Engine::VerifyAudit) reports ok.
//   7. Every stored event validates against its x-events schema, ids strictly increase.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "core/engine.h"
#include "crypto/crypto.h"
#include "events/event_log.h"
#include "fuzz_support.h"
#include "json_mutator.h"
#include "methods/domain.h"
#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"
#include "store/sqlite_store.h"

namespace {

using assent::fuzz::Shown;
using nlohmann::json;
namespace rpc = assent::rpc;
namespace crypto = assent::crypto;

constexpr char kValueFuzz[] = "FzPlain-7Q9x-fuzz-secret-value";
constexpr char kValueAuto[] = "FzPlain-K2m4-auto-secret-value";
// Binary, with a NUL and bytes that are not UTF-8.
const std::string kValueBin("FzBin\x00\xff\xfe-binary-secret", 23);
constexpr size_t kStepsMax = 64;          // bounds one input's cost
constexpr int64_t kAdvanceSecondsMax = 1'000'000;
constexpr char kResponseBodyRef[] = "schemas/envelope.json#/definitions/ResponseBody";

struct Globals {
  std::unique_ptr<assent::spec::SpecRegistry> registry;
  crypto::BoxKeyPair recipient;
  std::string recipient_b64;
  assent::fuzz::JsonMutator mutator;
  Globals() {
    FUZZ_CHECK(crypto::Init(), "libsodium did not start");
    auto r = assent::spec::SpecRegistry::LoadEmbedded();
    FUZZ_CHECK(r.ok(), "the embedded spec does not load");
    registry = std::move(*r);
    mutator.Learn(registry->OpenRpcDocument(), registry->Limits());
    recipient = crypto::NewBoxKeyPair();
    recipient_b64 = crypto::Base64Encode(recipient.public_key);
  }
};

const Globals& G() {
  static Globals g;
  return g;
}

rpc::CallContext Ctx(rpc::Role role, std::string token, std::optional<std::string> client) {
  rpc::CallContext c;
  c.role = role;
  c.token_name = std::move(token);
  c.client_id = std::move(client);
  c.peer = "tcp:127.0.0.1";
  return c;
}

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// Collects every request and grant id found anywhere in an answer, oldest first.
void CollectIds(const json& j, std::vector<std::string>* requests,
                std::vector<std::string>* grants) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() != 35) return;
    auto add = [&](std::vector<std::string>* v) {
      for (const auto& e : *v)
        if (e == s) return;
      v->push_back(s);
    };
    if (s.rfind("rq_", 0) == 0) add(requests);
    if (s.rfind("gr_", 0) == 0) add(grants);
  } else if (j.is_structured()) {
    for (const auto& e : j) CollectIds(e, requests, grants);
  }
}

// Every table of store/sqlite_schema.cc, children before parents (foreign keys are on).
// Emptying them (and the AUTOINCREMENT counters) gives each input a fresh database
// without the cost of opening and migrating one (most of a short input's time under
// ASan). The audit table refuses deletes by trigger; the reset drops that trigger and
// creates it again as the schema has it. A table added to the schema and missing here
// would carry state from one input to the next: add it.
constexpr char kResetSql[] =
    "DELETE FROM votes; DELETE FROM grants; DELETE FROM outbox; DELETE FROM requests;"
    "DELETE FROM clients; DELETE FROM secrets; DELETE FROM audit_head;"
    "DROP TRIGGER audit_no_delete; DELETE FROM audit;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "DELETE FROM events; DELETE FROM meta; DELETE FROM sqlite_sequence;";

assent::store::SqliteStore& FreshStore() {
  static std::unique_ptr<assent::store::SqliteStore> store = [] {
    auto s = assent::store::SqliteStore::Open(":memory:");
    FUZZ_CHECK(s.ok(), "an in-memory store does not open");
    return std::move(*s);
  }();
  assent::Status st = store->ExecForTesting(kResetSql);
  FUZZ_CHECK(st.ok(), "emptying the store failed (did the schema change?): " + st.message());
  return *store;
}

class Run {
 public:
  explicit Run(const Globals& g) : g_(g), store_(&FreshStore()) {
    auto e = assent::core::Engine::Create(*store_, clock_, random_, std::string(32, 'k'));
    FUZZ_CHECK(e.ok(), "the engine does not start");
    engine_ = std::move(*e);
    // access.wait long-polls on the real clock; after Shutdown() every wait returns at
    // once, and nothing else changes.
    engine_->Shutdown();
    assent::methods::RegisterSystemMethods(dispatcher_, *g_.registry, {"fuzz", {"core", "events"}});
    assent::methods::RegisterDomainMethods(dispatcher_, *engine_);
    assent::methods::RegisterRemainingAsNotImplemented(dispatcher_, *g_.registry);
    endpoint_ = std::make_unique<rpc::RpcEndpoint>(*g_.registry, dispatcher_,
                                                   rpc::EndpointOptions{true});
    needles_ = {kValueFuzz, kValueAuto, kValueBin, crypto::Base64Encode(kValueFuzz),
                crypto::Base64Encode(kValueAuto), crypto::Base64Encode(kValueBin)};
  }

  void Preamble() {
    admin_ = Ctx(rpc::Role::kAdmin, "tok-admin", std::nullopt);
    alice_ = Ctx(rpc::Role::kApprover, "alice", std::nullopt);
    bob_ = Ctx(rpc::Role::kApprover, "bob", std::nullopt);
    anon_ = Ctx(rpc::Role::kAgent, "tok-agent", std::nullopt);
    MustSucceed(admin_, {{"name", "FUZZ_SECRET"}, {"value", kValueFuzz}});
    MustSucceed(admin_, {{"name", "AUTO_SECRET"},
                         {"value", kValueAuto},
                         {"policy", {{"approval", "never"}, {"uses_per_grant", 3}}}},
                "secret.put");
    MustSucceed(admin_, {{"name", "BIN_SECRET"},
                         {"value_base64", crypto::Base64Encode(kValueBin)},
                         {"policy", {{"approvals_required", 2}}}},
                "secret.put");
    values_ = {{"FUZZ_SECRET", kValueFuzz}, {"AUTO_SECRET", kValueAuto}, {"BIN_SECRET", kValueBin}};
    json c1 = MustSucceed(anon_, {{"kind", "agent"}, {"name", "fuzz-agent"}}, "client.hello");
    json c2 = MustSucceed(anon_, {{"kind", "script"}, {"name", "fuzz-script"}}, "client.hello");
    agent1_ = Ctx(rpc::Role::kAgent, "tok-agent", c1["client_id"].get<std::string>());
    agent2_ = Ctx(rpc::Role::kAgent, "tok-agent", c2["client_id"].get<std::string>());
  }

  void Steps(std::string_view input) {
    // The input may spell a secret's text itself (e.g. put it again, or write it into a
    // reason that an answer echoes); then property 3 cannot tell a leak from an echo.
    input_spells_secret_ = Spells(input);
    size_t steps = 0;
    for (const std::string& line : assent::fuzz::Split(input, '\n')) {
      if (line.empty()) continue;
      if (++steps > kStepsMax) break;
      const char op = line[0];
      std::string body = line.substr(1);
      switch (op) {
        case 'a': Call(admin_, body); break;
        case 'p': Call(alice_, body); break;
        case 'q': Call(bob_, body); break;
        case 'g': Call(agent1_, body); break;
        case 'h': Call(agent2_, body); break;
        case 'n': Call(anon_, body); break;
        case 't': {
          int64_t s = 0;
          for (char c : body) {
            if (c < '0' || c > '9') break;
            s = std::min<int64_t>(s * 10 + (c - '0'), kAdvanceSecondsMax);
          }
          clock_.AdvanceMs(s * 1000);
          break;
        }
        case 's': {
          auto r = engine_->Sweep();
          FUZZ_CHECK(r.ok(), "Sweep failed on a healthy store: " + r.status().message());
          break;
        }
        default: break;
      }
    }
  }

  void Finish() {
    auto report = engine_->VerifyAudit();
    FUZZ_CHECK(report.ok(), "audit verify failed to run: " + report.status().message());
    FUZZ_CHECK(report->ok, "the audit chain is broken at seq " +
                               std::to_string(report->first_bad_seq.value_or(-1)));
    // Property 3 for the audit log, and 6: the whole event log.
    auto page = engine_->ListAudit(0, 100000);
    FUZZ_CHECK(page.ok(), "audit list failed: " + page.status().message());
    for (const auto& row : page->entries) {
      std::string text = assent::audit::EntryToJson(row).dump(
          -1, ' ', false, json::error_handler_t::replace);
      CheckNoSecret(text, "audit entry");
    }
    assent::events::EventLog log(*store_, clock_);
    auto batch = log.ReadSince(0, assent::events::ScopeAll(), 100000);
    FUZZ_CHECK(batch.ok(), "event read failed: " + batch.status().message());
    FUZZ_CHECK(!batch->gap, "a gap in a log that was never pruned");
    int64_t last = 0;
    for (const auto& e : batch->events) {
      FUZZ_CHECK(e.id > last, "event ids do not increase");
      last = e.id;
      auto err = g_.registry->ValidateEvent(e.type, e.data);
      FUZZ_CHECK(!err, "event " + e.type + " does not match its schema: " +
                           Shown(e.data.dump()) + " — " + err->ToJson().dump());
      CheckNoSecret(e.data.dump(-1, ' ', false, json::error_handler_t::replace), "event");
    }
  }

 private:
  json MustSucceed(const rpc::CallContext& ctx, const json& params,
                   const std::string& method = "secret.put") {
    json req = {{"jsonrpc", "2.0"}, {"method", method}, {"params", params}, {"id", 1}};
    rpc::RpcReply reply = endpoint_->Handle(ctx, req.dump());
    json j = json::parse(reply.body, nullptr, false);
    FUZZ_CHECK(j.is_object() && j.contains("result"),
               "preamble " + method + " failed: " + Shown(reply.body));
    return j["result"];
  }

  bool Spells(std::string_view text) const {
    for (const auto& n : needles_)
      if (text.find(n) != std::string_view::npos) return true;
    return false;
  }

  void CheckNoSecret(std::string_view text, const char* where) const {
    if (input_spells_secret_) return;
    FUZZ_CHECK(!Spells(text), std::string("a secret's plaintext is in an ") + where + ": " +
                                  Shown(text));
  }

  std::string Substitute(std::string body) const {
    const std::string none_rq = "rq_" + std::string(32, '0');
    const std::string none_gr = "gr_" + std::string(32, '0');
    ReplaceAll(body, "$R", requests_.empty() ? none_rq : requests_.back());
    ReplaceAll(body, "$r", requests_.empty() ? none_rq : requests_.front());
    ReplaceAll(body, "$G", grants_.empty() ? none_gr : grants_.back());
    ReplaceAll(body, "$g", grants_.empty() ? none_gr : grants_.front());
    ReplaceAll(body, "$C", *agent1_.client_id);
    ReplaceAll(body, "$D", *agent2_.client_id);
    ReplaceAll(body, "$K", g_.recipient_b64);
    return body;
  }

  void Call(const rpc::CallContext& ctx, const std::string& raw) {
    const std::string body = Substitute(raw);
    const json request = json::parse(body, nullptr, false);
    // An escaped spelling (\u0046…) counts as spelling it too.
    if (!input_spells_secret_ && !request.is_discarded())
      input_spells_secret_ =
          Spells(request.dump(-1, ' ', false, json::error_handler_t::replace));

    rpc::RpcReply reply = endpoint_->Handle(ctx, body);
    if (reply.body.empty()) {
      FUZZ_CHECK(reply.http_status == 204, "an empty answer with status " +
                                               std::to_string(reply.http_status));
      Attribute(request, json());
      return;
    }
    CheckNoSecret(reply.body, "answer");
    CheckScope(ctx, body, reply.body);
    json j = json::parse(reply.body, nullptr, false);
    FUZZ_CHECK(!j.is_discarded(), "the answer is not JSON: " + Shown(reply.body));
    auto err = g_.registry->ValidateRef(kResponseBodyRef, j);
    FUZZ_CHECK(!err, "the answer does not match envelope.json#ResponseBody: " +
                         Shown(reply.body) + " — " + err->ToJson().dump());
    if (j.is_array()) {
      FUZZ_CHECK(reply.http_status == 200 && !j.empty(), "a batch answer with status " +
                                                            std::to_string(reply.http_status));
      for (const auto& e : j) CheckOne(e, reply.body);
    } else {
      CheckOne(j, reply.body);
      if (j.contains("error")) {
        auto code = static_cast<assent::ErrorCode>(j["error"]["code"].get<int>());
        FUZZ_CHECK(reply.http_status == assent::ErrorHttpStatus(code),
                   "status " + std::to_string(reply.http_status) + " for " + Shown(reply.body));
      } else {
        FUZZ_CHECK(reply.http_status == 200, "a result with status " +
                                                 std::to_string(reply.http_status));
      }
    }
    Attribute(request, j);
    CollectIds(j, &requests_, &grants_);
  }

  // Matches each call of the request with its answer (by id, when the id is unique in
  // the request) and learns from it (property 4). A secret.put or secret.delete whose
  // answer cannot be found (a notification, a repeated id) may or may not have changed
  // the secret: that name's value is unknown from then on.
  void Attribute(const json& request, const json& answer) {
    std::vector<const json*> calls;
    if (request.is_object()) calls.push_back(&request);
    if (request.is_array())
      for (const auto& e : request) calls.push_back(&e);
    for (const json* c : calls) {
      if (!c->is_object() || !c->contains("method") || !(*c)["method"].is_string()) continue;
      const std::string method = (*c)["method"].get<std::string>();
      const json* result = nullptr;
      if (c->contains("id")) {
        size_t same = 0;
        for (const json* o : calls)
          if (o->is_object() && o->contains("id") && (*o)["id"] == (*c)["id"]) ++same;
        if (same == 1) {
          if (answer.is_object() && answer.contains("result") && answer.value("id", json()) == (*c)["id"])
            result = &answer["result"];
          if (answer.is_array())
            for (const auto& a : answer)
              if (a.is_object() && a.contains("result") && a.value("id", json()) == (*c)["id"])
                result = &a["result"];
        }
      }
      const bool changes_value = method == "secret.put" || method == "secret.delete";
      if (result) {
        Learn(*c, *result);
      } else if (changes_value && c->contains("params") && (*c)["params"].is_object() &&
                 (*c)["params"].contains("name") && (*c)["params"]["name"].is_string()) {
        const std::string name = (*c)["params"]["name"].get<std::string>();
        values_.erase(name);
        unknown_.insert(name);
      }
    }
  }

  // Property 5: an agent's answers never name another agent's client id (ASSENT-AUTH-009,
  // requests and grants of others are invisible), unless the call itself named it (an
  // error may echo the id it was given).
  void CheckScope(const rpc::CallContext& ctx, const std::string& body,
                  const std::string& answer) const {
    if (ctx.role != rpc::Role::kAgent) return;
    for (const rpc::CallContext* other : {&agent1_, &agent2_}) {
      const std::string& id = *other->client_id;
      if (ctx.client_id == id || body.find(id) != std::string::npos) continue;
      FUZZ_CHECK(answer.find(id) == std::string::npos,
                 "an answer to " + ctx.client_id.value_or("an agent without identity") +
                     " names another agent's client id " + id + ": " + Shown(answer));
    }
  }

  void CheckOne(const json& r, const std::string& body) const {
    if (r.contains("error")) {
      FUZZ_CHECK(r["error"]["code"] != -32603,
                 "an internal error (a result off its schema, or a handler that threw): " +
                     Shown(body));
    }
  }

  // Property 4, and what secret.put changes for it.
  void Learn(const json& request, const json& result) {
    const std::string method = request.value("method", "");
    const json params = request.value("params", json::object());
    if (!params.is_object()) return;
    if (method == "secret.put") {
      const std::string name = params.value("name", "");
      unknown_.erase(name);
      if (params.contains("value")) {
        values_[name] = params["value"].get<std::string>();
      } else if (params.contains("value_base64")) {
        const std::string text = params["value_base64"].get<std::string>();
        auto v = crypto::Base64Decode(text);
        FUZZ_CHECK(v.has_value(), "secret.put accepted value_base64 that does not decode");
        // ASSENT-RPC-028: value_base64 that is not base64 is -32602. Canonical base64
        // encodes back to itself.
        FUZZ_CHECK(crypto::Base64Encode(*v) == text,
                   "secret.put accepted value_base64 that is not canonical base64: " + Shown(text));
        values_[name] = *v;
      }
    } else if (method == "secret.delete") {
      values_.erase(params.value("name", ""));
      unknown_.erase(params.value("name", ""));
    } else if (method == "secret.reveal" && params.value("recipient_key", "") == g_.recipient_b64) {
      const std::string name = result.value("name", "");
      auto sealed = crypto::Base64Decode(result.value("sealed_value", ""));
      FUZZ_CHECK(sealed.has_value(), "secret.reveal's sealed_value is not base64");
      auto opened = crypto::SealOpen(g_.recipient.public_key, g_.recipient.secret_key, *sealed);
      FUZZ_CHECK(opened.has_value(), "secret.reveal's sealed box does not open for its recipient");
      if (unknown_.count(name)) return;
      auto it = values_.find(name);
      FUZZ_CHECK(it != values_.end(), "secret.reveal revealed " + name + ", which is not stored");
      FUZZ_CHECK(*opened == it->second, "secret.reveal of " + name +
                                            " opened to a value other than the one stored");
      crypto::Wipe(*opened);
    }
  }

  const Globals& g_;
  assent::FakeClock clock_;
  assent::SeededRandom random_{0x5eed};
  assent::store::SqliteStore* store_;
  std::unique_ptr<assent::core::Engine> engine_;
  rpc::Dispatcher dispatcher_;
  std::unique_ptr<rpc::RpcEndpoint> endpoint_;
  rpc::CallContext admin_, alice_, bob_, anon_, agent1_, agent2_;
  std::vector<std::string> needles_;
  std::map<std::string, std::string> values_;
  std::set<std::string> unknown_;  // names whose current value the harness cannot know
  std::vector<std::string> requests_, grants_;
  bool input_spells_secret_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run run(G());
  run.Preamble();
  run.Steps(std::string_view(reinterpret_cast<const char*>(data), size));
  run.Finish();
  return 0;
}

// Structure-aware mutation of the script: change one step's JSON body (json_mutator.h),
// its role, or the order and number of steps; else libFuzzer's byte mutations.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines =
      assent::fuzz::Split(std::string_view(reinterpret_cast<const char*>(data), size), '\n');
  const size_t pick = rng() % lines.size();
  std::string& line = lines[pick];
  static const char kOps[] = "apqghnts";
  switch (rng() % 4) {
    case 0:
      if (line.size() > 1) {
        if (auto body = G().mutator.Mutate(std::string_view(line).substr(1), max_size, rng)) {
          line = line.substr(0, 1) + *body;
          break;
        }
      }
      return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
    case 1:
      if (!line.empty()) line[0] = kOps[rng() % (sizeof kOps - 1)];
      break;
    case 2:
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(rng() % (lines.size() + 1)),
                   lines[rng() % lines.size()]);
      break;
    default:
      return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  if (out.size() > max_size) return size;
  std::copy(out.begin(), out.end(), data);
  return out.size();
}
