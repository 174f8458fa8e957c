// Fuzz harness: schema validation of the embedded spec (SpecRegistry), the gate every
// params object passes before dispatch and every result and event before it is sent.
//
// Input: a first line naming what to validate — "p:<method>" (params, the default when
// there is no prefix), "r:<method>" (result) or "e:<event type>" — then the JSON value.
// A name the spec does not have picks a method (or event) by its first byte, so every
// input exercises a real schema. Input that is not JSON is not interesting here (the
// envelope harnesses cover the parser) and is skipped.
//
// Properties:
//   1. Validation never crashes, throws or hangs, whatever the value (ASan, UBSan).
//   2. Determinism: validating the same value twice, and a copy of it, gives the same
//      verdict and the same error (instance path, schema path, message).
//   3. An error's instance path is a JSON Pointer that resolves inside the value, and
//      its schema path is a URI-fragment JSON Pointer ("#", "#/…"), as ASSENT-RPC-025
//      and errors.json's InvalidParamsData require.
//   4. An accepted value round-trips: dump → parse gives an equal value, which is still
//      accepted — both as UTF-8 and as ASCII with \u escapes.
//   5. An unknown method or event name is always refused.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "spec/registry.h"

namespace {

using assent::fuzz::Shown;
using assent::spec::SpecRegistry;
using assent::spec::ValidationError;
using nlohmann::json;

struct Globals {
  std::unique_ptr<SpecRegistry> registry;
  std::vector<std::string> methods;
  std::vector<std::string> events;
  assent::fuzz::JsonMutator mutator;
  Globals() {
    auto r = SpecRegistry::LoadEmbedded();
    FUZZ_CHECK(r.ok(), "the embedded spec does not load");
    registry = std::move(*r);
    methods = registry->MethodNames();
    events = registry->EventTypes();
    FUZZ_CHECK(!methods.empty() && !events.empty(), "the spec has no methods or events");
    mutator.Learn(registry->OpenRpcDocument(), registry->Limits());
  }
};

Globals& G() {
  static Globals g;
  return g;
}

enum class Kind { kParams, kResult, kEvent };

std::optional<ValidationError> Validate(Kind kind, const std::string& name, const json& v) {
  switch (kind) {
    case Kind::kParams: return G().registry->ValidateParams(name, v);
    case Kind::kResult: return G().registry->ValidateResult(name, v);
    case Kind::kEvent: return G().registry->ValidateEvent(name, v);
  }
  return std::nullopt;
}

std::string Describe(const std::optional<ValidationError>& e) {
  return e ? e->ToJson().dump(-1, ' ', false, json::error_handler_t::replace) : "accepted";
}

bool SameVerdict(const std::optional<ValidationError>& a,
                 const std::optional<ValidationError>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->instance_path == b->instance_path && a->schema_path == b->schema_path &&
         a->message == b->message;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Globals& g = G();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  std::string_view head = nl == std::string_view::npos ? std::string_view() : input.substr(0, nl);
  std::string_view text = nl == std::string_view::npos ? input : input.substr(nl + 1);

  Kind kind = Kind::kParams;
  std::string_view name = head;
  if (head.size() >= 2 && head[1] == ':') {
    if (head[0] == 'r') kind = Kind::kResult;
    if (head[0] == 'e') kind = Kind::kEvent;
    name = head.substr(2);
  }
  const auto& names = kind == Kind::kEvent ? g.events : g.methods;
  std::string chosen(name);
  bool known = false;
  for (const auto& n : names) known = known || n == chosen;

  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return 0;

  if (!known) {
    // Property 5, then validate against a real schema chosen by the input.
    FUZZ_CHECK(Validate(kind, chosen, value).has_value(),
               "an unknown name was accepted: " + Shown(chosen));
    chosen = names[(size ? data[0] : 0) % names.size()];
  }

  // Properties 1 and 2.
  auto first = Validate(kind, chosen, value);
  auto again = Validate(kind, chosen, value);
  const json copy = value;
  auto of_copy = Validate(kind, chosen, copy);
  FUZZ_CHECK(SameVerdict(first, again) && SameVerdict(first, of_copy),
             chosen + ": two validations of one value disagree: " + Describe(first) + " vs " +
                 Describe(again) + " vs " + Describe(of_copy));

  if (first) {
    // Property 3.
    const ValidationError& e = *first;
    bool resolves = false;
    try {
      resolves = value.contains(json::json_pointer(e.instance_path));
    } catch (const json::exception&) {
      resolves = false;
    }
    FUZZ_CHECK(resolves, chosen + ": the error's instance path does not resolve in the value: " +
                             Describe(first) + " for " + Shown(value.dump()));
    FUZZ_CHECK(e.schema_path.rfind("#", 0) == 0 &&
                   (e.schema_path.size() == 1 || e.schema_path[1] == '/'),
               chosen + ": the error's schema path is not a URI-fragment JSON Pointer "
                        "(ASSENT-RPC-025): " + Describe(first));
    return 0;
  }

  // Property 4.
  for (bool ascii : {false, true}) {
    std::string dumped = value.dump(-1, ' ', ascii);
    json back = json::parse(dumped, nullptr, false);
    FUZZ_CHECK(!back.is_discarded() && back == value,
               chosen + ": an accepted value does not round-trip: " + Shown(dumped));
    auto verdict = Validate(kind, chosen, back);
    FUZZ_CHECK(!verdict, chosen + ": an accepted value is refused after a round trip: " +
                             Describe(verdict));
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  // Keep the first line (what to validate) and mutate the JSON after it.
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  size_t prefix = nl == std::string_view::npos ? 0 : nl + 1;
  return assent::fuzz::MutateJsonInput(G().mutator, data, size, max_size, seed, prefix);
}
