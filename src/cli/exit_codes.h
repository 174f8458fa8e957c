// Exit codes of `assent`, and the advice printed with each failure.
//
// The codes are part of the CLI's interface (scripts branch on them) and are listed in
// `assent --help` and the README. `assent run` returns the child's own exit status once
// the child has started (128+N when a signal N killed it); the codes below apply only
// when the child never ran. 126/127 follow the shell: found but not executable / not
// found.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "client/service.h"

namespace assent::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,       // anything not listed below (server error, invalid state, …)
  kExitUsage = 2,         // bad arguments, bad params (-32602), bad configuration
  kExitDenied = 3,        // the request was denied
  kExitTimedOut = 4,      // no decision before the request's deadline
  kExitUnreachable = 5,   // assentd is not running or not answering
  kExitAuth = 6,          // bad or missing token, forbidden (-32001), locked out
  kExitNotFound = 7,      // no such secret, request or grant (-32002)
  kExitCancelled = 8,     // the request was cancelled (by another client or the kill switch)
  kExitNotExecutable = 126,
  kExitCommandNotFound = 127,
  kExitInterrupted = 130,  // Ctrl-C while waiting for approval (the request is cancelled)
};

// The text of `assent --help`'s exit-code section.
const char* ExitCodesHelp();

// The exit code for a failed call.
int ExitCodeFor(const client::ServiceError& error);
// The exit code for a request that ended in `state` without a grant (denied → 3, …);
// kExitOk for approved and kExitFailure for anything unknown.
int ExitCodeForRequestState(const std::string& state);

// One or two sentences saying what went wrong and what to do next, without a secret,
// token or reason. `endpoint` names the server ("unix:/…").
std::string Advice(const client::ServiceError& error, const std::string& endpoint);

}  // namespace assent::cli
