#include "http/metrics.h"

#include <cmath>
#include <sstream>

namespace assent::http {

void Metrics::CountRpc(const std::string& method, const std::string& outcome) {
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
  for (const auto& [k, v] : rpc_)
    out << "assent_rpc_calls_total{method=\"" << k.first << "\",outcome=\"" << k.second
        << "\"} " << v << "\n";
  out << "# HELP assent_http_responses_total HTTP responses by route and status.\n"
         "# TYPE assent_http_responses_total counter\n";
  for (const auto& [k, v] : http_)
    out << "assent_http_responses_total{route=\"" << k.first << "\",status=\"" << k.second
        << "\"} " << v << "\n";
  for (const auto& g : gauges_) {
    double value = g.read ? g.read() : 0;
    out << "# HELP " << g.name << " " << g.help << "\n# TYPE " << g.name << " gauge\n"
        << g.name << " " << (std::isfinite(value) ? value : 0) << "\n";
  }
  return out.str();
}

}  // namespace assent::http
