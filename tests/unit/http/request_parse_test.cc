#include "http/request_parse.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace assent {
namespace {

using http::ParseApiVersion;
using http::ParseBearer;
using http::ParseEventCursor;

// ---- Assent-Api-Version (ASSENT-HTTP-016/017) -------------------------------------------

TEST(ParseApiVersion, MajorAndOptionalMinor) {
  auto v = ParseApiVersion("1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  EXPECT_FALSE(v->minor);
  v = ParseApiVersion("1.7");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 7u);
  v = ParseApiVersion("2.0");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 2u);
}

TEST(ParseApiVersion, LeadingZerosCompareByValue) {
  auto v = ParseApiVersion("01");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  v = ParseApiVersion("0000000000000000000000001.0");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
}

TEST(ParseApiVersion, HugePartsSaturate) {
  auto v = ParseApiVersion(std::string(40, '9'));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, std::numeric_limits<uint64_t>::max()) << "another major, never 1";
  v = ParseApiVersion("1." + std::string(40, '9'));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u) << "an unknown minor is still major 1 (ASSENT-HTTP-017)";
  v = ParseApiVersion("18446744073709551615");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, std::numeric_limits<uint64_t>::max());
  v = ParseApiVersion("18446744073709551614");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, std::numeric_limits<uint64_t>::max() - 1);
}

TEST(ParseApiVersion, RefusesEverythingOffTheGrammar) {
  for (const char* bad : {"", "1.", ".1", "1.0.0", "v1", "+1", "-1", " 1", "1 ", "1,1", "1.x",
                          "1.0-beta", "one", "1..0", "\xef\xbc\x91"})
    EXPECT_FALSE(ParseApiVersion(bad)) << "accepted \"" << bad << "\"";
  EXPECT_FALSE(ParseApiVersion(std::string_view("1\0", 2)));
}

// ---- event cursor (ASSENT-EVT-005, EVT-012) --------------------------------------------

TEST(ParseEventCursor, DecimalNonNegative) {
  EXPECT_EQ(ParseEventCursor("0"), 0);
  EXPECT_EQ(ParseEventCursor("42"), 42);
  EXPECT_EQ(ParseEventCursor("007"), 7);
}

TEST(ParseEventCursor, Int64MaxIsTheBoundary) {
  EXPECT_EQ(ParseEventCursor("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(ParseEventCursor("9223372036854775808"));
  EXPECT_FALSE(ParseEventCursor("18446744073709551616"));
  EXPECT_FALSE(ParseEventCursor(std::string(30, '9')));
  EXPECT_EQ(ParseEventCursor(std::string(30, '0')), 0) << "leading zeros are the same number";
}

TEST(ParseEventCursor, RefusesSignsSpacesAndFractions) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x10", "abc", "1,000"})
    EXPECT_FALSE(ParseEventCursor(bad)) << "accepted \"" << bad << "\"";
}

RC_GTEST_PROP(ParseEventCursor, EveryInt64RoundTrips, ()) {
  const int64_t n = *rc::gen::inRange<int64_t>(0, std::numeric_limits<int64_t>::max());
  RC_ASSERT(ParseEventCursor(std::to_string(n)) == std::optional<int64_t>(n));
}

RC_GTEST_PROP(ParseEventCursor, AcceptedTextIsItsNumber, (const std::string& text)) {
  auto v = ParseEventCursor(text);
  if (!v) return;
  RC_ASSERT(*v >= 0);
  size_t first = text.find_first_not_of('0');
  std::string canonical = first == std::string::npos ? "0" : text.substr(first);
  RC_ASSERT(std::to_string(*v) == canonical);
}

// ---- Authorization: Bearer --------------------------------------------------------------

const std::string kToken = "admin-token-for-tests-0123456789";

TEST(ParseBearer, ReturnsTheToken) {
  EXPECT_EQ(ParseBearer("Bearer " + kToken), kToken);
  EXPECT_EQ(ParseBearer("bearer " + kToken), kToken) << "the scheme is case-insensitive";
  EXPECT_EQ(ParseBearer("BEARER   " + kToken), kToken);
}

TEST(ParseBearer, TokenLengthBoundsAtNAndNPlus1) {
  EXPECT_TRUE(ParseBearer("Bearer " + std::string(16, 'a')));
  EXPECT_FALSE(ParseBearer("Bearer " + std::string(15, 'a')));
  EXPECT_TRUE(ParseBearer("Bearer " + std::string(256, 'a')));
  EXPECT_FALSE(ParseBearer("Bearer " + std::string(257, 'a')));
}

TEST(ParseBearer, RefusesOtherSchemesAndStrayBytes) {
  for (const std::string& bad :
       {std::string(""), std::string("Bearer"), std::string("Bearer "), "Basic " + kToken,
        "Token " + kToken, "Bearer" + kToken, "Bearer\t" + kToken, "Bearer " + kToken + " ",
        "Bearer " + kToken + "=", "Bearer " + kToken + "\n", " Bearer " + kToken,
        "Bearers " + kToken, "Bearer " + kToken + " x"})
    EXPECT_FALSE(ParseBearer(bad)) << "accepted \"" << bad << "\"";
}

RC_GTEST_PROP(ParseBearer, AcceptedTokenIsTheTailInGrammar, (const std::string& text)) {
  auto t = ParseBearer(text);
  if (!t) return;
  RC_ASSERT(t->size() >= 16 && t->size() <= 256);
  RC_ASSERT(text.size() > t->size());
  RC_ASSERT(text.substr(text.size() - t->size()) == std::string(*t));
  for (char c : *t)
    RC_ASSERT(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '~' ||
              c == '-');
}

}  // namespace
}  // namespace assent
