// ChildRunner: runs the command of `assent run` with secrets in its environment.
//
// - No shell: fork + execvpe of argv as given (PATH lookup like execvp).
// - The environment is passed to execvpe only; the parent never calls setenv, and it
//   wipes its copy of every "NAME=value" string as soon as the child has been forked.
// - stdin is inherited, so the child reads the terminal (or the pipe) directly.
// - With masking, stdout and stderr are pipes read with poll(); each stream goes through
//   its own Masker and is written to our stdout/stderr as it arrives. Without masking
//   the child inherits both descriptors (and therefore the TTY).
// - Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to `assent` are forwarded to the
//   child. A signal the terminal sent to the whole foreground process group (si_code
//   SI_KERNEL) already reached the child, which shares our process group, so it is not
//   sent twice.
// - The result is the child's exit status, or 128+N when signal N killed it; 127 when
//   the program was not found and 126 when it could not be executed.
//
// Thread safety: call from the main thread of a process with no other threads running
// (it forks, installs signal handlers and restores them before returning).
#pragma once

#include <string>
#include <vector>

namespace assent::cli {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  // The child's complete environment, "NAME=value" each. Wiped by RunChild.
  std::vector<std::string> env;
  bool mask_output = true;
  // Values to mask in stdout/stderr (moved into the maskers, wiped on return).
  std::vector<std::string> mask_values;
};

struct ChildOutcome {
  int exit_code = 1;
  bool started = false;   // false when fork or exec failed (exit_code 126/127/1)
  std::string error;      // why it did not start, for the user
  int signal = 0;         // the signal that killed the child, or 0
};

ChildOutcome RunChild(ChildSpec spec);

}  // namespace assent::cli
