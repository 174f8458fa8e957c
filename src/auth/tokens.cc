#include "auth/tokens.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "crypto/crypto.h"
#include "base/fault.h"
#include "base/limits.h"

namespace assent::auth {

using nlohmann::json;

Result<TokenStore> TokenStore::Parse(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return InvalidParams("tokens file is not valid JSON");
  if (!doc.is_object() || !doc.contains("tokens") || !doc["tokens"].is_array())
    return InvalidParams("tokens file must be an object with a \"tokens\" array");
  if (doc.value("version", 0) != 1)
    return InvalidParams("tokens file \"version\" must be 1");
  TokenStore store;
  for (size_t i = 0; i < doc["tokens"].size(); ++i) {
    const json& t = doc["tokens"][i];
    std::string where = "tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() ||
        !t.contains("role") || !t["role"].is_string() || !t.contains("hash") ||
        !t["hash"].is_string())
      return InvalidParams(where + " needs string fields name, role and hash");
    TokenEntry e;
    e.name = t["name"];
    std::string role = t["role"];
    if (role == "admin") e.role = rpc::Role::kAdmin;
    else if (role == "approver") e.role = rpc::Role::kApprover;
    else if (role == "agent") e.role = rpc::Role::kAgent;
    else return InvalidParams(where + ".role must be admin, approver or agent");
    std::string hash = t["hash"];
    const std::string prefix = "blake2b256:";
    if (hash.rfind(prefix, 0) != 0)
      return InvalidParams(where + ".hash must start with \"blake2b256:\"");
    auto raw = crypto::HexDecode(hash.substr(prefix.size()));
    if (!raw || raw->size() != crypto::kHashBytes)
      return InvalidParams(where + ".hash must be 64 hex digits after the prefix");
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
