#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "base/clock.h"

namespace assent::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void AppendValue(std::string& out, const std::string& v) {
  bool quote = v.empty() || v.find_first_of(" \"=\n\t") != std::string::npos;
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}
}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }

void Log(Level level, const std::string& event,
         std::initializer_list<std::pair<const char*, std::string>> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  RealClock clock;
  std::string line = "time=" + FormatTimeMs(clock.NowMs()) + " level=" + LevelName(level) +
                     " event=";
  AppendValue(line, event);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    AppendValue(line, v);
  }
  line += '\n';
  // One write(2) per line keeps lines whole across threads.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace assent::log
