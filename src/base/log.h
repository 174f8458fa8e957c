// Minimal structured logging to stderr: one line per event, "key=value" pairs.
//
// Contract for callers: never pass a secret value, token, client key or reason text.
// Fields are plain strings; values with spaces are quoted. The level threshold is set
// once by main().
//
// Thread safety: Log() may be called from any thread (one write per line).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace assent::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
void Log(Level level, const std::string& event,
         std::initializer_list<std::pair<const char*, std::string>> fields = {});

inline void Info(const std::string& e,
                 std::initializer_list<std::pair<const char*, std::string>> f = {}) {
  Log(Level::kInfo, e, f);
}
inline void Warn(const std::string& e,
                 std::initializer_list<std::pair<const char*, std::string>> f = {}) {
  Log(Level::kWarn, e, f);
}
inline void Error(const std::string& e,
                  std::initializer_list<std::pair<const char*, std::string>> f = {}) {
  Log(Level::kError, e, f);
}

}  // namespace assent::log
