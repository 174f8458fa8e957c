// system.info reports the effective limits: the limits.json values, except those this
// server was configured to lower (ASSENT-LIM-002, ASSENT-LIM-004).
#include "methods/system.h"

#include <gtest/gtest.h>

#include "base/limits.h"
#include "test_support.h"

namespace assent {
namespace {

using nlohmann::json;

json Info(const rpc::Dispatcher& d) {
  const rpc::Handler* h = d.Find("system.info");
  EXPECT_NE(h, nullptr);
  rpc::CallContext ctx;
  ctx.role = rpc::Role::kAdmin;
  auto r = (*h)(ctx, json::object());
  EXPECT_TRUE(r.ok()) << r.status().message();
  return *r;
}

TEST(SystemInfo, ReportsTheLimitsJsonValuesByDefault) {
  rpc::Dispatcher d;
  methods::RegisterSystemMethods(d, testing::Registry(), {"test", {"core"}});
  json limits = Info(d)["limits"];
  EXPECT_EQ(limits["event_retention_count_max"], limits::kEventRetentionCountMax);
  EXPECT_EQ(limits["event_retention_s"], limits::kEventRetentionSeconds);
}

TEST(SystemInfo, ReportsConfiguredLimitsInsteadOfTheDefaults) {
  rpc::Dispatcher d;
  methods::RegisterSystemMethods(d, testing::Registry(), {"test", {"core", "events"}},
                                 {{"event_retention_count_max", 5}, {"event_retention_s", 60}});
  json limits = Info(d)["limits"];
  EXPECT_EQ(limits["event_retention_count_max"], 5);
  EXPECT_EQ(limits["event_retention_s"], 60);
  // The others are untouched.
  EXPECT_EQ(limits["batch_length_max"], limits::kBatchLengthMax);
}

}  // namespace
}  // namespace assent
