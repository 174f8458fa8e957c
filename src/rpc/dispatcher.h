// Dispatcher: the method table. Maps a JSON-RPC method name to its handler.
//
// Handlers receive params that already passed the method's params schema (spec/) and
// return either a result (validated against the result schema when response validation
// is on) or a Status whose code is a spec error. A handler must never throw; the
// envelope layer still catches anything that escapes and answers -32603.
//
// The table is checked against the embedded spec (CheckAgainstSpec): every spec method
// has a handler and every handler a spec method (ASSENT-RPC: dispatch table = spec).
//
// Thread safety: Register* before serving; Find is then safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "rpc/context.h"

namespace assent::rpc {

using Handler =
    std::function<Result<nlohmann::json>(const CallContext&, const nlohmann::json& params)>;

class Dispatcher {
 public:
  void Register(const std::string& method, Handler handler);
  // Declares a spec method this build does not implement yet: it answers -32008.
  void RegisterNotImplemented(const std::string& method);

  // nullptr when the method has no entry.
  const Handler* Find(const std::string& method) const;
  std::vector<std::string> Methods() const;

  // Returns the spec methods without a handler and the handlers without a spec method,
  // as one human-readable message; empty when the two agree.
  std::string CheckAgainstSpec(const std::vector<std::string>& spec_methods) const;

 private:
  std::map<std::string, Handler> handlers_;
};

}  // namespace assent::rpc
