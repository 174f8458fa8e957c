// Terminal helpers for the CLI: TTY checks, a no-echo prompt, human durations and
// times.
//
// Thread safety: ReadHiddenLine touches the terminal's settings and must run on the
// main thread; the formatters are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.h"

namespace assent::cli {

bool IsTty(int fd);
// The terminal's width in columns (80 when unknown).
size_t TerminalColumns(int fd);

// Prompts on the controlling terminal (stderr) and reads one line from it with echo
// off; restores the terminal even on Ctrl-C. nullopt when there is no terminal or the
// input ended. The returned line has no trailing newline.
std::optional<std::string> ReadHiddenLine(const std::string& prompt);

// "42s", "4m05s", "1h02m", "2d03h" — compact, for countdowns and TTLs.
std::string FormatDuration(int64_t seconds);
// "29:41" (mm:ss) under an hour, "1:02:03" above: a countdown.
std::string FormatCountdown(int64_t seconds);
// Local "2026-11-26 04:31:01" for a spec Time string; the input unchanged if unparsable.
std::string FormatLocalTime(const std::string& rfc3339);
// Seconds from now (`now_ms`) until the spec Time `rfc3339`; nullopt if unparsable.
std::optional<int64_t> SecondsUntil(const std::string& rfc3339, TimeMs now_ms);

}  // namespace assent::cli
