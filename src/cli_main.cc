// assent entry point: the client CLI (and `assent serve`, the daemon in-process).
#include "cli/app.h"

int main(int argc, char** argv) { return assent::cli::RunCli(argc, argv); }
