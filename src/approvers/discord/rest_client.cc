#include "approvers/discord/rest_client.h"

#include <httplib.h>

#include "base/json_members.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <strings.h>


namespace assent::discord {
namespace {

using nlohmann::json;

// Discord asks bots for "DiscordBot ($url, $version)" as User-Agent.
constexpr const char* kAssentDiscordClientVersion = "0.1.0";

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

class HttplibTransport final : public HttpTransport {
 public:
  explicit HttplibTransport(const DiscordConfig& c)
      : token_(c.bot_token),
        connect_timeout_ms_(c.connect_timeout_ms),
        read_timeout_ms_(c.read_timeout_ms) {
    // "scheme://host[:port]" for the client, the rest ("/api/v10") as a path prefix.
    const std::string& base = c.api_base;
    size_t scheme_end = base.find("://");
    size_t path_start =
        scheme_end == std::string::npos ? std::string::npos : base.find('/', scheme_end + 3);
    origin_ = path_start == std::string::npos ? base : base.substr(0, path_start);
    prefix_ = path_start == std::string::npos ? "" : base.substr(path_start);
  }

  HttpReply Send(const HttpCall& call) override {
    httplib::Client cli(origin_);
    cli.set_connection_timeout(connect_timeout_ms_ / 1000, (connect_timeout_ms_ % 1000) * 1000);
    cli.set_read_timeout(read_timeout_ms_ / 1000, (read_timeout_ms_ % 1000) * 1000);
    cli.set_write_timeout(read_timeout_ms_ / 1000, (read_timeout_ms_ % 1000) * 1000);
    cli.set_keep_alive(false);
    cli.set_follow_location(false);
    cli.set_compress(false);
    httplib::Headers headers = {
        {"Authorization", "Bot " + token_},
        {"User-Agent", std::string("DiscordBot (https://github.com/assent, ") +
                           kAssentDiscordClientVersion + ")"},
    };
    const std::string path = prefix_ + call.path;
    httplib::Result res(nullptr, httplib::Error::Unknown);
    const std::string ctype = call.body.empty() ? "" : "application/json";
    if (call.method == "GET") {
      res = cli.Get(path, headers);
    } else if (call.method == "POST") {
      res = cli.Post(path, headers, call.body, ctype);
    } else if (call.method == "PATCH") {
      res = cli.Patch(path, headers, call.body, ctype);
    } else if (call.method == "PUT") {
      res = cli.Put(path, headers, call.body, ctype);
    }
    HttpReply reply;
    if (!res) {
      reply.transport_error = httplib::to_string(res.error());
      return reply;
    }
    reply.status = res->status;
    reply.body = res->body;
    for (const auto& [k, v] : res->headers) reply.headers[k] = v;
    return reply;
  }

 private:
  std::string token_;
  int64_t connect_timeout_ms_;
  int64_t read_timeout_ms_;
  std::string origin_;
  std::string prefix_;
};

std::optional<int64_t> HeaderInt(const HeaderMap& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end() || it->second.empty() || it->second.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<int64_t> HeaderSeconds(const HeaderMap& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end()) return std::nullopt;
  return ParseSecondsToMs(it->second);
}

}  // namespace

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::unique_ptr<HttpTransport> MakeHttplibTransport(const DiscordConfig& config) {
  return std::make_unique<HttplibTransport>(config);
}

const char* RestOutcomeName(RestOutcome o) {
  switch (o) {
    case RestOutcome::kOk: return "ok";
    case RestOutcome::kRateLimited: return "rate_limited";
    case RestOutcome::kServerError: return "server_error";
    case RestOutcome::kNetworkError: return "network_error";
    case RestOutcome::kClientError: return "client_error";
  }
  return "unknown";
}

std::optional<int64_t> ParseSecondsToMs(const std::string& text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  int64_t whole = 0;
  int64_t frac_ms = 0;
  int frac_digits = 0;
  bool dot = false;
  for (char c : text) {
    if (c == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (!dot) {
      whole = whole * 10 + (c - '0');
    } else if (frac_digits < 3) {
      frac_ms = frac_ms * 10 + (c - '0');
      ++frac_digits;
    } else if (frac_digits == 3 && c != '0') {
      frac_ms += 1;  // round up what is below a millisecond: never retry early
      frac_digits = 4;
    }
  }
  if (text == ".") return std::nullopt;
  for (int i = std::min(frac_digits, 3); i < 3; ++i) frac_ms *= 10;
  return whole * 1000 + frac_ms;
}

int64_t RetryAfterMs(const HttpReply& reply, const json& body) {
  std::optional<int64_t> ms;
  if (body.is_object()) {
    auto it = body.find("retry_after");
    if (it != body.end() && it->is_number()) {
      double s = it->get<double>();
      if (std::isfinite(s) && s >= 0) ms = static_cast<int64_t>(std::ceil(std::min(s, 1e6) * 1000));
    }
  }
  if (!ms) ms = HeaderSeconds(reply.headers, "Retry-After");
  if (!ms) ms = HeaderSeconds(reply.headers, "X-RateLimit-Reset-After");
  if (!ms) ms = 1000;
  return std::clamp<int64_t>(*ms, 0, kRetryAfterMsMax);
}

RestResult Classify(const HttpReply& reply) {
  RestResult r;
  r.status = reply.status;
  if (reply.status == 0) {
    r.outcome = RestOutcome::kNetworkError;
    r.error = "no answer from Discord (" +
              (reply.transport_error.empty() ? std::string("connection failed")
                                             : reply.transport_error) +
              ")";
    return r;
  }
  r.body = json::parse(reply.body, nullptr, false);
  if (r.body.is_discarded()) r.body = nullptr;
  r.remaining = HeaderInt(reply.headers, "X-RateLimit-Remaining");
  r.reset_after_ms = HeaderSeconds(reply.headers, "X-RateLimit-Reset-After");
  auto g = reply.headers.find("X-RateLimit-Global");
  r.global = (g != reply.headers.end() && g->second == "true") ||
             TrueMember(r.body, "global");
  std::string code;
  if (r.body.is_object()) {
    auto c = r.body.find("code");
    if (c != r.body.end() && c->is_number_integer())
      code = " (Discord code " + std::to_string(c->get<int64_t>()) + ")";
  }
  if (reply.status >= 200 && reply.status < 300) {
    r.outcome = RestOutcome::kOk;
  } else if (reply.status == 429) {
    r.outcome = RestOutcome::kRateLimited;
    r.retry_after_ms = RetryAfterMs(reply, r.body);
    r.error = "HTTP 429 rate limited for " + std::to_string(r.retry_after_ms) + " ms" +
              (r.global ? " (global)" : "");
  } else if (reply.status >= 500 || reply.status == 408) {
    r.outcome = RestOutcome::kServerError;
    r.error = "HTTP " + std::to_string(reply.status) + code;
  } else {
    r.outcome = RestOutcome::kClientError;
    r.error = "HTTP " + std::to_string(reply.status) + code;
  }
  return r;
}

std::string PercentEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

RestClient::RestClient(std::unique_ptr<HttpTransport> transport)
    : transport_(std::move(transport)) {}

RestResult RestClient::Do(const HttpCall& call) { return Classify(transport_->Send(call)); }

RestResult RestClient::CreateMessage(const std::string& channel_id, const json& message,
                                     const std::string& nonce) {
  json body = message;
  body["nonce"] = nonce;
  body["enforce_nonce"] = true;
  return Do({"POST", "/channels/" + PercentEncode(channel_id) + "/messages", Dump(body)});
}

RestResult RestClient::EditMessage(const std::string& channel_id, const std::string& message_id,
                                   const json& message) {
  return Do({"PATCH",
             "/channels/" + PercentEncode(channel_id) + "/messages/" + PercentEncode(message_id),
             Dump(message)});
}

RestResult RestClient::AddReaction(const std::string& channel_id, const std::string& message_id,
                                   const std::string& emoji) {
  return Do({"PUT",
             "/channels/" + PercentEncode(channel_id) + "/messages/" +
                 PercentEncode(message_id) + "/reactions/" + PercentEncode(emoji) + "/@me",
             ""});
}

RestResult RestClient::ListReactions(const std::string& channel_id,
                                     const std::string& message_id, const std::string& emoji,
                                     const std::string& after, int limit) {
  std::string path = "/channels/" + PercentEncode(channel_id) + "/messages/" +
                     PercentEncode(message_id) + "/reactions/" + PercentEncode(emoji) +
                     "?limit=" + std::to_string(std::clamp(limit, 1, 100));
  if (!after.empty()) path += "&after=" + PercentEncode(after);
  return Do({"GET", path, ""});
}

}  // namespace assent::discord
