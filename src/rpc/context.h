// CallContext: who is calling, as established by the transport (http/) before dispatch.
//
// Roles come only from tokens (ASSENT-AUTH): never from headers or peer identity. A
// client identity is present only when the Assent-Client-Id / Assent-Client-Key pair was
// presented and the key proved the id. `peer` is a coarse description for audit and
// lockout ("tcp:127.0.0.1", "unix:uid=1000"), never a secret.
//
// Thread safety: a plain value owned by the request being served.
#pragma once

#include <optional>
#include <string>

namespace assent::rpc {

enum class Role { kAgent, kApprover, kAdmin };

const char* RoleName(Role role);

struct CallContext {
  Role role = Role::kAgent;
  // Name of the token that authenticated the call ("" on the Unix socket without one).
  std::string token_name;
  // Proven client identity (cl_…), or nullopt when the call presented none.
  std::optional<std::string> client_id;
  std::string peer;
};

}  // namespace assent::rpc
