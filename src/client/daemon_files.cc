#include "client/daemon_files.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/json_members.h"

namespace assent::client {

namespace {

std::optional<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string PidFilePath(const std::string& d) { return d + "/assentd.pid"; }
std::string DiscoveryFilePath(const std::string& d) { return d + "/assentd.json"; }
std::string DaemonLogPath(const std::string& d) { return d + "/assentd.log"; }
std::string DefaultSocketPath(const std::string& d) { return d + "/run/assentd.sock"; }

std::optional<DiscoveryInfo> ReadDiscovery(const std::string& data_dir) {
  auto text = Slurp(DiscoveryFilePath(data_dir));
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
      !j.contains("listeners") || !j["listeners"].is_array())
    return std::nullopt;
  DiscoveryInfo info;
  info.pid = static_cast<pid_t>(j["pid"].get<int64_t>());
  info.daemon_version = StrMember(j, "daemon_version");
  info.protocol_version = StrMember(j, "protocol_version");
  for (const auto& l : j["listeners"]) {
    if (!l.is_object()) continue;
    info.listeners.push_back({StrMember(l, "transport"), StrMember(l, "address")});
  }
  return info;
}

std::optional<pid_t> ReadPidFile(const std::string& data_dir) {
  auto text = Slurp(PidFilePath(data_dir));
  if (!text) return std::nullopt;
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.empty() || t.size() > 10 || t.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  long v = std::stol(t);
  if (v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) == 0) return true;
  return errno == EPERM;
}

bool ProcessIsAssent(pid_t pid) {
  auto cmdline = Slurp("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline) return false;
  // A zombie has an empty cmdline: it is not serving anything.
  return cmdline->find("assent") != std::string::npos;
}

std::optional<int64_t> ProcessUptimeSeconds(pid_t pid) {
  auto stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  auto uptime = Slurp("/proc/uptime");
  if (!stat || !uptime) return std::nullopt;
  // Field 22 (starttime, in clock ticks since boot) follows the ")" that closes comm.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream ss(stat->substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(ss >> field)) return std::nullopt;
  }
  long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  double started_s = std::stod(field) / static_cast<double>(ticks);
  double up_s = std::stod(*uptime);
  return static_cast<int64_t>(up_s - started_s);
}

ServerAddress ResolveServerAddress(const ClientConfig& config,
                                   const std::string& override_address) {
  std::string why;
  if (!override_address.empty()) {
    if (auto a = ParseServerAddress(override_address, &why)) return *a;
  }
  if (!config.server.empty()) {
    if (auto a = ParseServerAddress(config.server, &why)) return *a;
  }
  if (auto d = ReadDiscovery(config.data_dir)) {
    for (const auto& l : d->listeners)
      if (l.transport == "unix" && !l.address.empty()) {
        ServerAddress a;
        a.kind = ServerAddress::Kind::kUnix;
        a.path = l.address;
        return a;
      }
    for (const auto& l : d->listeners)
      if (l.transport == "tcp")
        if (auto a = ParseServerAddress("tcp://" + l.address, &why)) return *a;
  }
  ServerAddress a;
  a.kind = ServerAddress::Kind::kUnix;
  a.path = DefaultSocketPath(config.data_dir);
  return a;
}

}  // namespace assent::client
