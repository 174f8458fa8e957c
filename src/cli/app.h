// The `assent` command line: CLI11 definitions of every command and the dispatch to
// their implementations (cli/commands.h). main() only calls RunCli.
#pragma once

namespace assent::cli {

// Parses argv, runs the command and returns the process exit code (cli/exit_codes.h).
int RunCli(int argc, char** argv);

}  // namespace assent::cli
