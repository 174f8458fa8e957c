// Client configuration: where the `assent` CLI keeps its settings and identity.
//
// Layout (ASSENT_HOME overrides ~/.assent):
//   ASSENT_HOME/config.json  — this ClientConfig, mode 0600 (it holds the agent token)
//   ASSENT_HOME/client.json  — client identities minted by client.hello, mode 0600
//   ASSENT_HOME/data/        — the daemon's data directory by default
// The admin and approver tokens are never stored here: only the paths of files the user
// chose to write them to (see `assent init`).
//
// Parsing is strict: unknown members, wrong types and malformed values are errors that
// name the member, so a typo never silently falls back to a default.
//
// Thread safety: plain values and functions without shared state.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/status.h"
#include "client/service.h"

namespace assent::client {

// ASSENT_HOME, else $HOME/.assent.
std::string AssentHome();
std::string ConfigPath();     // AssentHome()/config.json
std::string IdentityPath();   // AssentHome()/client.json
std::string DefaultDataDir(); // AssentHome()/data

struct ClientConfig {
  std::string mode = "client";  // client | standalone
  // "" = find the daemon through DATA_DIR/assentd.json, else DATA_DIR/run/assentd.sock.
  std::string server;
  std::string data_dir;  // absolute
  std::string agent_token;
  std::string admin_token_file;     // "" = none recorded
  std::string approver_token_file;  // "" = none recorded
  std::string client_kind = "agent";  // agent | script | cli (a policy filter only)
  std::string client_name;            // "" = "assent@<hostname>"
};

// Parses config.json's text. Errors are -32602-style Status values whose message names
// the offending member and says what is expected.
Result<ClientConfig> ParseClientConfig(const std::string& text);
std::string SerializeClientConfig(const ClientConfig& config);
// Reads ConfigPath(); a missing file is kNotFound (the caller suggests `assent init`).
Result<ClientConfig> LoadClientConfig(const std::string& path);
Status SaveClientConfig(const std::string& path, const ClientConfig& config);

// Token grammar of spec/PROTOCOL.md: ^[A-Za-z0-9_.~-]{16,256}$.
bool IsValidToken(const std::string& token);
// Reads a token file (one token, surrounding whitespace ignored) and checks the grammar.
Result<std::string> ReadTokenFile(const std::string& path);

// Stored client identities, keyed by server endpoint ("unix:/…", "tcp://…", "local:/…"),
// so that one CLI talking to two daemons keeps one originator identity on each.
class IdentityStore {
 public:
  explicit IdentityStore(std::string path) : path_(std::move(path)) {}
  std::optional<ClientIdentity> Get(const std::string& endpoint) const;
  // Rewrites the file atomically (0600), keeping the other endpoints' identities.
  Status Put(const std::string& endpoint, const ClientIdentity& identity) const;

 private:
  std::map<std::string, ClientIdentity> ReadAll() const;
  std::string path_;
};

// The hostname, for default client names.
std::string HostName();

}  // namespace assent::client
