#include "http/metrics.h"

#include <cmath>
#include <sstream>

namespace assent::http {

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
