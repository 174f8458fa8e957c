#include "client/local_service.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "auth/tokens.h"
#include "client/remote_service.h"
#include "daemon/daemon.h"
#include "daemon/engine_factory.h"
#include "events/event_log.h"
#include "methods/domain.h"
#include "methods/system.h"
#include "rpc/dispatcher.h"
#include "rpc/endpoint.h"
#include "spec/registry.h"

namespace assent::client {

namespace {

constexpr int64_t kPollIntervalMs = 200;

ServiceError LocalError(const std::string& name, const std::string& message) {
  ServiceError e;
  e.kind = ServiceError::Kind::kLocal;
  e.name = name;
  e.message = message;
  return e;
}

// What the daemon's HTTP layer answers for a refused credential, so both modes fail
// the same way (and map to the same exit code).
ServiceError Unauthorized(const std::string& message) {
  ServiceError e;
  e.kind = ServiceError::Kind::kHttp;
  e.name = "unauthorized";
  e.message = message;
  e.http_status = 401;
  return e;
}

class LocalService final : public Service {
 public:
  Reply<json> Call(const std::string& method, const json& params) override {
    if (method == "access.wait") return Wait(params);
    return Dispatch(method, params);
  }

  Reply<json> CallWithDeadline(const std::string& method, const json& params,
                               int64_t /*deadline_s*/) override {
    return Call(method, params);
  }

  void SetIdentity(const ClientIdentity& identity) override {
    std::lock_guard<std::mutex> lock(mu_);
    identity_error_.reset();
    if (bundle_->engine->VerifyClient(identity.client_id, identity.client_key)) {
      ctx_.client_id = identity.client_id;
    } else {
      ctx_.client_id.reset();
      identity_error_ = "the client key does not prove " + identity.client_id;
    }
  }

  // Polls the durable event log: another process's commits wake nothing here.
  Reply<int64_t> StreamEvents(std::optional<int64_t> since, const EventSink& sink) override {
    rpc::CallContext ctx;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ctx = ctx_;
    }
    store::EventScope scope = ctx.role != rpc::Role::kAgent ? events::ScopeAll()
                              : ctx.client_id ? events::ScopeClient(*ctx.client_id)
                                              : events::ScopeNothing();
    int64_t cursor = 0;
    if (since) {
      cursor = *since;
    } else {
      auto last = event_log_->LastId();
      if (!last.ok()) return LocalError("store_error", last.status().message());
      cursor = *last;
    }
    while (true) {
      auto batch = event_log_->ReadSince(cursor, scope, 256);
      if (!batch.ok()) return LocalError("store_error", batch.status().message());
      if (batch->gap) {
        ServerEvent ev{batch->gap->to_id, "gap",
                       {{"from_id", batch->gap->from_id}, {"to_id", batch->gap->to_id}}};
        if (!sink(ev)) return batch->gap->to_id;
      }
      for (const auto& e : batch->events) {
        if (!sink(ServerEvent{e.id, e.type, e.data})) return e.id;
      }
      cursor = batch->next_after_id;
      if (batch->events.empty() && !batch->gap)
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
    }
  }

  std::string Endpoint() const override { return "local:" + data_dir_; }

  static Reply<std::unique_ptr<Service>> Open(const std::string& data_dir,
                                              const std::string& token) {
    std::unique_ptr<LocalService> s(new LocalService());
    s->data_dir_ = data_dir;
    auto registry = spec::SpecRegistry::LoadEmbedded();
    if (!registry.ok()) return LocalError("spec_error", registry.status().message());
    s->registry_ = std::move(*registry);

    // The caller's role comes from its token, exactly as on the daemon's socket.
    s->ctx_.peer = "local:uid=" + std::to_string(::getuid());
    const std::string tokens_path = data_dir + "/tokens.json";
    if (!token.empty()) {
      std::error_code ec;
      if (!std::filesystem::exists(tokens_path, ec))
        return Unauthorized("no tokens file at " + tokens_path + " to check the token against");
      auto tokens = auth::TokenStore::LoadFile(tokens_path);
      if (!tokens.ok()) return LocalError("tokens_error", tokens.status().message());
      auto entry = tokens->Find(token);
      if (!entry) return Unauthorized("the token is not in " + tokens_path);
      s->ctx_.role = entry->role;
      s->ctx_.token_name = entry->name;
    }

    core::EngineConfig config;  // the daemon's defaults (limits.json)
    auto bundle = daemon::OpenEngine(data_dir, config);
    if (!bundle.ok())
      return LocalError("engine_error", "cannot open " + data_dir + ": " + bundle.status().message());
    s->bundle_ = std::move(*bundle);
    s->event_log_ = std::make_unique<events::EventLog>(*s->bundle_->store, s->bundle_->clock);

    methods::RegisterSystemMethods(s->dispatcher_, *s->registry_,
                                   {daemon::kDaemonVersion, {"core", "events"}});
    methods::RegisterDomainMethods(s->dispatcher_, *s->bundle_->engine);
    methods::RegisterRemainingAsNotImplemented(s->dispatcher_, *s->registry_);
    s->endpoint_ = std::make_unique<rpc::RpcEndpoint>(*s->registry_, s->dispatcher_,
                                                      rpc::EndpointOptions{});
    return std::unique_ptr<Service>(std::move(s));
  }

 private:
  LocalService() = default;

  Reply<json> Dispatch(const std::string& method, const json& params) {
    rpc::CallContext ctx;
    int64_t id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (identity_error_) return Unauthorized(*identity_error_);
      ctx = ctx_;
      id = next_id_++;
    }
    json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
    std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);
    rpc::RpcReply reply = endpoint_->Handle(ctx, body);
    std::fill(body.begin(), body.end(), '\0');
    return InterpretRpcAnswer(reply.http_status, reply.body);
  }

  // access.wait over a database another process may change: poll the request without
  // blocking (timeout_s 0), and report a change as the daemon would.
  Reply<json> Wait(const json& params) {
    json poll = params;
    const int64_t timeout_s = params.value("timeout_s", int64_t{30});
    poll["timeout_s"] = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::optional<json> first;
    while (true) {
      auto r = Dispatch("access.wait", poll);
      if (!r.ok() || (*r).value("changed", false)) return r;
      const json& request = (*r)["request"];
      if (!first) first = request;
      else if (request != *first) return json{{"request", request}, {"changed", true}};
      if (std::chrono::steady_clock::now() >= deadline) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
    }
  }

  std::string data_dir_;
  std::unique_ptr<spec::SpecRegistry> registry_;
  std::unique_ptr<daemon::EngineBundle> bundle_;
  std::unique_ptr<events::EventLog> event_log_;
  rpc::Dispatcher dispatcher_;
  std::unique_ptr<rpc::RpcEndpoint> endpoint_;
  std::mutex mu_;
  rpc::CallContext ctx_;
  std::optional<std::string> identity_error_;
  int64_t next_id_ = 1;
};

}  // namespace

Reply<std::unique_ptr<Service>> OpenLocalService(const std::string& data_dir,
                                                 const std::string& token) {
  return LocalService::Open(data_dir, token);
}

}  // namespace assent::client
