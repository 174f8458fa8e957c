// Fuzz harness: the request headers and query values the HTTP layer parses
// (src/http/request_parse.h) — `Assent-Api-Version` (ASSENT-HTTP-016/017), the event
// cursor of `?since=` / `Last-Event-ID` (ASSENT-EVT-005/012) and the token of
// `Authorization: Bearer` — exactly the functions HttpServer calls.
//
// The first byte picks the target, the rest is the header or query value:
//   0  ParseApiVersion     1  ParseEventCursor     2  ParseBearer
//   3  all three on the same text (their verdicts must agree where grammars overlap)
//
// Properties (each checked against a reference written here with std::regex and
// decimal-string comparison, independent of the parser's digit arithmetic):
//   version: accepted iff the text matches ^[0-9]+(\.[0-9]+)?$; the major (and minor)
//     equal the decimal value of their digits, or UINT64_MAX exactly when that value
//     does not fit; parsing twice gives the same result.
//   cursor: accepted iff the text is one or more ASCII digits (no sign, space,
//     fraction) worth at most INT64_MAX; an accepted cursor is non-negative and its
//     decimal form is the text without leading zeros (round trip); an overflow is
//     refused, never wrapped.
//   bearer: accepted iff the text is "bearer" in any case, one or more spaces, and a
//     token matching ^[A-Za-z0-9_.~-]{16,256}$ to the end; the token returned is that
//     tail of the text, and "Bearer " + token parses back to the same token.
//   all three: a text the cursor parser accepts is a version with that major and no
//     minor (when it fits in uint64_t), and never a bearer value.
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "http/request_parse.h"

namespace {

using assent::fuzz::Shown;
namespace http = assent::http;

// The digits without leading zeros ("0" for all zeros).
std::string Canonical(const std::string& digits) {
  size_t first = digits.find_first_not_of('0');
  return first == std::string::npos ? "0" : digits.substr(first);
}

// Whether canonical decimal `a` is numerically greater than canonical decimal `b`.
bool Greater(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() > b.size() : a > b;
}

const std::string kU64Max = std::to_string(std::numeric_limits<uint64_t>::max());
const std::string kI64Max = std::to_string(std::numeric_limits<int64_t>::max());

// The value a parser must report for a run of digits: exact, or UINT64_MAX when the
// number does not fit.
bool PartMatches(const std::string& digits, uint64_t got) {
  std::string c = Canonical(digits);
  if (Greater(c, kU64Max)) return got == std::numeric_limits<uint64_t>::max();
  return std::to_string(got) == c;
}

void Version(const std::string& text) {
  static const std::regex kGrammar("^[0-9]+(\\.[0-9]+)?$");
  auto got = http::ParseApiVersion(text);
  auto again = http::ParseApiVersion(text);
  FUZZ_CHECK(got.has_value() == again.has_value() &&
                 (!got || (got->major == again->major && got->minor == again->minor)),
             "two parses of one version disagree: " + Shown(text));
  std::smatch m;
  bool valid = std::regex_match(text, m, kGrammar);
  FUZZ_CHECK(got.has_value() == valid,
             std::string(valid ? "refused" : "accepted") + " the version " + Shown(text));
  if (!got) return;
  size_t dot = text.find('.');
  FUZZ_CHECK(PartMatches(text.substr(0, dot), got->major),
             "major " + std::to_string(got->major) + " for " + Shown(text));
  FUZZ_CHECK(got->minor.has_value() == (dot != std::string::npos),
             "minor present/absent wrongly for " + Shown(text));
  if (got->minor)
    FUZZ_CHECK(PartMatches(text.substr(dot + 1), *got->minor),
               "minor " + std::to_string(*got->minor) + " for " + Shown(text));
}

void Cursor(const std::string& text) {
  static const std::regex kDigits("^[0-9]+$");
  auto got = http::ParseEventCursor(text);
  bool digits = std::regex_match(text, kDigits);
  bool fits = digits && !Greater(Canonical(text), kI64Max);
  FUZZ_CHECK(got.has_value() == fits,
             std::string(fits ? "refused" : "accepted") + " the cursor " + Shown(text));
  if (!got) return;
  FUZZ_CHECK(*got >= 0, "a negative cursor from " + Shown(text));
  FUZZ_CHECK(std::to_string(*got) == Canonical(text),
             "cursor " + std::to_string(*got) + " is not the number in " + Shown(text));
  FUZZ_CHECK(http::ParseEventCursor(std::to_string(*got)) == got,
             "a cursor does not round-trip through its decimal form: " + Shown(text));
}

void Bearer(const std::string& text) {
  static const std::regex kValue("^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9_.~-]{16,256})$");
  auto got = http::ParseBearer(text);
  std::smatch m;
  bool valid = std::regex_match(text, m, kValue);
  FUZZ_CHECK(got.has_value() == valid,
             std::string(valid ? "refused" : "accepted") + " the Authorization value " +
                 Shown(text));
  if (!got) return;
  FUZZ_CHECK(std::string(*got) == m[1].str(), "the token is not the tail of " + Shown(text));
  FUZZ_CHECK(got->data() >= text.data() && got->data() + got->size() == text.data() + text.size(),
             "the token does not point into the value");
  std::string again = "Bearer " + std::string(*got);
  auto round = http::ParseBearer(again);
  FUZZ_CHECK(round && *round == *got, "Bearer + token does not parse back: " + Shown(again));
}

void Agree(const std::string& text) {
  auto cursor = http::ParseEventCursor(text);
  if (!cursor) return;
  auto version = http::ParseApiVersion(text);
  FUZZ_CHECK(version && !version->minor &&
                 version->major == static_cast<uint64_t>(*cursor),
             "a cursor text is not the same version major: " + Shown(text));
  FUZZ_CHECK(!http::ParseBearer(text), "a cursor text parsed as a bearer value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      Version(text);
      break;
    case 1:
      Cursor(text);
      break;
    case 2:
      Bearer(text);
      break;
    default:
      Version(text);
      Cursor(text);
      Bearer(text);
      Agree(text);
      break;
  }
  return 0;
}
