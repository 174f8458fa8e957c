#include "base/random.h"

namespace assent {

std::string HexEncode(const uint8_t* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

std::string RandomSource::NewId(std::string_view prefix) {
  uint8_t bytes[16];
  Fill(bytes, sizeof bytes);
  return std::string(prefix) + HexEncode(bytes, sizeof bytes);
}

void SeededRandom::Fill(uint8_t* out, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng_() & 0xff);
}

}  // namespace assent
