#include "cli/context.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/exit_codes.h"
#include "client/daemon_files.h"
#include "client/local_service.h"
#include "client/remote_service.h"
#include "crypto/crypto.h"

namespace assent::cli {

using client::ClientConfig;
using client::ServiceError;

ScopedToken::~ScopedToken() { crypto::Wipe(token_); }

bool CliContext::HasConfigFile() {
  Config();
  return config_file_exists_;
}

const ClientConfig& CliContext::Config() {
  if (config_loaded_) return *config_;
  config_loaded_ = true;
  std::string path = client::ConfigPath();
  auto loaded = client::LoadClientConfig(path);
  if (loaded.ok()) {
    config_file_exists_ = true;
    config_ = *loaded;
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      Note("warning: " + path + " is readable by other users (it holds the agent token); "
           "run `chmod 600 " + path + "`");
  } else if (loaded.status().code() == ErrorCode::kNotFound) {
    config_ = ClientConfig{};
    config_->data_dir = client::DefaultDataDir();
  } else {
    Die(kExitUsage, "assent: " + loaded.status().message() +
                        " — fix the file, or re-create it with `assent init --force`.");
  }
  if (const char* env = std::getenv("ASSENT_SERVER"); env && *env && options.server.empty())
    options.server = env;
  if (const char* env = std::getenv("ASSENT_TOKEN_FILE"); env && *env && options.token_file.empty())
    options.token_file = env;
  return *config_;
}

std::unique_ptr<client::Service> CliContext::Open(const std::string& default_role) {
  const ClientConfig& c = Config();
  role_ = options.as_role.empty() ? default_role : options.as_role;
  std::string token;
  if (!options.token_file.empty()) {
    auto t = client::ReadTokenFile(options.token_file);
    if (!t.ok()) Die(kExitAuth, "assent: " + t.status().message());
    token = *t;
    // With an explicit token the daemon decides the role; we only label our messages.
    if (options.as_role.empty()) role_ = "token";
  } else if (role_ == "agent") {
    token = c.agent_token;
  } else {
    const std::string& file = role_ == "admin" ? c.admin_token_file : c.approver_token_file;
    if (file.empty())
      Die(kExitAuth,
          "assent: this needs the " + role_ + " token — pass it with --token-file FILE "
          "(`assent init` printed it once), or record a file in the config with "
          "`assent init --" + role_ + "-token-file FILE`.");
    auto t = client::ReadTokenFile(file);
    if (!t.ok())
      Die(kExitAuth, "assent: cannot use the " + role_ + " token: " + t.status().message());
    token = *t;
  }
  ScopedToken scoped(std::move(token));

  std::string server_override = options.server;
  if (c.mode == "standalone" && server_override.empty()) {
    auto local = client::OpenLocalService(c.data_dir, scoped.get());
    if (!local.ok()) {
      const ServiceError& e = local.error();
      Die(ExitCodeFor(e) == kExitFailure ? kExitFailure : ExitCodeFor(e),
          "assent: standalone mode: " + e.message);
    }
    return std::move(local).value();
  }
  client::ServerAddress address = client::ResolveServerAddress(c, server_override);
  if (address.kind == client::ServerAddress::Kind::kTcp && scoped.get().empty())
    Die(kExitAuth, "assent: TCP needs a token, and the config has no agent token — run "
                   "`assent init`, or pass --token-file FILE.");
  return std::make_unique<client::RemoteService>(address, scoped.get());
}

client::ClientIdentity CliContext::EnsureIdentity(client::Service& service) {
  const ClientConfig& c = Config();
  client::IdentityStore store(client::IdentityPath());
  std::optional<client::ClientIdentity> previous = store.Get(service.Endpoint());
  std::string name = c.client_name.empty() ? "assent@" + client::HostName() : c.client_name;
  json hello = Check(service.Hello(c.client_kind, name, previous), service);
  client::ClientIdentity id;
  id.client_id = hello.value("client_id", "");
  if (hello.value("resumed", false) && previous && previous->client_id == id.client_id) {
    id.client_key = previous->client_key;
  } else {
    id.client_key = hello.value("client_key", "");
    if (id.client_key.empty())
      Die(kExitFailure, "assent: client.hello minted an identity without a key");
    if (Status st = store.Put(service.Endpoint(), id); !st.ok())
      Note("warning: cannot save the client identity (" + st.message() +
           "); the next run starts a new one");
  }
  service.SetIdentity(id);
  return id;
}

void CliContext::Fail(const ServiceError& error, const client::Service& service) {
  int code = ExitCodeFor(error);
  std::string advice = Advice(error, service.Endpoint());
  if (options.json) {
    json out = {{"error", {{"name", error.name},
                           {"code", error.code},
                           {"message", error.message},
                           {"advice", advice},
                           {"exit_code", code}}}};
    if (!error.data.is_null()) out["error"]["data"] = error.data;
    PrintJson(out);
  }
  std::cerr << "assent: " << advice << "\n";
  throw CliExit{code};
}

void CliContext::Die(int code, const std::string& message) {
  if (options.json) PrintJson({{"error", {{"message", message}, {"exit_code", code}}}});
  std::cerr << message << "\n";
  throw CliExit{code};
}

void CliContext::PrintJson(const json& value) {
  std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

void CliContext::Note(const std::string& line) {
  if (!options.quiet) std::cerr << line << "\n";
}

namespace {

// Display width of UTF-8 text: one column per code point (good enough for tables).
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;
  return w;
}

}  // namespace

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    std::cout << line << "\n";
  }
  std::cout.flush();
}

std::string Ellipsize(const std::string& text, size_t max) {
  std::string one_line;
  for (char c : text) one_line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (Width(one_line) <= max) return one_line;
  std::string out;
  size_t w = 0;
  for (size_t i = 0; i < one_line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(one_line[i]);
    if ((c & 0xC0) != 0x80) {
      if (w + 1 >= max) break;
      ++w;
    }
    out += one_line[i];
  }
  return out + "…";
}

}  // namespace assent::cli
