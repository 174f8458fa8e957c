#include "rpc/dispatcher.h"

#include <cassert>
#include <set>

namespace assent::rpc {

void Dispatcher::Register(const std::string& method, Handler handler) {
  handlers_[method] = std::move(handler);
}

void Dispatcher::RegisterNotImplemented(const std::string& method) {
  handlers_[method] = [method](const CallContext&, const nlohmann::json&)
      -> Result<nlohmann::json> {
    return Status::Error(ErrorCode::kNotImplemented,
                         "method " + method + " is declared by the spec but not "
                         "implemented by this build",
                         {{"method", method}});
  };
}

const Handler* Dispatcher::Find(const std::string& method) const {
  auto it = handlers_.find(method);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> Dispatcher::Methods() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : handlers_) out.push_back(name);
  return out;
}

std::string Dispatcher::CheckAgainstSpec(const std::vector<std::string>& spec_methods) const {
  std::set<std::string> spec(spec_methods.begin(), spec_methods.end());
  std::string problems;
  for (const auto& m : spec)
    if (!handlers_.count(m)) problems += "spec method without handler: " + m + "\n";
  for (const auto& [m, _] : handlers_)
    if (!spec.count(m)) problems += "handler without spec method: " + m + "\n";
  return problems;
}

}  // namespace assent::rpc
