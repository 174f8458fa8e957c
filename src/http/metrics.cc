#include "http/metrics.h"

#include <cmath>
#include <cstdint>
#include <sstream>

namespace assent::http {

namespace {

// A label value in the text exposition format: backslash, double quote and newline are
// the three characters that must be escaped. Our labels are method names, error names
// and routes, but a label must never be the thing that breaks a scrape.
std::string LabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// A sample value: integers exactly (an ostream would print 1234567 as 1.23457e+06),
// anything else with enough digits to round-trip; non-finite values as 0.
std::string SampleValue(double v) {
  if (!std::isfinite(v)) return "0";
  if (std::fabs(v) < 9007199254740992.0 && v == std::floor(v))
    return std::to_string(static_cast<int64_t>(v));
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

}  // namespace

void Metrics::PreRegisterRpc(const std::vector<std::string>& methods,
                             const std::vector<std::string>& outcomes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& m : methods)
    for (const auto& o : outcomes)
      fast_rpc_[{m, o}] = std::make_unique<std::atomic<uint64_t>>(0);
}

void Metrics::CountRpc(const std::string& method, const std::string& outcome) {
  auto it = fast_rpc_.find({method, outcome});
  if (it != fast_rpc_.end()) {
    it->second->fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++rpc_[{method, outcome}];
}

void Metrics::CountHttp(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++http_[{route, status}];
}

void Metrics::AddGauge(const std::string& name, const std::string& help,
                       std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({name, help, std::move(read)});
}

std::string Metrics::Render() const {
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(mu_);
  out << "# HELP assent_rpc_calls_total JSON-RPC calls by method and outcome.\n"
         "# TYPE assent_rpc_calls_total counter\n";
  std::map<std::pair<std::string, std::string>, uint64_t> all = rpc_;
  for (const auto& [k, v] : fast_rpc_)
    if (uint64_t n = v->load(std::memory_order_relaxed)) all[k] += n;
  for (const auto& [k, v] : all)
    out << "assent_rpc_calls_total{method=\"" << LabelValue(k.first) << "\",outcome=\""
        << LabelValue(k.second) << "\"} " << v << "\n";
  out << "# HELP assent_http_responses_total HTTP responses by route and status.\n"
         "# TYPE assent_http_responses_total counter\n";
  for (const auto& [k, v] : http_)
    out << "assent_http_responses_total{route=\"" << LabelValue(k.first) << "\",status=\""
        << k.second << "\"} " << v << "\n";
  for (const auto& g : gauges_) {
    out << "# HELP " << g.name << " " << g.help << "\n# TYPE " << g.name << " gauge\n"
        << g.name << " " << SampleValue(g.read ? g.read() : 0) << "\n";
  }
  return out.str();
}

}  // namespace assent::http
