// Clock: the only source of time in Assent.
//
// Time is injected so tests and fuzzers are deterministic: main() wires a RealClock,
// tests a FakeClock they advance by hand. Times are milliseconds since the Unix epoch
// (UTC); durations carry their unit in the name.
//
// Thread safety: both implementations may be read from any thread; FakeClock::Advance
// and Set may be called concurrently with reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace assent {

using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, used for expiries and timestamps.
  virtual TimeMs NowMs() const = 0;
};

class RealClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimeMs start_ms = 1'780'000'000'000) : now_ms_(start_ms) {}
  TimeMs NowMs() const override { return now_ms_.load(); }
  void AdvanceMs(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }
  void SetMs(TimeMs t) { now_ms_.store(t); }

 private:
  std::atomic<TimeMs> now_ms_;
};

// RFC 3339 UTC with millisecond precision and a trailing Z, e.g.
// "2026-11-26T04:31:01.250Z" — the spec's Time pattern.
std::string FormatTimeMs(TimeMs t);
// Parses what FormatTimeMs produces (fraction optional, 1–9 digits). Returns false on
// anything else.
bool ParseTimeMs(const std::string& text, TimeMs* out);

}  // namespace assent
