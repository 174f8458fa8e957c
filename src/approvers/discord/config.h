// Discord approver configuration: what the operator gives (flags), checked once at start.
//
// The bot token is a secret (it lets anyone post as the bot): it is read from a file
// that only its owner may read (mode 0600 or stricter; a looser file is refused), kept
// in memory only, never logged, never returned by system.info, and never part of an
// error message. Implements the configuration half of ASSENT-DISC-001/-002/-009 and the
// "never logged" half of ASSENT-DISC-010.
//
// Thread safety: plain values; read-only after start-up.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "base/status.h"

namespace assent::discord {

inline constexpr const char* kDefaultApiBase = "https://discord.com/api/v10";

// Limits of the Discord side, with the reason for each. Values Discord imposes are
// Discord's (docs and OpenAPI document), ours are sized for a phone screen.
// Discord refuses message content above this many characters; we count bytes, which
// can only be more.
inline constexpr int64_t kMessageContentBytesMax = 2000;
// Discord's custom_id limit.
inline constexpr int64_t kCustomIdBytesMax = 100;
// Discord's create-message nonce limit (characters).
inline constexpr int64_t kMessageNonceBytesMax = 25;
// Random bytes in a button nonce (hex-encoded in custom_id): unguessable per request.
inline constexpr int64_t kButtonNonceBytes = 12;
// A snowflake is a 64-bit integer: at most 20 decimal digits.
inline constexpr int64_t kSnowflakeDigitsMax = 20;
// The bot token file: tokens are ~72 bytes; anything much larger is the wrong file.
inline constexpr int64_t kBotTokenFileBytesMax = 4096;

enum class Mode { kInteractions, kReactions };
const char* ModeName(Mode mode);

struct DiscordConfig {
  std::string api_base = kDefaultApiBase;
  std::string bot_token;   // secret: never log, never print
  std::string channel_id;  // snowflake
  std::string public_key;  // 32 raw bytes (Ed25519), from the portal's hex
  std::set<std::string> allowed_users;  // snowflakes
  Mode mode = Mode::kInteractions;
  // Shown on the approval message so the human knows which machine asks.
  std::string host;

  // REST calls: explicit timeouts (no library default is our policy).
  int64_t connect_timeout_ms = 5000;
  int64_t read_timeout_ms = 10000;
  // Outbox retries: capped exponential backoff, dead after max_attempts.
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 60000;
  int64_t max_attempts = 10;
  // How often the worker looks for due rows when nothing wakes it.
  int64_t outbox_poll_ms = 250;
  // Reactions mode: poll interval, doubled while nothing changes, up to the max.
  int64_t reactions_poll_ms = 2000;
  int64_t reactions_poll_max_ms = 15000;
};

// The flag values as main() parsed them (see src/daemon/daemon.h).
struct DiscordFlags {
  std::string api_base;        // "" = kDefaultApiBase
  std::string public_key_hex;  // 64 hex digits
  std::string bot_token_file;
  std::string channel_id;
  std::set<std::string> allowed_users;
  std::string mode = "interactions";
  std::string host;  // "" = gethostname()
};

// True when the operator configured Discord at all (any Discord flag given).
bool DiscordRequested(const DiscordFlags& flags);

// Builds and checks the configuration: reads the token file, decodes the key, checks
// snowflakes, the mode and the base URL. Errors (kInvalidParams) name the flag at fault
// and never contain the token.
Result<DiscordConfig> LoadDiscordConfig(const DiscordFlags& flags);

// Reads a bot token file: refuses a missing file, one readable or writable by group or
// others, an empty or oversized one; trims surrounding whitespace.
Result<std::string> ReadBotTokenFile(const std::string& path);

bool IsSnowflake(const std::string& s);

}  // namespace assent::discord
