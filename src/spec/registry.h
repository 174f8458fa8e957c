// SpecRegistry: the embedded spec, parsed once, with compiled validators.
//
// Loads openrpc.json and every schema file embedded at build time, bundles them into
// one document (valijson caches subschemas by JSON Pointer without the document URI, so
// two files defining the same pointer would collide; bundling gives every definition a
// unique pointer), and compiles one params and one result validator per method and one
// data validator per x-events type.
//
// Validation errors come back as the spec's InvalidParamsData: the failing instance as a
// JSON Pointer, the failing schema location as "<file>#<pointer>", and a message.
//
// Implements ASSENT-RPC params validation and response validation.
//
// Thread safety: Load once at start-up; afterwards every const method is safe from any
// thread (valijson's regex cache is kept per thread).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace assent::spec {

struct ValidationError {
  std::string instance_path;  // JSON Pointer into the validated value ("" = root)
  // The evaluation path from the validated schema's root as a URI-fragment JSON Pointer
  // (ASSENT-RPC-025), e.g. "#/properties/reason/maxLength".
  std::string schema_path;
  std::string message;
  nlohmann::json ToJson() const;
};

class SpecRegistry {
 public:
  // Loads the embedded spec. Fails (with a message naming the file and reason) if the
  // spec is malformed — a build error, so the daemon refuses to start.
  static Result<std::unique_ptr<SpecRegistry>> LoadEmbedded();
  // The process's one loaded copy of the embedded spec, loaded on first use (thread-
  // safe): the daemon and the tokens-file check share it instead of each holding a
  // megabyte-sized copy. The error, if it does not load, is LoadEmbedded's.
  static Result<const SpecRegistry*> Shared();
  ~SpecRegistry();

  // The OpenRPC document as served by rpc.discover.
  const nlohmann::json& OpenRpcDocument() const { return openrpc_; }
  // spec/limits.json.
  const nlohmann::json& Limits() const { return limits_; }
  std::vector<std::string> MethodNames() const;
  std::vector<std::string> EventTypes() const;
  bool HasMethod(const std::string& method) const;
  // The method's x-roles ("admin", "approver", "agent", "originator"); empty if none.
  const std::vector<std::string>& RolesFor(const std::string& method) const;

  // nullopt when valid. Unknown method/event → an error naming it.
  std::optional<ValidationError> ValidateParams(const std::string& method,
                                                const nlohmann::json& params) const;
  std::optional<ValidationError> ValidateResult(const std::string& method,
                                                const nlohmann::json& result) const;
  std::optional<ValidationError> ValidateEvent(const std::string& type,
                                               const nlohmann::json& data) const;
  // Validates one JSON-RPC response object against the envelope (ResponseBody, ASSENT-
  // RPC-019/020). Equivalent to ValidateRef(".../ResponseBody", r) but cheaper: an object
  // with exactly one of `result` / `error` can only match that branch of the oneOf, so
  // only SuccessResponse or ErrorResponse is checked; anything else gets the full schema.
  // (A unit test checks the two agree.)
  std::optional<ValidationError> ValidateResponse(const nlohmann::json& response) const;
  // Validates against any definition by reference, e.g. "schemas/http.json#/definitions/HttpError".
  // References compiled at load (the response envelope, the HTTP error body, the tokens
  // file) are fast; any other is compiled on each call (tests only).
  std::optional<ValidationError> ValidateRef(const std::string& ref,
                                             const nlohmann::json& value) const;

 private:
  struct Compiled;
  SpecRegistry() = default;
  Status Build();
  const Compiled* CompileRef(const std::string& ref) const;
  std::optional<ValidationError> Validate(const Compiled* c, const nlohmann::json& value) const;

  nlohmann::json openrpc_;
  nlohmann::json limits_;
  nlohmann::json bundle_;  // {"files": {"schemas/x.json": {...}, ...}} with refs rewritten
  std::map<std::string, std::string> params_ref_;  // method → bundled ref
  std::map<std::string, std::string> result_ref_;
  std::map<std::string, std::string> event_ref_;
  std::map<std::string, std::vector<std::string>> roles_;
  mutable std::map<std::string, std::unique_ptr<Compiled>> compiled_;  // by bundled ref
  // Every "$ref" string in bundle_ → the node it names (filled once bundle_ is final;
  // bundle_ is not changed afterwards, so the pointers stay valid).
  std::unordered_map<std::string, const nlohmann::json*> ref_targets_;
};

}  // namespace assent::spec
