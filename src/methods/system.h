// Discovery and system methods: rpc.discover, system.ping, system.info, plus the
// not-implemented entries for spec methods this build does not serve yet.
//
// Implements ASSENT-RPC discovery requirements. Thread safety: handlers are stateless
// apart from const references captured at registration.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rpc/dispatcher.h"
#include "spec/registry.h"

namespace assent::methods {

struct SystemInfo {
  std::string daemon_version;
  std::vector<std::string> profiles;  // e.g. {"core"}
};

// `configured_limits`: limits this server was configured to lower, by limits.json name;
// system.info reports these effective values instead (ASSENT-LIM-002, LIM-004).
void RegisterSystemMethods(rpc::Dispatcher& dispatcher, const spec::SpecRegistry& registry,
                           SystemInfo info,
                           std::map<std::string, int64_t> configured_limits = {});

// Gives every spec method still without a handler the explicit -32008 entry.
void RegisterRemainingAsNotImplemented(rpc::Dispatcher& dispatcher,
                                       const spec::SpecRegistry& registry);

}  // namespace assent::methods
