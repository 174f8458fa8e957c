#include "http/metrics.h"

#include <gtest/gtest.h>

#include <limits>

namespace assent::http {
namespace {

TEST(Metrics, CountersCarryTotalSuffixHelpAndTypeAndSumBothPaths) {
  Metrics m;
  m.PreRegisterRpc({"system.ping"}, {"ok"});
  m.CountRpc("system.ping", "ok");     // lock-free path
  m.CountRpc("system.ping", "ok");
  m.CountRpc("secret.put", "forbidden");  // not pre-registered: the locked path
  m.CountHttp("/rpc", 200);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# HELP assent_rpc_calls_total "), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE assent_rpc_calls_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("assent_rpc_calls_total{method=\"system.ping\",outcome=\"ok\"} 2\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("assent_rpc_calls_total{method=\"secret.put\",outcome=\"forbidden\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE assent_http_responses_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("assent_http_responses_total{route=\"/rpc\",status=\"200\"} 1\n"),
            std::string::npos) << text;
}

TEST(Metrics, LabelValuesEscapeBackslashQuoteAndNewline) {
  Metrics m;
  m.CountRpc("a\\b\"c\nd", "ok");
  EXPECT_NE(m.Render().find("method=\"a\\\\b\\\"c\\nd\""), std::string::npos) << m.Render();
}

TEST(Metrics, GaugeValuesAreExactIntegersAndNonFiniteBecomesZero) {
  Metrics m;
  m.AddGauge("assent_big", "A large count.", [] { return 1234567.0; });
  m.AddGauge("assent_half", "A fraction.", [] { return 0.5; });
  m.AddGauge("assent_nan", "Not a number.", [] { return std::numeric_limits<double>::quiet_NaN(); });
  const std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE assent_big gauge\nassent_big 1234567\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nassent_half 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nassent_nan 0\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace assent::http
