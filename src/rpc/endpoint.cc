#include "rpc/endpoint.h"

#include <exception>

#include "base/log.h"
#include "base/fault.h"
#include "base/limits.h"
#include "base/wipe.h"

namespace assent::rpc {

using nlohmann::json;

namespace {

// Builds the DOM in one SAX pass while bounding the depth: nlohmann's own DOM builder
// does the building, this adds the limit and stops at the first level too deep, before
// that level is built. (Formerly a depth-only SAX pass, then a second full parse.)
class DepthLimitedDom : public json::json_sax_t {
 public:
  explicit DepthLimitedDom(json& out) : dom_(out, /*allow_exceptions=*/false) {}
  bool too_deep = false;
  bool null() override { return dom_.null(); }
  bool boolean(bool v) override { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) override { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) override { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) override {
    return dom_.number_float(v, s);
  }
  bool string(string_t& v) override { return dom_.string(v); }
  bool binary(binary_t& v) override { return dom_.binary(v); }
  bool start_object(std::size_t n) override { return Push() && dom_.start_object(n); }
  bool key(string_t& v) override { return dom_.key(v); }
  bool end_object() override { return Pop() && dom_.end_object(); }
  bool start_array(std::size_t n) override { return Push() && dom_.start_array(n); }
  bool end_array() override { return Pop() && dom_.end_array(); }
  bool parse_error(std::size_t pos, const std::string& token,
                   const nlohmann::detail::exception& e) override {
    return dom_.parse_error(pos, token, e);
  }

 private:
  bool Push() {
    if (++depth_ > limits::kJsonDepthMax) {
      too_deep = true;
      return false;
    }
    return true;
  }
  bool Pop() {
    --depth_;
    return true;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int64_t depth_ = 0;
};

std::string Dump(const json& j) {
  // Strings were validated as UTF-8 by the parser, but results may carry text from
  // storage; replace rather than throw (TOOLCHAIN: RapidCheck found this class of bug).
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool ValidIdType(const json& id) {
  return id.is_null() || id.is_number() ||
         (id.is_string() &&
          static_cast<int64_t>(id.get_ref<const std::string&>().size()) <=
              limits::kIdStringBytesMax);
}

}  // namespace

RpcEndpoint::RpcEndpoint(const spec::SpecRegistry& registry, const Dispatcher& dispatcher,
                         EndpointOptions options)
    : registry_(registry), dispatcher_(dispatcher), options_(options) {}

json RpcEndpoint::ErrorResponse(const json& id, const Status& status) {
  json error = {{"code", static_cast<int>(status.code())}, {"message", status.message()}};
  if (!status.data().is_null()) error["data"] = status.data();
  if (ASSENT_FAULT("invalid-params-without-data") && status.code() == ErrorCode::kInvalidParams) error.erase("data");
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

RpcReply RpcEndpoint::Handle(const CallContext& ctx, std::string_view body) const {
  json doc;
  // The request may carry a secret (secret.put): its strings are overwritten once the
  // reply is built, whichever way this returns.
  WipeOnExit<json> wipe_on_exit(doc);
  DepthLimitedDom builder(doc);
  bool well_formed = json::sax_parse(body.begin(), body.end(), &builder);
  if (builder.too_deep && ASSENT_FAULT("depth-limit-ignored")) {
    builder.too_deep = false;  // the fault: parse it whole, however deep
    doc = json::parse(body.begin(), body.end(), nullptr, false);
    well_formed = !doc.is_discarded();
  }
  if (builder.too_deep) {
    Status st = LimitExceeded("request JSON nests deeper than " +
                                  std::to_string(limits::kJsonDepthMax) + " levels",
                              "json_depth_max", limits::kJsonDepthMax);
    return {ErrorHttpStatus(st.code()), Dump(ErrorResponse(nullptr, st))};
  }
  if (!well_formed) {
    Status st = Status::Error(ErrorCode::kParseError,
                              "request body is not valid JSON (UTF-8, RFC 8259)");
    return {ErrorHttpStatus(st.code()), Dump(ErrorResponse(nullptr, st))};
  }

  if (!doc.is_array()) {
    std::optional<json> resp = HandleOne(ctx, doc);
    if (!resp) return {204, ASSENT_FAULT("notification-204-with-body") ? "{}" : ""};
    int status = 200;
    if (resp->contains("error"))
      status = ErrorHttpStatus(static_cast<ErrorCode>((*resp)["error"]["code"].get<int>()));
    if (ASSENT_FAULT("invalid-params-http-500") && status == 400 && (*resp)["error"]["code"] == -32602) status = 500;
    return {status, Dump(*resp)};
  }

  if (doc.empty()) {
    Status st = Status::Error(ErrorCode::kInvalidRequest, "empty batch");
    return {ErrorHttpStatus(st.code()), Dump(ErrorResponse(nullptr, st))};
  }
  if (static_cast<int64_t>(doc.size()) > limits::kBatchLengthMax && !ASSENT_FAULT("batch-limit-ignored")) {
    Status st = LimitExceeded("batch holds " + std::to_string(doc.size()) +
                                  " calls; at most " +
                                  std::to_string(limits::kBatchLengthMax) + " are allowed",
                              "batch_length_max", limits::kBatchLengthMax);
    return {ErrorHttpStatus(st.code()), Dump(ErrorResponse(nullptr, st))};
  }
  json answers = json::array();
  for (const auto& element : doc) {
    std::optional<json> resp = HandleOne(ctx, element);
    if (resp) answers.push_back(std::move(*resp));
  }
  if (answers.empty()) return {ASSENT_FAULT("all-notification-batch-200") ? 200 : 204, ASSENT_FAULT("all-notification-batch-200") ? "[]" : ""};
  return {200, Dump(answers)};
}

std::optional<json> RpcEndpoint::HandleOne(const CallContext& ctx, const json& req) const {
  std::optional<json> resp = HandleOneUnchecked(ctx, req);
  if (resp && options_.validate_responses) {
    // Every response object must match the envelope (ASSENT-RPC-019/020); a mismatch is
    // our bug, reported as -32603 rather than sent malformed.
    if (auto err = registry_.ValidateResponse(*resp)) {
      log::Error("rpc.response_schema_violation",
                 {{"instance_path", err->instance_path}, {"schema_path", err->schema_path},
                  {"message", err->message}});
      json id = resp->contains("id") ? (*resp)["id"] : json(nullptr);
      return ErrorResponse(id, Internal("internal error: response does not match the "
                                        "envelope schema (logged as a bug)"));
    }
  }
  return resp;
}

std::optional<json> RpcEndpoint::HandleOneUnchecked(const CallContext& ctx,
                                                    const json& req) const {
  auto invalid = [](const json& id, const std::string& why) {
    return ErrorResponse(id, Status::Error(ErrorCode::kInvalidRequest, why));
  };
  if (!req.is_object()) return invalid(nullptr, "a request must be a JSON object");
  // Echo the id only when its type is one JSON-RPC allows.
  json id = nullptr;
  bool has_id = req.contains("id");
  if (has_id) {
    if (!ValidIdType(req["id"]))
      return invalid(nullptr, "id must be a string (at most " +
                                  std::to_string(limits::kIdStringBytesMax) +
                                  " bytes), a number or null");
    id = req["id"];
    if (ASSENT_FAULT("id-number-echoed-as-string") && id.is_number()) id = id.dump();
  }
  for (auto it = req.begin(); it != req.end(); ++it) {
    const std::string& k = it.key();
    if (k != "jsonrpc" && k != "method" && k != "params" && k != "id" && !ASSENT_FAULT("unknown-member-accepted"))
      return invalid(id, "unknown member \"" + k.substr(0, 64) +
                             "\" in request object (allowed: jsonrpc, method, params, id)");
  }
  auto v = req.find("jsonrpc");
  if (v == req.end() || !v->is_string() || *v != "2.0")
    return invalid(id, "jsonrpc must be exactly \"2.0\"");
  auto m = req.find("method");
  if (m == req.end() || !m->is_string()) return invalid(id, "method must be a string");
  const std::string& method = m->get_ref<const std::string&>();

  static const json kNoParams = json::object();
  auto p = req.find("params");
  json response;
  if (p != req.end() && !p->is_object()) {
    response = ErrorResponse(
        id, InvalidParams("params must be an object: Assent methods take parameters by name",
                          {{"instance_path", ""},
                           {"schema_path", "#/type"},
                           {"message", "params must be an object"}}));
    if (observer_) observer_(method, ErrorCode::kInvalidParams);
  } else {
    response = Execute(ctx, method, p != req.end() ? *p : kNoParams, id);
  }
  if (!has_id && !ASSENT_FAULT("notification-answered")) return std::nullopt;  // a notification is never answered, even on error
  return response;
}

json RpcEndpoint::Execute(const CallContext& ctx, const std::string& method,
                          const json& params, const json& id) const {
  auto finish = [&](ErrorCode outcome, json resp) {
    if (observer_) observer_(method, outcome);
    return resp;
  };
  if (static_cast<int64_t>(method.size()) > limits::kMethodNameBytesMax) {
    return finish(ErrorCode::kInvalidRequest,
                  ErrorResponse(id, Status::Error(ErrorCode::kInvalidRequest,
                                                  "method name longer than " +
                                                      std::to_string(limits::kMethodNameBytesMax) +
                                                      " bytes",
                                                  {{"reason", "method name too long"}})));
  }
  const Handler* handler = registry_.HasMethod(method) ? dispatcher_.Find(method) : nullptr;
  if (!handler) {
    std::string shown = method.substr(0, limits::kMethodNameBytesMax);
    return finish(ErrorCode::kMethodNotFound,
                  ErrorResponse(id, Status::Error(ErrorCode::kMethodNotFound,
                                                  "method not found: " + shown,
                                                  {{"method", shown}})));
  }
  // Role and client identity come first (ASSENT-RPC-027, ASSENT-AUTH-008/010).
  if (Status st = CheckRole(ctx, registry_.RolesFor(method)); !st.ok() && !(ASSENT_FAULT("role-check-skipped-secret-list") && method == "secret.list"))
    return finish(st.code(), ErrorResponse(id, st));
  if (auto err = registry_.ValidateParams(method, params); err && !ASSENT_FAULT("params-unvalidated")) {
    return finish(ErrorCode::kInvalidParams,
                  ErrorResponse(id, InvalidParams("invalid params: " + err->message +
                                                      " (at \"" + err->instance_path + "\")",
                                                  err->ToJson())));
  }
  Result<json> result = Status::Error(ErrorCode::kInternal, "handler did not run");
  try {
    result = (*handler)(ctx, params);
  } catch (const std::exception& e) {
    log::Error("rpc.handler_exception", {{"method", method}, {"what", e.what()}});
    result = Internal("internal error (logged as a bug)");
  } catch (...) {
    log::Error("rpc.handler_exception", {{"method", method}});
    result = Internal("internal error (logged as a bug)");
  }
  if (!result.ok()) return finish(result.status().code(), ErrorResponse(id, result.status()));
  if (options_.validate_responses) {
    if (auto err = registry_.ValidateResult(method, *result)) {
      log::Error("rpc.result_schema_violation",
                 {{"method", method}, {"instance_path", err->instance_path},
                  {"schema_path", err->schema_path}, {"message", err->message}});
      return finish(ErrorCode::kInternal,
                    ErrorResponse(id, Internal("internal error: the result of " + method +
                                               " does not match its schema (logged as a "
                                               "bug)")));
    }
  }
  // Members set one by one: an initializer list would copy the whole result.
  json resp = json::object();
  resp["jsonrpc"] = "2.0";
  resp["id"] = id;
  resp["result"] = std::move(*result);
  return finish(ErrorCode::kOk, std::move(resp));
}

Status RpcEndpoint::CheckRole(const CallContext& ctx, const std::vector<std::string>& roles) {
  const std::string role = RoleName(ctx.role);
  bool originator_only = false;
  json required = json::array();
  for (const auto& r : roles) {
    if (r == role) return Status::Ok();
    if (r == "originator") {
      originator_only = true;
      required.push_back("agent");
    } else {
      required.push_back(r);
    }
  }
  if (roles.empty()) return Status::Ok();
  if (originator_only && ctx.role == Role::kAgent) {
    if (ctx.client_id) return Status::Ok();  // the handler compares it with the originator
    return Forbidden("this call needs a client identity: call client.hello and send "
                     "Assent-Client-Id and Assent-Client-Key",
                     {{"reason", "client_identity_required"}});
  }
  return Forbidden("role " + role + " may not call this method",
                   {{"reason", "role"}, {"required_roles", required}});
}

}  // namespace assent::rpc
