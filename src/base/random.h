// RandomSource: the only source of randomness for ids, keys and nonces.
//
// main() wires the OS CSPRNG (crypto::SystemRandom); tests and fuzzers wire a
// SeededRandom so a failure replays from its printed seed. Ids are formatted here so
// every module agrees on the spec's id grammar: a prefix ("cl_", "rq_", "gr_", "sc_")
// and 32 lowercase hex digits.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace assent {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(uint8_t* out, size_t n) = 0;

  // prefix + 32 lowercase hex digits from 16 random bytes.
  std::string NewId(std::string_view prefix);
};

// Deterministic, NOT cryptographic: for tests and fuzzing only.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : rng_(seed) {}
  void Fill(uint8_t* out, size_t n) override;

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

std::string HexEncode(const uint8_t* data, size_t n);
inline std::string HexEncode(std::string_view s) {
  return HexEncode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace assent
