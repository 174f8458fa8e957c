// assentd entry point: parse flags, run the daemon.
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  assent::daemon::DaemonConfig config;
  int exit_code = 0;
  if (!assent::daemon::ParseDaemonArgs(argc, argv, &config, &exit_code)) return exit_code;
  return assent::daemon::RunDaemon(config);
}
