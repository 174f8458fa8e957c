// Token store and lockout: who may call, and who has failed too often.
//
// Tokens are never stored: the tokens file holds BLAKE2b-256 hashes
// ({"version":1,"tokens":[{"name","role","hash":"blake2b256:<hex>"}]}, spec/schemas/
// tokens.json). Lookup hashes the presented token and compares it with EVERY stored hash
// in constant time, with no early exit, so timing does not reveal which hash matched.
//
// Lockout (ASSENT-AUTH): kAuthFailuresMax failures within kAuthFailureWindowSeconds from
// one peer lock that peer out for kLockoutSeconds.
//
// Thread safety: TokenStore is immutable after Load; Lockout is internally locked.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "rpc/context.h"

namespace assent::auth {

struct TokenEntry {
  std::string name;
  rpc::Role role;
  std::string hash;  // 32 raw bytes
};

class TokenStore {
 public:
  // Parses a tokens file's contents. Valid is what tokens.json#/definitions/TokensFile
  // says (checked with the embedded spec's compiled schema, loaded once on first use:
  // immutable build-time data); errors are InvalidParams values naming the member at
  // fault ("tokens[3].name must be …", "\"version\" must be the number 1, …") and
  // nothing throws, whatever the text.
  static Result<TokenStore> Parse(const std::string& text);
  // Parse on a file's contents; errors start with the file's path.
  static Result<TokenStore> LoadFile(const std::string& path);

  // The entry whose hash matches the presented token, or nullopt.
  std::optional<TokenEntry> Find(const std::string& token) const;
  size_t size() const { return entries_.size(); }

  // "blake2b256:<hex>" for a token, as the tokens file stores it.
  static std::string HashForFile(const std::string& token);

 private:
  std::vector<TokenEntry> entries_;
};

class Lockout {
 public:
  explicit Lockout(const Clock& clock) : clock_(clock) {}
  // Seconds left of a lockout for this peer, or 0 when it may proceed.
  int64_t LockedForSeconds(const std::string& peer);
  // Records a failure; returns true when this failure started a lockout.
  bool RecordFailure(const std::string& peer);

 private:
  struct PeerState {
    std::deque<TimeMs> failures;
    TimeMs locked_until_ms = 0;
  };
  void Prune(TimeMs now);
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, PeerState> peers_;
};

}  // namespace assent::auth
