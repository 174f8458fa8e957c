// Shared helpers for the fuzz harnesses in fuzz/*_fuzz.cc.
//
// A harness states properties with FUZZ_CHECK: a violated property prints what failed
// (file, line, expression and a short explanation) and aborts, so libFuzzer, AFL++ and
// the ctest replay driver all report it as a crash with a readable reason. Properties
// are about the code under test, never about the input: an input the code rightly
// refuses is not a violation.
//
// Thread safety: none needed; every harness is single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace assent::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* expr,
                              const std::string& why) {
  std::fprintf(stderr, "\n*** fuzz property violated at %s:%d: %s\n*** %s\n", file, line,
               expr, why.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, why)                                                   \
  do {                                                                          \
    if (!(cond)) ::assent::fuzz::Fail(__FILE__, __LINE__, #cond, (why));        \
  } while (0)

// Known bugs. A property violation that has been reported but not yet fixed in src/
// would stop every campaign and every CI run at once and hide new findings, so a
// harness may skip an input that triggers it — narrowly, naming the bug — unless
// Strict(): built with -DASSENT_FUZZ_STRICT (fuzz/build.sh does, so OSS-Fuzz and
// ClusterFuzzLite report every known bug) or run with ASSENT_FUZZ_STRICT=1
// (`fuzz/run.sh --strict`). Each known bug has a reproducer in
// fuzz/crashes/<harness>/ and an entry in fuzz/README.md; fixing it means deleting the
// skip and moving the reproducer into fuzz/corpus/<harness>/.
inline bool Strict() {
#ifdef ASSENT_FUZZ_STRICT
  return true;
#else
  static const bool strict = [] {
    const char* e = std::getenv("ASSENT_FUZZ_STRICT");
    return e != nullptr && *e != '\0' && *e != '0';
  }();
  return strict;
#endif
}

// Reads a fuzz input front to back, in the style of libFuzzer's FuzzedDataProvider but
// with only what the harnesses need and no dependency on clang's headers (the g++
// replay build compiles these harnesses too). Past the end every read returns zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return Byte() & 1; }
  // Little-endian. Each byte is read in its own statement: the order of evaluation of
  // `Byte() | Byte() << 8` is unspecified, and g++ and clang differ.
  uint16_t U16() {
    uint16_t lo = Byte();
    uint16_t hi = Byte();
    return static_cast<uint16_t>(lo | hi << 8);
  }
  uint32_t U32() {
    uint32_t lo = U16();
    uint32_t hi = U16();
    return lo | hi << 16;
  }
  uint64_t U64() {
    uint64_t lo = U32();
    uint64_t hi = U32();
    return lo | hi << 32;
  }
  // A value in [0, n) (n > 0).
  uint32_t Below(uint32_t n) { return n <= 256 ? Byte() % n : U32() % n; }

  // A string of a length read first (at most `max` bytes, fewer at the end of input).
  std::string String(size_t max) {
    size_t n = Below(static_cast<uint32_t>(max + 1));
    if (n > remaining()) n = remaining();
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  // Everything that is left.
  std::string Rest() {
    std::string out(reinterpret_cast<const char*>(data_ + pos_), remaining());
    pos_ = size_;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Splits `text` at every `sep`, keeping empty pieces.
inline std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
}

// `text` shortened for a failure message, with non-printable bytes escaped.
inline std::string Shown(std::string_view text, size_t max = 400) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > max) out += "…(" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace assent::fuzz
