#include "http/request_parse.h"

#include <limits>

namespace assent::http {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The value of a non-empty run of digits, saturating at `max`.
uint64_t DigitsValue(std::string_view digits, uint64_t max) {
  uint64_t v = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return max;
    v = v * 10 + d;
  }
  return v;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!IsDigit(c)) return false;
  return true;
}

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' ||
         c == '.' || c == '~' || c == '-';
}

}  // namespace

std::optional<ApiVersion> ParseApiVersion(std::string_view value) {
  size_t dot = value.find('.');
  std::string_view major = value.substr(0, dot);
  if (!AllDigits(major)) return std::nullopt;
  ApiVersion v;
  v.major = DigitsValue(major, std::numeric_limits<uint64_t>::max());
  if (dot != std::string_view::npos) {
    std::string_view minor = value.substr(dot + 1);
    if (!AllDigits(minor)) return std::nullopt;  // also refuses a second '.'
    v.minor = DigitsValue(minor, std::numeric_limits<uint64_t>::max());
  }
  return v;
}

std::optional<int64_t> ParseEventCursor(std::string_view value) {
  if (!AllDigits(value)) return std::nullopt;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  // Saturating at kMax + 1 tells an overflow apart from INT64_MAX itself.
  uint64_t v = DigitsValue(value, kMax + 1);
  if (v > kMax) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<std::string_view> ParseBearer(std::string_view value) {
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  size_t at = kScheme.size();
  if (value[at] != ' ') return std::nullopt;
  while (at < value.size() && value[at] == ' ') ++at;
  std::string_view token = value.substr(at);
  if (token.size() < kBearerTokenBytesMin || token.size() > kBearerTokenBytesMax)
    return std::nullopt;
  for (char c : token)
    if (!IsTokenChar(c)) return std::nullopt;
  return token;
}

}  // namespace assent::http
