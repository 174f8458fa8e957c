// Fault injection for mutation testing of the conformance suite (docs/RFC/0002).
//
// The normal build contains no fault code at all: without ASSENT_FAULTS, ASSENT_FAULT(name)
// is the constant `false`, so every hook's branch is dead code the compiler removes, and
// no fault name is ever compiled in (scripts/mutation-sample.sh checks the binary).
//
// The faults build (cmake -DASSENT_FAULTS=ON) compiles the hooks in; `assentd --fault NAME`
// switches on exactly one named fault for the life of the process. A hook is one line in
// the daemon's source, e.g.
//
//   if (g->originator != *caller.client_id && !ASSENT_FAULT("reveal-by-non-originator")) ...
//
// Every name a hook uses must be listed in kNames below (a misspelt name does not
// compile), and every name listed there must be described in conformance/faults/faults.json
// (scripts/mutation_score.py checks that `assentd --list-faults` and the catalogue agree).
#pragma once

#if defined(ASSENT_FAULTS) && ASSENT_FAULTS

#include <atomic>
#include <string_view>

namespace assent::fault {

inline constexpr std::string_view kNames[] = {
    // HTTP mapping and version (src/http/server.cc)
    "version-other-major-accepted",
    "version-426-without-received",
    "media-type-unchecked",
    "body-limit-ignored",
    "events-bad-since-accepted",
    "sse-subscribers-unbounded",
    // Authentication, lockout, identity headers (src/http/server.cc, src/auth/tokens.cc)
    "token-prefix-match",
    "client-key-unchecked",
    "lockout-never",
    "lockout-without-retry-after",
    "auth-failure-not-audited",
    // JSON-RPC envelope and limits (src/rpc/endpoint.cc)
    "id-number-echoed-as-string",
    "notification-answered",
    "all-notification-batch-200",
    "notification-204-with-body",
    "unknown-member-accepted",
    "batch-limit-ignored",
    "depth-limit-ignored",
    "invalid-params-http-500",
    "invalid-params-without-data",
    "params-unvalidated",
    "role-check-skipped-secret-list",
    // Limits and byte counting (src/methods/domain.cc)
    "utf8-bytes-unchecked",
    // Client identity (src/core/engine.cc)
    "hello-resumes-with-wrong-key",
    "hello-key-returned-on-resume",
    // Secrets
    "secret-replace-keeps-version",
    "secret-delete-leaves-grants",
    "secret-list-unordered",
    // Requests
    "idempotency-new-request",
    "pending-limit-ignored",
    "extend-by-non-originator",
    "timed-out-reported-denied",
    "access-list-agent-sees-all",
    // Decide, quorum, self-approval
    "self-approval-allowed",
    "quorum-counts-same-approver-twice",
    "deny-leaves-pending",
    // Grants
    "revoke-all-leaves-grants",
    "grant-list-agent-sees-all",
    // Reveal
    "reveal-by-non-originator",
    "reveal-after-expiry",
    "reveal-plaintext",
    "reveal-spends-no-use",
    "reveal-ignores-command",
    // Events (src/http/event_stream.cc)
    "events-agent-sees-all",
    "events-no-gap",
    "events-no-heartbeat",
    "events-without-ids",
    "events-replay-skips-first",
    // Audit
    "audit-reveal-not-recorded",
    // Discord approver (src/approvers/discord)
    "discord-unsigned-accepted",
    "discord-duplicate-counted-twice",
};

inline constexpr int kCount = static_cast<int>(sizeof kNames / sizeof kNames[0]);

// The index of `name` in kNames, or -1.
inline constexpr int Index(std::string_view name) {
  for (int i = 0; i < kCount; ++i)
    if (kNames[i] == name) return i;
  return -1;
}

// The fault switched on at start-up (-1: none).
inline std::atomic<int>& Selected() {
  static std::atomic<int> selected{-1};
  return selected;
}

// Switches on the named fault; false for a name that is not in kNames.
inline bool Select(std::string_view name) {
  const int i = Index(name);
  if (i < 0) return false;
  Selected().store(i);
  return true;
}

template <int I>
inline bool Active() {
  static_assert(I >= 0, "ASSENT_FAULT names a fault that base/fault.h kNames does not list");
  return Selected().load(std::memory_order_relaxed) == I;
}

}  // namespace assent::fault

#define ASSENT_FAULT(name) (::assent::fault::Active<::assent::fault::Index(name)>())

#else

#define ASSENT_FAULT(name) false

#endif
