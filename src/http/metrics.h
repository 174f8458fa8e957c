// Metrics: counters and gauges rendered in the Prometheus text format.
//
// Never holds a token, secret, reason or full id: labels are method names, outcomes
// (error names) and fixed words. Gauges are read through callbacks at scrape time.
//
// Thread safety: all methods are safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace assent::http {

class Metrics {
 public:
  // Declares the methods and outcomes counted lock-free on the hot path (the spec's
  // methods × the error names); anything else is counted under a mutex.
  void PreRegisterRpc(const std::vector<std::string>& methods,
                      const std::vector<std::string>& outcomes);
  void CountRpc(const std::string& method, const std::string& outcome);
  void CountHttp(const std::string& route, int status);
  void AddGauge(const std::string& name, const std::string& help,
                std::function<double()> read);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  // Fixed after PreRegisterRpc (called before serving): read without the lock.
  std::map<std::pair<std::string, std::string>, std::unique_ptr<std::atomic<uint64_t>>> fast_rpc_;
  std::map<std::pair<std::string, std::string>, uint64_t> rpc_;
  std::map<std::pair<std::string, int>, uint64_t> http_;
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  std::vector<Gauge> gauges_;
};

}  // namespace assent::http
