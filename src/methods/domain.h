// Domain methods: one JSON-RPC handler per spec method of clients, secrets, access
// requests, grants, reveal and audit, each a thin adapter over core::Engine.
//
// Params arrive already validated against the method's x-params-schema (rpc/). A
// handler then:
//   1. checks the caller's role against the method's x-roles (ASSENT-AUTH-008: -32001
//      with data {"reason": "role", "required_roles": [...]}); agents admitted only as
//      "originator" pass here and core/ compares their client id with the object's;
//   2. checks what the schema cannot express: UTF-8 byte lengths (ASSENT-LIM-003) and
//      base64 that does not decode (ASSENT-RPC-028), answering -32602 with the member's
//      instance path;
//   3. converts params to core structs, calls the engine, and converts the result to
//      the method's result schema exactly (every required member present, null where the
//      schema allows it, nothing else: additionalProperties is false).
//
// Secret values: secret.put's plaintext is copied into the engine's params (which wipes
// it); secret.reveal returns only the sealed box, base64-encoded.
//
// Thread safety: handlers hold a reference to the engine (thread-safe) and no state.
#pragma once

#include <nlohmann/json.hpp>

#include "core/engine.h"
#include "rpc/context.h"
#include "rpc/dispatcher.h"

namespace assent::methods {

// Registers client.hello, secret.put/list/describe/delete, access.request/get/wait/
// list/cancel/extend/decide, grant.list/revoke/revoke_all, secret.reveal, audit.list
// and audit.verify. `engine` must outlive the dispatcher.
void RegisterDomainMethods(rpc::Dispatcher& dispatcher, core::Engine& engine);

// The engine's view of an authenticated caller.
core::Caller CallerFrom(const rpc::CallContext& ctx);

// Result shapes of spec/schemas (exposed for the Discord approver and for tests).
nlohmann::json RequestToJson(const core::RequestView& r);    // access.json AccessRequest
nlohmann::json GrantToJson(const core::GrantView& g);        // grant.json Grant
nlohmann::json SecretMetaToJson(const core::SecretMeta& m);  // secret.json SecretMeta

}  // namespace assent::methods
