// CliContext: what every command needs — global options, the loaded configuration, the
// right token for the command's role, a Service in the configured mode, the client
// identity, and uniform output (JSON or human) and failure reporting.
//
// Token selection (the role a command acts as):
//   1. --token-file FILE (or ASSENT_TOKEN_FILE) — always wins;
//   2. --as ROLE, else the command's default role: admin → the config's
//      admin_token_file, approver → approver_token_file, agent → the config's
//      agent_token (none on the Unix socket is fine: the daemon treats it as an agent).
// A command that needs admin or approver fails before any call when no token for that
// role is available, and says how to pass one.
//
// Thread safety: used by the main thread; the Service it opens is thread-safe.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/config.h"
#include "client/service.h"

namespace assent::cli {

using client::json;

struct GlobalOptions {
  bool json = false;
  std::string server;      // --server: overrides the config's address
  std::string token_file;  // --token-file / ASSENT_TOKEN_FILE
  std::string as_role;     // --as admin|approver|agent
  bool quiet = false;
};

// Raised to stop a command with an exit code after its message was printed.
struct CliExit {
  int code;
};

class CliContext {
 public:
  GlobalOptions options;

  // The configuration, loaded once. Without a config file, commands still work with
  // defaults (client mode, default data dir) — `assent init` is suggested only when a
  // token is needed.
  const client::ClientConfig& Config();
  bool HasConfigFile();

  // Opens a Service acting as `default_role` (overridden by --as / --token-file).
  // Prints the problem and throws CliExit when no usable token exists for the role.
  std::unique_ptr<client::Service> Open(const std::string& default_role);
  // The role the last Open() acts as.
  const std::string& role() const { return role_; }

  // client.hello with the stored identity (minting and storing one on first use), then
  // presents it on every later call. Throws CliExit after printing on failure.
  client::ClientIdentity EnsureIdentity(client::Service& service);

  // Prints a failed call's advice to stderr (or a JSON error object on stdout with
  // --json) and throws CliExit with its exit code.
  [[noreturn]] void Fail(const client::ServiceError& error, const client::Service& service);
  // Prints a message to stderr and throws CliExit(code).
  [[noreturn]] void Die(int code, const std::string& message);

  // Unwraps a reply or fails.
  json Check(client::Reply<json> reply, const client::Service& service) {
    if (!reply.ok()) Fail(reply.error(), service);
    return std::move(reply).value();
  }

  void PrintJson(const json& value);
  // A line on stderr unless --quiet (progress, hints); never secrets.
  void Note(const std::string& line);

 private:
  std::optional<client::ClientConfig> config_;
  bool config_loaded_ = false;
  bool config_file_exists_ = false;
  std::string role_ = "agent";
};

// Prints rows as left-aligned columns (the first row is the header) to stdout.
void PrintTable(const std::vector<std::vector<std::string>>& rows);
// Shortens text to `max` bytes (on a UTF-8 boundary) with "…", one line.
std::string Ellipsize(const std::string& text, size_t max);

// Wipes a token string on scope exit.
class ScopedToken {
 public:
  explicit ScopedToken(std::string t) : token_(std::move(t)) {}
  ~ScopedToken();
  const std::string& get() const { return token_; }

 private:
  std::string token_;
};

}  // namespace assent::cli
