#include "client/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/json_members.h"
#include "client/remote_service.h"
#include "daemon/files.h"

namespace assent::client {

namespace {

constexpr int kConfigVersion = 1;

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::Error(ErrorCode::kNotFound, "no file at " + path);
    return Internal("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status Bad(const std::string& member, const std::string& what) {
  return InvalidParams("config member '" + member + "': " + what, {{"member", member}});
}

bool IsIdentityShape(const ClientIdentity& id) {
  static const std::regex kId("^cl_[0-9a-f]{32}$");
  static const std::regex kKey("^[A-Za-z0-9_-]{43}$");
  return std::regex_match(id.client_id, kId) && std::regex_match(id.client_key, kKey);
}

}  // namespace

std::string AssentHome() {
  if (const char* h = std::getenv("ASSENT_HOME"); h && *h) return h;
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.assent";
  return ".assent";
}
std::string ConfigPath() { return AssentHome() + "/config.json"; }
std::string IdentityPath() { return AssentHome() + "/client.json"; }
std::string DefaultDataDir() { return AssentHome() + "/data"; }

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

bool IsValidToken(const std::string& token) {
  if (token.size() < 16 || token.size() > 256) return false;
  for (unsigned char c : token)
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == '~' || c == '-')) return false;
  return true;
}

Result<ClientConfig> ParseClientConfig(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidParams("config is not valid JSON");
  if (!j.is_object()) return InvalidParams("config must be a JSON object");
  static const std::set<std::string> kKnown = {
      "version", "mode", "server", "data_dir", "agent_token", "admin_token_file",
      "approver_token_file", "client_kind", "client_name"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kKnown.count(it.key())) return Bad(it.key(), "unknown member");
  if (!j.contains("version")) return Bad("version", "missing (expected 1)");
  if (!j["version"].is_number_integer() || j["version"].get<int64_t>() != kConfigVersion)
    return Bad("version", "expected 1 (this assent reads config version 1)");

  ClientConfig c;
  auto str = [&](const char* member, std::string* out) -> Status {
    if (!j.contains(member)) return Status::Ok();
    if (!j[member].is_string()) return Bad(member, "must be a string");
    *out = j[member].get<std::string>();
    return Status::Ok();
  };
  ASSENT_RETURN_IF_ERROR(str("mode", &c.mode));
  ASSENT_RETURN_IF_ERROR(str("server", &c.server));
  ASSENT_RETURN_IF_ERROR(str("data_dir", &c.data_dir));
  ASSENT_RETURN_IF_ERROR(str("agent_token", &c.agent_token));
  ASSENT_RETURN_IF_ERROR(str("admin_token_file", &c.admin_token_file));
  ASSENT_RETURN_IF_ERROR(str("approver_token_file", &c.approver_token_file));
  ASSENT_RETURN_IF_ERROR(str("client_kind", &c.client_kind));
  ASSENT_RETURN_IF_ERROR(str("client_name", &c.client_name));

  if (c.mode != "client" && c.mode != "standalone")
    return Bad("mode", "'" + c.mode + "' is not a mode (expected client or standalone)");
  if (!c.server.empty()) {
    std::string why;
    if (!ParseServerAddress(c.server, &why)) return Bad("server", why);
  }
  if (c.data_dir.empty()) c.data_dir = DefaultDataDir();
  if (c.data_dir[0] != '/') return Bad("data_dir", "must be an absolute path");
  if (!c.agent_token.empty() && !IsValidToken(c.agent_token))
    return Bad("agent_token", "not a token (expected 16..256 of A-Z a-z 0-9 _ . ~ -)");
  for (const char* m : {"admin_token_file", "approver_token_file"}) {
    const std::string& v = j.contains(m) ? j[m].get_ref<const std::string&>() : "";
    if (!v.empty() && v[0] != '/') return Bad(m, "must be an absolute path");
  }
  if (c.client_kind != "agent" && c.client_kind != "script" && c.client_kind != "cli")
    return Bad("client_kind", "'" + c.client_kind + "' (expected agent, script or cli)");
  if (c.client_name.size() > 128) return Bad("client_name", "longer than 128 bytes");
  return c;
}

std::string SerializeClientConfig(const ClientConfig& c) {
  json j = {{"version", kConfigVersion}, {"mode", c.mode}, {"data_dir", c.data_dir}};
  if (!c.server.empty()) j["server"] = c.server;
  if (!c.agent_token.empty()) j["agent_token"] = c.agent_token;
  if (!c.admin_token_file.empty()) j["admin_token_file"] = c.admin_token_file;
  if (!c.approver_token_file.empty()) j["approver_token_file"] = c.approver_token_file;
  j["client_kind"] = c.client_kind;
  if (!c.client_name.empty()) j["client_name"] = c.client_name;
  return j.dump(2) + "\n";
}

Result<ClientConfig> LoadClientConfig(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  auto c = ParseClientConfig(*text);
  if (!c.ok())
    return Status::Error(c.status().code(), path + ": " + c.status().message(),
                         c.status().data());
  return c;
}

Status SaveClientConfig(const std::string& path, const ClientConfig& config) {
  return daemon::WriteFileAtomic(path, SerializeClientConfig(config), 0600);
}

Result<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::string t = *text;
  size_t b = t.find_first_not_of(" \t\r\n");
  size_t e = t.find_last_not_of(" \t\r\n");
  t = b == std::string::npos ? "" : t.substr(b, e - b + 1);
  if (!IsValidToken(t))
    return InvalidParams(path + " does not hold a token (expected one line of 16..256 "
                         "characters from A-Z a-z 0-9 _ . ~ -)");
  return t;
}

std::map<std::string, ClientIdentity> IdentityStore::ReadAll() const {
  std::map<std::string, ClientIdentity> out;
  auto text = ReadWholeFile(path_);
  if (!text.ok()) return out;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("identities") || !j["identities"].is_object()) return out;
  for (auto it = j["identities"].begin(); it != j["identities"].end(); ++it) {
    if (!it->is_object()) continue;
    ClientIdentity id{StrMember(*it, "client_id"), StrMember(*it, "client_key")};
    if (IsIdentityShape(id)) out[it.key()] = id;
  }
  return out;
}

std::optional<ClientIdentity> IdentityStore::Get(const std::string& endpoint) const {
  auto all = ReadAll();
  auto it = all.find(endpoint);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

Status IdentityStore::Put(const std::string& endpoint, const ClientIdentity& identity) const {
  auto all = ReadAll();
  all[endpoint] = identity;
  json j = {{"version", 1}, {"identities", json::object()}};
  for (const auto& [k, v] : all)
    j["identities"][k] = {{"client_id", v.client_id}, {"client_key", v.client_key}};
  std::string dir = path_.substr(0, path_.find_last_of('/'));
  if (!dir.empty() && dir != path_) {
    Status st = daemon::EnsurePrivateDir(dir);
    if (!st.ok()) return st;
  }
  return daemon::WriteFileAtomic(path_, j.dump(2) + "\n", 0600);
}

}  // namespace assent::client
