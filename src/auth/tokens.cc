#include "auth/tokens.h"

#include <fstream>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/crypto.h"
#include "base/fault.h"
#include "base/limits.h"
#include "spec/registry.h"

namespace assent::auth {

using nlohmann::json;

namespace {

constexpr char kTokensFileRef[] = "schemas/tokens.json#/definitions/TokensFile";

// The embedded spec (the process's shared copy); nullptr if it does not load (a build
// error).
const spec::SpecRegistry* Spec() {
  auto r = spec::SpecRegistry::Shared();
  return r.ok() ? *r : nullptr;
}

// A short, printable rendering of a JSON value for messages.
std::string Shown(const json* v) {
  if (!v) return "nothing";
  std::string s = v->dump(-1, ' ', true, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// Members of `o` that `allowed` does not name, as "\"a\", \"b\"".
std::string Unknown(const json& o, std::initializer_list<const char*> allowed) {
  std::string out;
  for (auto it = o.begin(); it != o.end(); ++it) {
    bool known = false;
    for (const char* a : allowed) known = known || it.key() == a;
    const json key = it.key();
    if (!known) out += (out.empty() ? "" : ", ") + Shown(&key);
  }
  return out;
}

std::string Plural(const std::string& list) {
  return list.find("\", \"") == std::string::npos ? "" : "s";
}

// A specific message for the schema's first complaint: the member at fault, as
// tokens[3].name, and what it must be. The schema decides; this only explains.
std::string Explain(const json& doc, const spec::ValidationError& err) {
  json::json_pointer ptr;
  try {
    ptr = json::json_pointer(err.instance_path);
  } catch (const std::exception&) {
    return "tokens file does not match tokens.json: " + err.message;
  }
  std::vector<std::string> parts;
  for (json::json_pointer p = ptr; !p.empty(); p = p.parent_pointer())
    parts.insert(parts.begin(), p.back());
  const json* at = doc.contains(ptr) ? &doc[ptr] : nullptr;
  const json last = parts.empty() ? json() : json(parts.back());  // a member's name
  if (parts.empty()) {
    if (!doc.is_object()) return "tokens file must be an object with \"version\" and \"tokens\"";
    if (!doc.contains("version")) return "tokens file has no \"version\" (must be 1)";
    if (!doc.contains("tokens")) return "tokens file has no \"tokens\" array";
    std::string unknown = Unknown(doc, {"version", "tokens"});
    if (!unknown.empty())
      return "tokens file has unknown member" + Plural(unknown) + " " + unknown +
             " (only \"version\" and \"tokens\")";
  } else if (parts.size() == 1 && parts[0] != "version" && parts[0] != "tokens") {
    return "tokens file has unknown member " + Shown(&last) +
           " (only \"version\" and \"tokens\")";
  } else if (parts.size() == 1 && parts[0] == "version") {
    return "tokens file \"version\" must be the number 1, not " + Shown(at);
  } else if (parts.size() == 1 && parts[0] == "tokens") {
    if (at && at->is_array())
      return "tokens file \"tokens\" has " + std::to_string(at->size()) + " entries, at most 1024";
    return "tokens file \"tokens\" must be an array, not " + Shown(at);
  } else if (parts[0] == "tokens") {
    const std::string where = "tokens[" + parts[1] + "]";
    if (parts.size() == 2) {
      if (!at || !at->is_object()) return where + " must be an object with name, role and hash";
      for (const char* m : {"name", "role", "hash"})
        if (!at->contains(m)) return where + " has no \"" + m + "\"";
      std::string unknown = Unknown(*at, {"name", "role", "hash"});
      if (!unknown.empty())
        return where + " has unknown member" + Plural(unknown) + " " + unknown +
               " (only name, role and hash)";
    } else if (parts.size() == 3) {
      const std::string& m = parts[2];
      if (m == "name")
        return where + ".name must be 1 to 64 letters, digits, '_', '.' or '-' "
                       "(^[A-Za-z0-9_.-]{1,64}$), not " + Shown(at);
      if (m == "role") return where + ".role must be admin, approver or agent, not " + Shown(at);
      if (m == "hash")
        return where + ".hash must be \"blake2b256:\" and 64 lower-case hex digits, not " +
               Shown(at);
      return where + " has unknown member " + Shown(&last) + " (only name, role and hash)";
    }
  }
  return "tokens file does not match tokens.json at " + err.instance_path + ": " + err.message;
}

// The string member `key` of `o`, or nullptr; never throws.
const std::string* Str(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : it->get_ptr<const std::string*>();
}

}  // namespace

Result<TokenStore> TokenStore::Parse(const std::string& text) {
  // Errors are values (STYLE.md): nothing below may throw, whatever the file holds.
  // The spec's schema (tokens.json#/definitions/TokensFile) decides what is valid.
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return InvalidParams("tokens file is not valid JSON");
  const spec::SpecRegistry* registry = Spec();
  if (!registry) return Internal("the embedded spec does not load: cannot check the tokens file");
  if (auto err = registry->ValidateRef(kTokensFileRef, doc)) {
    try {
      return InvalidParams(Explain(doc, *err));
    } catch (const std::exception&) {  // Explain only reads; this is belt and braces
      return InvalidParams("tokens file does not match tokens.json at " + err->instance_path +
                           ": " + err->message);
    }
  }
  TokenStore store;
  auto tokens_it = doc.find("tokens");
  if (tokens_it == doc.end() || !tokens_it->is_array())
    return Internal("the tokens file passed its schema without a \"tokens\" array");
  const json& tokens = *tokens_it;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const json& t = tokens[i];
    const std::string where = "tokens[" + std::to_string(i) + "]";
    // Valid by the schema; checked again without throwing all the same.
    const std::string* name = Str(t, "name");
    const std::string* role = Str(t, "role");
    const std::string* hash = Str(t, "hash");
    if (!name || !role || !hash) return Internal(where + " passed the schema without strings");
    TokenEntry e;
    e.name = *name;
    if (*role == "admin") e.role = rpc::Role::kAdmin;
    else if (*role == "approver") e.role = rpc::Role::kApprover;
    else if (*role == "agent") e.role = rpc::Role::kAgent;
    else return InvalidParams(where + ".role must be admin, approver or agent");
    const std::string prefix = "blake2b256:";
    auto raw = hash->rfind(prefix, 0) == 0 ? crypto::HexDecode(hash->substr(prefix.size()))
                                          : std::nullopt;
    if (!raw || raw->size() != crypto::kHashBytes)
      return InvalidParams(where + ".hash must be \"blake2b256:\" and 64 lower-case hex digits");
    e.hash = *raw;
    store.entries_.push_back(std::move(e));
  }
  return store;
}

Result<TokenStore> TokenStore::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read tokens file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = Parse(ss.str());
  if (!r.ok())
    return Status::Error(r.status().code(), path + ": " + r.status().message());
  return r;
}

std::optional<TokenEntry> TokenStore::Find(const std::string& token) const {
  std::string presented = crypto::Blake2b256(token);
  std::optional<TokenEntry> found;
  for (const auto& e : entries_) {
    // No early exit: every entry is compared.
    if (crypto::ConstantTimeEqual(presented, e.hash) && !found) found = e;
  }
  if (!found && ASSENT_FAULT("token-prefix-match") && token.size() > 16) return Find(token.substr(0, token.size() - 1));
  return found;
}

std::string TokenStore::HashForFile(const std::string& token) {
  return "blake2b256:" + crypto::Blake2b256Hex(token);
}

void Lockout::Prune(TimeMs now) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto& st = it->second;
    while (!st.failures.empty() &&
           st.failures.front() <= now - limits::kAuthFailureWindowSeconds * 1000)
      st.failures.pop_front();
    if (st.failures.empty() && st.locked_until_ms <= now) it = peers_.erase(it);
    else ++it;
  }
}

int64_t Lockout::LockedForSeconds(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  TimeMs now = clock_.NowMs();
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.locked_until_ms <= now) return 0;
  return (it->second.locked_until_ms - now + 999) / 1000;
}

bool Lockout::RecordFailure(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  TimeMs now = clock_.NowMs();
  // Bound memory: forget peers whose failures have aged out.
  if (peers_.size() > 4096) Prune(now);
  auto& st = peers_[peer];
  while (!st.failures.empty() &&
         st.failures.front() <= now - limits::kAuthFailureWindowSeconds * 1000)
    st.failures.pop_front();
  st.failures.push_back(now);
  if (static_cast<int64_t>(st.failures.size()) >= limits::kAuthFailuresMax &&
      st.locked_until_ms <= now) {
    st.locked_until_ms = now + limits::kLockoutSeconds * 1000;
    st.failures.clear();
    return true;
  }
  return false;
}

}  // namespace assent::auth
