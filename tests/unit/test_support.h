// Shared helpers for unit tests: the loaded spec and a dispatcher wired like the daemon.
#pragma once

#include <memory>

#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"

namespace assent::testing {

// The embedded spec, loaded once per test binary (aborts the test run if it is broken).
const spec::SpecRegistry& Registry();

// A dispatcher with the system methods, plus test-only behaviour for a few names, and
// the rest of the spec's methods answering -32008.
struct SystemFixture {
  rpc::Dispatcher dispatcher;
  std::unique_ptr<rpc::RpcEndpoint> endpoint;
  SystemFixture();
};

}  // namespace assent::testing
