#include "approvers/discord/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/crypto.h"

namespace assent::discord {

const char* ModeName(Mode mode) {
  return mode == Mode::kReactions ? "reactions" : "interactions";
}

bool IsSnowflake(const std::string& s) {
  if (s.empty() || s.size() > static_cast<size_t>(kSnowflakeDigitsMax)) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool DiscordRequested(const DiscordFlags& f) {
  return !f.public_key_hex.empty() || !f.bot_token_file.empty() || !f.channel_id.empty() ||
         !f.allowed_users.empty();
}

Result<std::string> ReadBotTokenFile(const std::string& path) {
  if (path.empty()) return InvalidParams("--discord-bot-token-file is required");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return InvalidParams("cannot open the Discord bot token file " + path + ": " +
                         std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidParams("the Discord bot token file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return InvalidParams("the Discord bot token file " + path +
                         " is readable or writable by others; chmod 600 it");
  }
  std::string data;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      crypto::Wipe(data);
      return InvalidParams("cannot read the Discord bot token file " + path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > static_cast<size_t>(kBotTokenFileBytesMax)) {
      ::close(fd);
      crypto::Wipe(data);
      return InvalidParams("the Discord bot token file " + path + " is too large");
    }
  }
  ::close(fd);
  explicit_bzero(buf, sizeof buf);
  size_t b = data.find_first_not_of(" \t\r\n");
  size_t e = data.find_last_not_of(" \t\r\n");
  std::string token = b == std::string::npos ? "" : data.substr(b, e - b + 1);
  crypto::Wipe(data);
  if (token.empty()) return InvalidParams("the Discord bot token file " + path + " is empty");
  for (unsigned char c : token) {
    // A token goes into an HTTP header: control characters would split it.
    if (c < 0x21 || c > 0x7e) {
      crypto::Wipe(token);
      return InvalidParams("the Discord bot token file " + path +
                           " holds characters a token cannot have");
    }
  }
  return token;
}

Result<DiscordConfig> LoadDiscordConfig(const DiscordFlags& f) {
  DiscordConfig c;
  c.api_base = f.api_base.empty() ? kDefaultApiBase : f.api_base;
  while (!c.api_base.empty() && c.api_base.back() == '/') c.api_base.pop_back();
  if (c.api_base.rfind("https://", 0) != 0 && c.api_base.rfind("http://", 0) != 0)
    return InvalidParams("--discord-api-base must start with https:// or http://");

  if (f.public_key_hex.empty() && f.mode != "reactions")
    return InvalidParams("--discord-public-key is required in interactions mode");
  if (!f.public_key_hex.empty()) {
    auto key = crypto::HexDecode(f.public_key_hex);
    if (!key || key->size() != crypto::kSignPublicKeyBytes)
      return InvalidParams("--discord-public-key must be 64 hex digits (32 bytes)");
    c.public_key = *key;
  }

  auto token = ReadBotTokenFile(f.bot_token_file);
  if (!token.ok()) return token.status();
  c.bot_token = std::move(token).value();

  if (!IsSnowflake(f.channel_id))
    return InvalidParams("--discord-channel-id must be a Discord snowflake (digits)");
  c.channel_id = f.channel_id;

  if (f.allowed_users.empty())
    return InvalidParams("at least one --discord-allow-user is required");
  for (const auto& u : f.allowed_users) {
    if (!IsSnowflake(u))
      return InvalidParams("--discord-allow-user must be a Discord user id (digits)");
  }
  c.allowed_users = f.allowed_users;

  if (f.mode == "interactions" || f.mode.empty()) {
    c.mode = Mode::kInteractions;
  } else if (f.mode == "reactions") {
    c.mode = Mode::kReactions;
  } else {
    return InvalidParams("--discord-mode must be interactions or reactions");
  }

  c.host = f.host;
  if (c.host.empty()) {
    char name[256] = {0};
    if (::gethostname(name, sizeof name - 1) == 0) c.host = name;
    if (c.host.empty()) c.host = "unknown host";
  }
  return c;
}

}  // namespace assent::discord
