// In-process cost of one JSON-RPC call through the envelope (no sockets): parse, role
// gate, params validation, dispatch, optional result + envelope validation.
// Usage: build/endpoint_bench [iterations]. Prints ns per call for each configuration.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 200000;
  auto reg = assent::spec::SpecRegistry::LoadEmbedded();
  if (!reg.ok()) return 1;
  assent::rpc::Dispatcher d;
  assent::methods::RegisterSystemMethods(d, **reg, {"bench", {"core"}});
  assent::methods::RegisterRemainingAsNotImplemented(d, **reg);
  const char* bodies[] = {
      R"({"jsonrpc":"2.0","method":"system.ping","id":1})",
      R"({"jsonrpc":"2.0","method":"client.hello","params":{"kind":"agent","name":"bench-agent"},"id":1})",
  };
  for (bool validate : {false, true}) {
    assent::rpc::RpcEndpoint e(**reg, d, {validate});
    for (const char* body : bodies) {
      assent::rpc::CallContext ctx;
      for (int i = 0; i < 1000; ++i) e.Handle(ctx, body);  // warm caches
      auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < n; ++i) e.Handle(ctx, body);
      auto t1 = std::chrono::steady_clock::now();
      double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
      std::printf("%-70.70s validate_responses=%d  %8.0f ns/call\n", body, validate, ns);
    }
  }
}
