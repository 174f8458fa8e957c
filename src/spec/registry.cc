#include "spec/registry.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <exception>
#include <functional>
#include <unordered_map>

#include "spec/embedded.h"

namespace assent::spec {

using nlohmann::json;

struct SpecRegistry::Compiled {
  std::string ref;  // "#/files/<file>/<pointer>"
  const json* root = nullptr;  // the schema's node in bundle_
  valijson::Schema schema;
};

namespace {

std::string EscapePointerToken(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// "schemas/a.json" + "../x/b.json" → "x/b.json".
std::string ResolveRelative(const std::string& from_file, const std::string& rel) {
  std::vector<std::string> parts;
  auto push_path = [&parts](const std::string& p) {
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find('/', start);
      if (end == std::string::npos) end = p.size();
      std::string seg = p.substr(start, end - start);
      if (seg == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      start = end + 1;
    }
  };
  size_t slash = from_file.rfind('/');
  if (slash != std::string::npos) push_path(from_file.substr(0, slash));
  push_path(rel);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string BundledRef(const std::string& file, const std::string& ref) {
  size_t hash = ref.find('#');
  std::string doc = hash == std::string::npos ? ref : ref.substr(0, hash);
  std::string pointer = hash == std::string::npos ? "" : ref.substr(hash + 1);
  std::string target = doc.empty() ? file : ResolveRelative(file, doc);
  return "#/files/" + EscapePointerToken(target) + pointer;
}

void RewriteRefs(json& node, const std::string& file) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "$ref" && it.value().is_string()) {
        it.value() = BundledRef(file, it.value().get<std::string>());
      } else {
        RewriteRefs(it.value(), file);
      }
    }
  } else if (node.is_array()) {
    for (auto& v : node) RewriteRefs(v, file);
  }
}

// Follows "$ref" chains inside the bundle from a bundled ref to the concrete schema.
const json* Deref(const json& bundle, const json* node, std::string* location) {
  for (int hops = 0; node && node->is_object() && node->contains("$ref") && hops < 32;
       ++hops) {
    const auto& r = (*node)["$ref"];
    if (!r.is_string()) return node;
    std::string ref = r.get<std::string>();
    if (ref.rfind("#", 0) != 0) return nullptr;
    try {
      node = &bundle.at(json::json_pointer(ref.substr(1)));
      *location = ref.substr(1);
    } catch (const std::exception&) {
      return nullptr;
    }
  }
  return node;
}

// Best-effort name of the keyword a valijson message is about.
std::string KeywordOf(const std::string& d) {
  static const char* kKeywords[] = {
      "additionalProperties", "maxProperties", "minProperties", "maxLength", "minLength",
      "maxItems", "minItems", "uniqueItems", "multipleOf", "exclusiveMaximum",
      "exclusiveMinimum", "maximum", "minimum", "pattern", "required", "enum", "const",
      "oneOf", "anyOf", "allOf", "not", "type", "dependencies", "contains",
      "propertyNames", "if"};
  for (const char* k : kKeywords)
    if (d.find(std::string("'") + k + "'") != std::string::npos) return k;
  if (d.find("required property") != std::string::npos) return "required";
  if (d.find("no more than") != std::string::npos && d.find("character") != std::string::npos)
    return "maxLength";
  if (d.find("no less than") != std::string::npos && d.find("character") != std::string::npos)
    return "minLength";
  if (d.find("regex") != std::string::npos) return "pattern";
  if (d.find("enum") != std::string::npos) return "enum";
  if (d.find("type") != std::string::npos) return "type";
  if (d.find("items") != std::string::npos) return "items";
  if (d.find("greater than") != std::string::npos) return "maximum";
  if (d.find("less than") != std::string::npos) return "minimum";
  return "";
}

// "<root>", "[params]", "[2]" → JSON Pointer tokens.
std::vector<std::string> ContextTokens(const std::vector<std::string>& context) {
  std::vector<std::string> out;
  for (const auto& c : context) {
    if (c == "<root>") continue;
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
      std::string t = c.substr(1, c.size() - 2);
      if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
      out.push_back(t);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// std::regex (behind valijson's `pattern`) recurses per character and overflows the
// stack on strings of a few ten thousand characters. No pattern ever runs on a string
// longer than this; the spec keeps every patterned string's maxLength below it.
constexpr size_t kPatternSafeChars = 8192;

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// Resolves "$ref" chains inside the bundle with the table of every ref's target built
// at load: one hash lookup per hop instead of parsing a JSON Pointer per call.
class RefResolver {
 public:
  explicit RefResolver(const std::unordered_map<std::string, const json*>& targets)
      : targets_(targets) {}
  const json* operator()(const json* node) const {
    for (int hops = 0; node && node->is_object() && hops < 32; ++hops) {
      auto r = node->find("$ref");
      if (r == node->end() || !r->is_string()) return node;
      auto t = targets_.find(r->get_ref<const std::string&>());
      if (t == targets_.end()) return nullptr;
      node = t->second;
    }
    return node;
  }

 private:
  const std::unordered_map<std::string, const json*>& targets_;
};

// Walks the instance beside its schema and reports an over-long string before valijson
// sees it: a maxLength violation, or a string too long to match a pattern safely.
// Paths are built only for the error, on the way out: the error's instance_path and
// schema_path are relative to `node` ("" and "/properties/x/maxLength"), and each caller
// prepends its own step; the top-level caller adds the "#" of the evaluation path that
// InvalidParamsData.schema_path reports.
std::optional<ValidationError> PrecheckStrings(const RefResolver& resolve, const json* node,
                                               const json& value, int depth) {
  if (depth > 64) return std::nullopt;
  node = resolve(node);
  if (!node || !node->is_object()) return std::nullopt;
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    size_t n = CodePoints(s);
    auto max_it = node->find("maxLength");
    if (max_it != node->end() && max_it->is_number_unsigned() &&
        n > max_it->get<size_t>()) {
      return ValidationError{"", "/maxLength",
                             "String should be no more than " +
                                 std::to_string(max_it->get<size_t>()) +
                                 " characters in length."};
    }
    if (n > kPatternSafeChars) {
      if (node->contains("pattern"))
        return ValidationError{"", "/pattern",
                               "String is too long to be checked against its pattern."};
      for (const char* k : {"allOf", "anyOf", "oneOf"}) {
        auto it = node->find(k);
        if (it == node->end() || !it->is_array()) continue;
        for (size_t i = 0; i < it->size(); ++i) {
          // Inside alternatives only the pattern guard applies: a too-long string for
          // one branch may be fine for another.
          const json* b = resolve(&(*it)[i]);
          if (b && b->is_object() && b->contains("pattern"))
            return ValidationError{"", "/" + std::string(k) + "/" + std::to_string(i) + "/pattern",
                                   "String is too long to be checked against its pattern."};
        }
      }
    }
  }
  if (value.is_object()) {
    auto props = node->find("properties");
    auto addl = node->find("additionalProperties");
    const bool has_props = props != node->end() && props->is_object();
    const bool has_addl = addl != node->end() && addl->is_object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::optional<ValidationError> e;
      std::string step;
      auto prop = has_props ? props->find(it.key()) : json::const_iterator();
      if (has_props && prop != props->end()) {
        e = PrecheckStrings(resolve, &*prop, it.value(), depth + 1);
        if (e) step = "/properties/" + EscapePointerToken(it.key());
      } else if (has_addl) {
        e = PrecheckStrings(resolve, &*addl, it.value(), depth + 1);
        if (e) step = "/additionalProperties";
      }
      if (e) {
        e->instance_path = "/" + EscapePointerToken(it.key()) + e->instance_path;
        e->schema_path = step + e->schema_path;
        return e;
      }
    }
  } else if (value.is_array()) {
    auto items = node->find("items");
    if (items != node->end() && items->is_object()) {
      for (size_t i = 0; i < value.size(); ++i) {
        auto e = PrecheckStrings(resolve, &*items, value[i], depth + 1);
        if (e) {
          e->instance_path = "/" + std::to_string(i) + e->instance_path;
          e->schema_path = "/items" + e->schema_path;
          return e;
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

json ValidationError::ToJson() const {
  return {{"instance_path", instance_path}, {"schema_path", schema_path}, {"message", message}};
}

SpecRegistry::~SpecRegistry() = default;

Result<std::unique_ptr<SpecRegistry>> SpecRegistry::LoadEmbedded() {
  std::unique_ptr<SpecRegistry> r(new SpecRegistry());
  Status st = r->Build();
  if (!st.ok()) return st;
  return r;
}

Result<const SpecRegistry*> SpecRegistry::Shared() {
  static const Result<std::unique_ptr<SpecRegistry>> loaded = LoadEmbedded();
  if (!loaded.ok()) return loaded.status();
  return loaded->get();
}

Status SpecRegistry::Build() {
  json files = json::object();
  for (const auto& f : EmbeddedFiles()) {
    json doc = json::parse(f.content, nullptr, false);
    if (doc.is_discarded())
      return Internal("embedded spec file " + std::string(f.path) + " is not valid JSON");
    std::string path(f.path);
    if (path == "openrpc.json") openrpc_ = doc;
    if (path == "limits.json") limits_ = doc;
    RewriteRefs(doc, path);
    files[path] = std::move(doc);
  }
  if (!openrpc_.is_object() || !openrpc_.contains("methods"))
    return Internal("embedded spec has no openrpc.json with methods");
  bundle_ = json{{"files", files}};

  const std::string base = "#/files/openrpc.json";
  const auto& methods = openrpc_["methods"];
  for (size_t i = 0; i < methods.size(); ++i) {
    std::string name = methods[i].value("name", "");
    if (name.empty()) return Internal("openrpc.json method " + std::to_string(i) + " has no name");
    // By-name params: an object whose members are the content descriptors.
    json props = json::object();
    json required = json::array();
    const auto& params = methods[i].value("params", json::array());
    for (size_t p = 0; p < params.size(); ++p) {
      const json* cd = &params[p];
      std::string loc;
      if (cd->contains("$ref")) {
        cd = Deref(bundle_, &bundle_["files"]["openrpc.json"]["methods"][i]["params"][p], &loc);
        if (!cd) return Internal("method " + name + ": unresolvable param $ref");
      }
      std::string pname = cd->value("name", "");
      std::string schema_ptr =
          (loc.empty() ? "/files/openrpc.json/methods/" + std::to_string(i) + "/params/" +
                             std::to_string(p)
                       : loc) +
          "/schema";
      props[pname] = {{"$ref", "#" + schema_ptr}};
      if (cd->value("required", false)) required.push_back(pname);
    }
    json params_schema = {{"type", "object"},
                          {"properties", props},
                          {"additionalProperties", false}};
    if (!required.empty()) params_schema["required"] = required;
    bundle_["params"][name] = params_schema;
    params_ref_[name] = "#/params/" + EscapePointerToken(name);
    // The whole-params schema (x-params-schema) also carries cross-member rules (e.g.
    // exactly one of value / value_base64) that per-member descriptors cannot express;
    // the spec's tests keep the two in step, and the daemon validates against it.
    if (methods[i].contains("x-params-schema")) {
      params_ref_[name] = "#/files/openrpc.json/methods/" + std::to_string(i) + "/x-params-schema";
    }
    for (const auto& r : methods[i].value("x-roles", json::array()))
      if (r.is_string()) roles_[name].push_back(r.get<std::string>());
    if (methods[i].contains("result")) {
      std::string loc;
      const json* cd = &bundle_["files"]["openrpc.json"]["methods"][i]["result"];
      std::string ptr = "/files/openrpc.json/methods/" + std::to_string(i) + "/result";
      if (cd->contains("$ref")) {
        cd = Deref(bundle_, cd, &loc);
        if (!cd) return Internal("method " + name + ": unresolvable result $ref");
        ptr = loc;
      }
      result_ref_[name] = "#" + ptr + "/schema";
    }
  }
  // x-events: either {"type": schema | {"schema": ...}} or [{"name", "schema"}].
  if (openrpc_.contains("x-events")) {
    const auto& ev = openrpc_["x-events"];
    std::string evbase = "/files/openrpc.json/x-events/";
    if (ev.is_object()) {
      for (auto it = ev.begin(); it != ev.end(); ++it) {
        std::string ptr = evbase + EscapePointerToken(it.key());
        if (it.value().is_object() && it.value().contains("schema")) ptr += "/schema";
        event_ref_[it.key()] = "#" + ptr;
      }
    } else if (ev.is_array()) {
      for (size_t i = 0; i < ev.size(); ++i) {
        std::string n = ev[i].value("name", "");
        if (!n.empty()) event_ref_[n] = "#" + evbase + std::to_string(i) + "/schema";
      }
    }
  }
  for (const char* ref : {"schemas/envelope.json#/definitions/ResponseBody",
                          "schemas/envelope.json#/definitions/SuccessResponse",
                          "schemas/envelope.json#/definitions/ErrorResponse",
                          "schemas/http.json#/definitions/HttpError",
                          "schemas/tokens.json#/definitions/TokensFile"})
    result_ref_[std::string("@") + ref] = BundledRef("openrpc.json", ref);
  // Compile everything now, so validation at run time never parses a schema and the
  // compiled map is read-only (thread-safe) afterwards.
  try {
    for (auto* refs : {&params_ref_, &result_ref_, &event_ref_})
      for (const auto& [_, ref] : *refs) {
        if (compiled_.count(ref)) continue;
        auto c = std::make_unique<Compiled>();
        c->ref = ref;
        // The bundle itself is the root (no copy: start-up time), with a root $ref
        // naming the schema to compile; removed again below.
        bundle_["$ref"] = ref;
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(bundle_);
        parser.populateSchema(adapter, c->schema);
        bundle_.erase("$ref");
        compiled_[ref] = std::move(c);
      }
  } catch (const std::exception& e) {
    bundle_.erase("$ref");
    return Internal(std::string("compiling the embedded spec's schemas failed: ") + e.what());
  }
  // bundle_ is final from here on: index every ref's target, and each compiled schema's.
  std::function<void(const json&)> index = [&](const json& node) {
    if (node.is_object()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it.key() == "$ref" && it->is_string()) {
          const std::string& ref = it->get_ref<const std::string&>();
          if (ref.rfind("#", 0) != 0 || ref_targets_.count(ref)) continue;
          const json* target = nullptr;
          try {
            target = &bundle_.at(json::json_pointer(ref.substr(1)));
          } catch (const std::exception&) {
            continue;  // left out: resolving it yields nullptr, as before
          }
          ref_targets_[ref] = target;
        } else {
          index(*it);
        }
      }
    } else if (node.is_array()) {
      for (const auto& v : node) index(v);
    }
  };
  index(bundle_);
  for (auto& [ref, c] : compiled_) c->root = &bundle_.at(json::json_pointer(ref.substr(1)));
  return Status::Ok();
}

std::vector<std::string> SpecRegistry::MethodNames() const {
  std::vector<std::string> out;
  for (const auto& [m, _] : params_ref_) out.push_back(m);  // result_ref_ has extras
  return out;
}

std::vector<std::string> SpecRegistry::EventTypes() const {
  std::vector<std::string> out;
  for (const auto& [m, _] : event_ref_) out.push_back(m);
  return out;
}

bool SpecRegistry::HasMethod(const std::string& method) const {
  return params_ref_.count(method) > 0;
}

const SpecRegistry::Compiled* SpecRegistry::CompileRef(const std::string& ref) const {
  auto it = compiled_.find(ref);
  return it == compiled_.end() ? nullptr : it->second.get();
}

std::optional<ValidationError> SpecRegistry::Validate(const Compiled* c,
                                                      const json& value) const {
  const RefResolver resolve(ref_targets_);
  if (auto e = PrecheckStrings(resolve, c->root, value, 0)) {
    e->schema_path = "#" + e->schema_path;
    return e;
  }
  // valijson keeps a regex cache inside the Validator that is not thread-safe.
  thread_local valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::adapters::NlohmannJsonAdapter target(value);
  // Without a results object valijson stops at the first mismatch and formats no
  // message, which makes the rejected branches of a oneOf (the response envelope's)
  // cheap; the rare failure is validated again to explain it.
  if (validator.validate(c->schema, target, nullptr)) return std::nullopt;
  valijson::ValidationResults results;
  if (validator.validate(c->schema, target, &results)) return std::nullopt;

  // Keep the deepest error: parents repeat a summary of their children.
  const valijson::ValidationResults::Error* best = nullptr;
  for (const auto& e : results)
    if (!best || e.context.size() > best->context.size()) best = &e;
  ValidationError out;
  out.message = best ? best->description : "value does not match its schema";
  std::vector<std::string> tokens = best ? ContextTokens(best->context) : std::vector<std::string>{};
  for (const auto& t : tokens) out.instance_path += "/" + EscapePointerToken(t);

  // Walk the schema along the instance path to name the failing schema location.
  std::string rel = "#";
  const json* node = resolve(c->root);
  for (const auto& t : tokens) {
    if (!node || !node->is_object()) break;
    if (node->contains("properties") && (*node)["properties"].contains(t)) {
      rel += "/properties/" + EscapePointerToken(t);
      node = &(*node)["properties"][t];
    } else if (node->contains("items") && (*node)["items"].is_object()) {
      rel += "/items";
      node = &(*node)["items"];
    } else if (node->contains("additionalProperties") &&
               (*node)["additionalProperties"].is_object()) {
      rel += "/additionalProperties";
      node = &(*node)["additionalProperties"];
    } else {
      break;
    }
    node = resolve(node);
  }
  std::string kw = best ? KeywordOf(best->description) : "";
  if (!kw.empty()) rel += "/" + kw;
  out.schema_path = rel;
  if (out.message.size() > 1000) out.message.resize(1000);
  return out;
}

std::optional<ValidationError> SpecRegistry::ValidateParams(const std::string& method,
                                                            const json& params) const {
  auto it = params_ref_.find(method);
  if (it == params_ref_.end()) return ValidationError{"", "", "unknown method " + method};
  return Validate(CompileRef(it->second), params);
}

std::optional<ValidationError> SpecRegistry::ValidateResult(const std::string& method,
                                                            const json& result) const {
  auto it = result_ref_.find(method);
  if (it == result_ref_.end()) return ValidationError{"", "", "method has no result: " + method};
  return Validate(CompileRef(it->second), result);
}

std::optional<ValidationError> SpecRegistry::ValidateEvent(const std::string& type,
                                                           const json& data) const {
  auto it = event_ref_.find(type);
  if (it == event_ref_.end()) return ValidationError{"", "", "unknown event type " + type};
  return Validate(CompileRef(it->second), data);
}

const std::vector<std::string>& SpecRegistry::RolesFor(const std::string& method) const {
  static const std::vector<std::string> kNone;
  auto it = roles_.find(method);
  return it == roles_.end() ? kNone : it->second;
}

std::optional<ValidationError> SpecRegistry::ValidateResponse(const json& response) const {
  static const std::string kBody = "schemas/envelope.json#/definitions/ResponseBody";
  static const std::string kSuccess = "schemas/envelope.json#/definitions/SuccessResponse";
  static const std::string kError = "schemas/envelope.json#/definitions/ErrorResponse";
  const std::string* ref = &kBody;
  if (response.is_object()) {
    const bool result = response.contains("result");
    const bool error = response.contains("error");
    if (result != error) ref = result ? &kSuccess : &kError;
  }
  return ValidateRef(*ref, response);
}

std::optional<ValidationError> SpecRegistry::ValidateRef(const std::string& ref,
                                                         const json& value) const {
  std::string bundled = BundledRef("openrpc.json", ref);
  if (const Compiled* pre = CompileRef(bundled)) return Validate(pre, value);
  Compiled c;
  try {
    json root = bundle_;
    root["$ref"] = bundled;
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(root);
    parser.populateSchema(adapter, c.schema);
  } catch (const std::exception& e) {
    return ValidationError{"", ref, std::string("cannot compile schema: ") + e.what()};
  }
  c.ref = bundled;
  try {
    c.root = &bundle_.at(json::json_pointer(bundled.substr(1)));
  } catch (const std::exception& e) {
    return ValidationError{"", ref, std::string("no such schema: ") + e.what()};
  }
  return Validate(&c, value);
}

}  // namespace assent::spec
