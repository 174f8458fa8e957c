#include "base/clock.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace assent {
namespace {

TEST(Clock, FormatsRfc3339Utc) {
  EXPECT_EQ(FormatTimeMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimeMs(1780000000250), "2026-05-28T20:26:40.250Z");
}

TEST(Clock, ParseRejectsOtherForms) {
  TimeMs t;
  EXPECT_FALSE(ParseTimeMs("2026-05-28T20:26:40+00:00", &t));
  EXPECT_FALSE(ParseTimeMs("2026-05-28 20:26:40Z", &t));
  EXPECT_FALSE(ParseTimeMs("", &t));
  EXPECT_TRUE(ParseTimeMs("2026-05-28T20:26:40Z", &t));
  EXPECT_EQ(t, 1780000000000);
}

RC_GTEST_PROP(ClockProperty, FormatParseRoundTrips, ()) {
  TimeMs t = *rc::gen::inRange<TimeMs>(0, 4102444800000);  // 1970 … 2100
  TimeMs back = -1;
  RC_ASSERT(ParseTimeMs(FormatTimeMs(t), &back));
  RC_ASSERT(back == t);
}

}  // namespace
}  // namespace assent
