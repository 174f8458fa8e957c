// Fuzz harness: configuration parsing — the tokens file (auth::TokenStore::Parse,
// spec/schemas/tokens.json) and assentd's command line (daemon::ParseDaemonArgs).
//
// The first byte picks the target, the rest is its input:
//   0  tokens file text
//   1  tokens round trip: the rest, split on '\n' (at most 8 pieces), are tokens; the
//      harness writes a tokens file of their hashes and looks each one up
//   2  assentd argv: the rest split on NUL ("assentd" is argv[0])
//
// Properties:
//   tokens file: Parse never throws (errors are values, STYLE.md §4); it accepts exactly
//     the valid tokens.json#/definitions/TokensFile documents (the daemon must not run
//     with a tokens file the spec calls invalid — its names end up in audit entries,
//     whose schema has the same pattern), keeping every entry, and refuses the rest with
//     an InvalidParams message; parsing twice gives the same verdict.
//   round trip: a file written with HashForFile parses; Find(token) returns the first
//     entry written for that token, with its name and role; Find of a token not written
//     returns nothing.
//   argv: ParseDaemonArgs never throws or exits; twice gives the same result; an
//     accepted configuration is within the documented ranges (heartbeat 1..3600 s,
//     decision timeouts 1..timeout_s_max, discord mode and log level from their sets).
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "auth/tokens.h"
#include "base/limits.h"
#include "crypto/crypto.h"
#include "daemon/daemon.h"
#include "fuzz_support.h"
#include "spec/registry.h"

namespace {

using assent::fuzz::Shown;
using nlohmann::json;

constexpr char kTokensFileRef[] = "schemas/tokens.json#/definitions/TokensFile";

struct Globals {
  std::unique_ptr<assent::spec::SpecRegistry> registry;
  Globals() {
    FUZZ_CHECK(assent::crypto::Init(), "libsodium did not start");
    auto r = assent::spec::SpecRegistry::LoadEmbedded();
    FUZZ_CHECK(r.ok(), "the embedded spec does not load");
    registry = std::move(*r);
  }
};

const Globals& G() {
  static Globals g;
  return g;
}

assent::Result<assent::auth::TokenStore> ParseTokens(const std::string& text) {
  try {
    return assent::auth::TokenStore::Parse(text);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("TokenStore::Parse threw (the daemon would terminate at "
                                  "start-up): ") + e.what() + " on " + Shown(text));
  }
  return assent::Internal("unreachable");
}

void TokensFile(const std::string& text) {
  auto parsed = ParseTokens(text);
  auto again = ParseTokens(text);
  FUZZ_CHECK(parsed.ok() == again.ok() && (!parsed.ok() || parsed->size() == again->size()),
             "two parses of one tokens file disagree");
  json doc = json::parse(text, nullptr, false);
  auto err = doc.is_discarded()
                 ? std::optional<assent::spec::ValidationError>(
                       assent::spec::ValidationError{"", "", "not JSON"})
                 : G().registry->ValidateRef(kTokensFileRef, doc);
  // Parse and the schema agree both ways, and a refusal is InvalidParams with a message.
  FUZZ_CHECK(!parsed.ok() || !err,
             "TokenStore::Parse accepted a tokens file that tokens.json refuses: " +
                 Shown(text) + " — " + (err ? err->ToJson().dump() : ""));
  FUZZ_CHECK(parsed.ok() || err, "TokenStore::Parse refused a tokens file that tokens.json "
                                 "accepts: " + Shown(text) + " — " + parsed.status().message());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == assent::ErrorCode::kInvalidParams &&
                   !parsed.status().message().empty(),
               "TokenStore::Parse refused a tokens file without an InvalidParams message: " +
                   parsed.status().message());
    return;
  }
  FUZZ_CHECK(parsed->size() == doc["tokens"].size(),
             "TokenStore::Parse kept " + std::to_string(parsed->size()) + " of " +
                 std::to_string(doc["tokens"].size()) + " tokens");
}

void TokensRoundTrip(const std::string& rest) {
  std::vector<std::string> tokens = assent::fuzz::Split(rest, '\n');
  if (tokens.size() > 8) tokens.resize(8);
  const char* roles[] = {"admin", "approver", "agent"};
  json file = {{"version", 1}, {"tokens", json::array()}};
  for (size_t i = 0; i < tokens.size(); ++i)
    file["tokens"].push_back({{"name", "t" + std::to_string(i)},
                              {"role", roles[i % 3]},
                              {"hash", assent::auth::TokenStore::HashForFile(tokens[i])}});
  auto store = ParseTokens(file.dump());
  FUZZ_CHECK(store.ok(), "a tokens file written with HashForFile does not parse: " +
                             store.status().message());
  for (size_t i = 0; i < tokens.size(); ++i) {
    size_t first = i;
    for (size_t j = 0; j < i; ++j)
      if (tokens[j] == tokens[i]) {
        first = j;
        break;
      }
    auto e = store->Find(tokens[i]);
    FUZZ_CHECK(e && e->name == "t" + std::to_string(first) &&
                   std::string(assent::rpc::RoleName(e->role)) == roles[first % 3],
               "Find(token " + std::to_string(i) + ") does not return its first entry");
  }
  const std::string stranger = rest + "\x01stranger";
  bool written = false;
  for (const auto& t : tokens) written = written || t == stranger;
  FUZZ_CHECK(written || !store->Find(stranger), "Find matched a token never written");
}

struct ArgsResult {
  bool ok;
  int exit_code;
  assent::daemon::DaemonConfig config;
};

ArgsResult ParseArgs(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;  // CLI11 may not write, but argv is char**
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ArgsResult r{false, -1, {}};
  // Usage errors and --help print; keep the fuzzer's output readable.
  std::streambuf* out = std::cout.rdbuf(nullptr);
  std::streambuf* err = std::cerr.rdbuf(nullptr);
  try {
    r.ok = assent::daemon::ParseDaemonArgs(static_cast<int>(copy.size()), argv.data(),
                                           &r.config, &r.exit_code);
  } catch (const std::exception& e) {
    std::cout.rdbuf(out);
    std::cerr.rdbuf(err);
    FUZZ_CHECK(false, std::string("ParseDaemonArgs threw: ") + e.what());
  }
  std::cout.rdbuf(out);
  std::cerr.rdbuf(err);
  return r;
}

bool Same(const assent::daemon::DaemonConfig& a, const assent::daemon::DaemonConfig& b) {
  return a.data_dir == b.data_dir && a.listen == b.listen && a.tokens_file == b.tokens_file &&
         a.allowed_uids == b.allowed_uids && a.validate_responses == b.validate_responses &&
         a.unauthenticated_metrics == b.unauthenticated_metrics &&
         a.heartbeat_s == b.heartbeat_s && a.timeout_interactive_s == b.timeout_interactive_s &&
         a.timeout_unattended_s == b.timeout_unattended_s &&
         a.discord_api_base == b.discord_api_base &&
         a.discord_public_key == b.discord_public_key &&
         a.discord_bot_token_file == b.discord_bot_token_file &&
         a.discord_channel_id == b.discord_channel_id &&
         a.discord_allowed_users == b.discord_allowed_users &&
         a.discord_mode == b.discord_mode && a.log_level == b.log_level;
}

void DaemonArgs(const std::string& rest) {
  std::vector<std::string> args = {"assentd"};
  for (auto& a : assent::fuzz::Split(rest, '\0')) args.push_back(std::move(a));
  if (args.size() > 64) args.resize(64);
  ArgsResult first = ParseArgs(args);
  ArgsResult second = ParseArgs(args);
  FUZZ_CHECK(first.ok == second.ok && first.exit_code == second.exit_code &&
                 (!first.ok || Same(first.config, second.config)),
             "two parses of one command line disagree");
  if (!first.ok) {
    FUZZ_CHECK(first.exit_code == 0 || first.exit_code == 2,
               "a refused command line exits with " + std::to_string(first.exit_code));
    return;
  }
  const auto& c = first.config;
  using namespace assent::limits;
  FUZZ_CHECK(c.heartbeat_s >= kHeartbeatSecondsMin && c.heartbeat_s <= 3600,
             "heartbeat_s out of range: " + std::to_string(c.heartbeat_s));
  FUZZ_CHECK(c.timeout_interactive_s >= 1 && c.timeout_interactive_s <= kTimeoutSecondsMax,
             "timeout_interactive_s out of range: " + std::to_string(c.timeout_interactive_s));
  FUZZ_CHECK(c.timeout_unattended_s >= 1 && c.timeout_unattended_s <= kTimeoutSecondsMax,
             "timeout_unattended_s out of range: " + std::to_string(c.timeout_unattended_s));
  FUZZ_CHECK(c.discord_mode == "interactions" || c.discord_mode == "reactions",
             "discord_mode accepted: " + Shown(c.discord_mode));
  FUZZ_CHECK(c.log_level == "debug" || c.log_level == "info" || c.log_level == "warn" ||
                 c.log_level == "error",
             "log_level accepted: " + Shown(c.log_level));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  G();
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: TokensFile(rest); break;
    case 1: TokensRoundTrip(rest); break;
    default: DaemonArgs(rest); break;
  }
  return 0;
}
