#include "rpc/context.h"

namespace assent::rpc {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAgent: return "agent";
    case Role::kApprover: return "approver";
    case Role::kAdmin: return "admin";
  }
  return "agent";
}

}  // namespace assent::rpc
