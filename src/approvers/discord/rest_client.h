// Discord REST v10 client: the four calls the approver makes, and what their answers mean.
//
// Calls: create message (with `nonce` + `enforce_nonce: true`, so a retry of a post
// whose answer was lost returns the existing message instead of posting twice —
// ASSENT-DISC-007), edit message, add the bot's own reaction, list the users of one
// reaction. Every answer is classified for the outbox worker and the reactions poller:
// ok, rate limited (with the delay Discord asked for: the body's `retry_after`, else
// `Retry-After`, else `X-RateLimit-Reset-After`), server error or network failure
// (retry with backoff), or client error (retrying cannot help).
//
// The base URL is configurable (default https://discord.com/api/v10; the tests point it
// at tools/mock-discord over plain HTTP). Timeouts are set explicitly. The bot token
// lives inside the transport and goes only into the Authorization header: it is never
// logged, and neither is any response content (ASSENT-DISC-010) — RestResult::error is
// built from the status and Discord's numeric error code only.
//
// HttpTransport is the seam: HttplibTransport speaks HTTP(S) for real; tests give a fake
// that scripts replies (429s, 500s, drops) without a socket.
//
// Thread safety: RestClient is stateless beyond its transport; HttplibTransport opens a
// connection per call and may be used from several threads at once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "approvers/discord/config.h"

namespace assent::discord {

struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using HeaderMap = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpCall {
  std::string method;  // GET | POST | PATCH | PUT
  std::string path;    // below the API base, e.g. "/channels/1/messages"
  std::string body;    // JSON, or "" for none
};

struct HttpReply {
  int status = 0;  // 0: no HTTP answer (connect failure, timeout, dropped connection)
  HeaderMap headers;
  std::string body;
  std::string transport_error;  // set when status == 0; never contains the token
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpReply Send(const HttpCall& call) = 0;
};

// The real transport (cpp-httplib; HTTPS with certificate verification for https://).
std::unique_ptr<HttpTransport> MakeHttplibTransport(const DiscordConfig& config);

enum class RestOutcome { kOk, kRateLimited, kServerError, kNetworkError, kClientError };
const char* RestOutcomeName(RestOutcome o);

struct RestResult {
  RestOutcome outcome = RestOutcome::kNetworkError;
  int status = 0;
  nlohmann::json body;         // parsed JSON answer (null when none or not JSON)
  int64_t retry_after_ms = 0;  // kRateLimited: how long Discord asked us to wait
  // The route's bucket, from X-RateLimit-Remaining / -Reset-After when present.
  std::optional<int64_t> remaining;
  std::optional<int64_t> reset_after_ms;
  bool global = false;  // a global rate limit (X-RateLimit-Global / body.global)
  // Safe to log and store: status and Discord's numeric code, never content or token.
  std::string error;

  bool ok() const { return outcome == RestOutcome::kOk; }
  // Worth trying again later.
  bool retryable() const {
    return outcome == RestOutcome::kRateLimited || outcome == RestOutcome::kServerError ||
           outcome == RestOutcome::kNetworkError;
  }
};

// The delay a 429 asks for, in ms (body retry_after seconds, else Retry-After, else
// X-RateLimit-Reset-After; 1 s when none parses), capped at kRetryAfterMsMax.
inline constexpr int64_t kRetryAfterMsMax = 15 * 60 * 1000;
int64_t RetryAfterMs(const HttpReply& reply, const nlohmann::json& body);
// Parses a non-negative decimal number of seconds ("1", "0.25") into ms; nullopt else.
std::optional<int64_t> ParseSecondsToMs(const std::string& text);

RestResult Classify(const HttpReply& reply);

// The emoji as it goes into a reaction URL path (percent-encoded UTF-8).
std::string PercentEncode(const std::string& s);

inline constexpr const char* kApproveEmoji = "\xE2\x9C\x85";  // ✅
inline constexpr const char* kDenyEmoji = "\xE2\x9D\x8C";     // ❌

class RestClient {
 public:
  explicit RestClient(std::unique_ptr<HttpTransport> transport);

  // `message` is {content, components, allowed_mentions}; nonce ≤ 25 characters.
  RestResult CreateMessage(const std::string& channel_id, const nlohmann::json& message,
                           const std::string& nonce);
  RestResult EditMessage(const std::string& channel_id, const std::string& message_id,
                         const nlohmann::json& message);
  RestResult AddReaction(const std::string& channel_id, const std::string& message_id,
                         const std::string& emoji);
  // Users who reacted with `emoji`, ids above `after` (paging), at most `limit` (1–100).
  RestResult ListReactions(const std::string& channel_id, const std::string& message_id,
                           const std::string& emoji, const std::string& after, int limit);

 private:
  RestResult Do(const HttpCall& call);
  std::unique_ptr<HttpTransport> transport_;
};

}  // namespace assent::discord
