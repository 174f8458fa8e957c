// Masker: hides secret values in a byte stream that arrives in arbitrary chunks.
//
// `assent run` pipes the child's stdout and stderr through one Masker each. The
// guarantee (tested as a property): for any values and any split of the input into
// chunks, no value appears in the output, and the output is byte-for-byte what masking
// the whole input at once would give — text without secrets passes unchanged.
//
// How: at each position the longest value that matches is replaced by the mask; bytes
// that could still be the start of a value split across two reads (a suffix of the
// buffer that is a proper prefix of some value, so at most max_len-1 bytes) are held
// back until the next chunk or Finish(). Nothing else is delayed, so interactive output
// (prompts without a newline) still appears at once unless it ends like a secret begins.
//
// The mask is a run of one byte that occurs in no value. Then no value can straddle a
// mask and its neighbours, and a value that appeared in the output would have to lie
// in a run of unmasked input bytes, where the scan would have matched it.
//
// Values are held in memory for the Masker's lifetime and wiped by its destructor.
//
// Thread safety: none; one Masker per stream.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace assent::cli {

class Masker {
 public:
  // Empty values are ignored (they cannot be masked). `mask_length` bytes per mask.
  explicit Masker(std::vector<std::string> values, size_t mask_length = 8);
  ~Masker();
  Masker(const Masker&) = delete;
  Masker& operator=(const Masker&) = delete;

  // Returns the bytes that are safe to emit now.
  std::string Feed(std::string_view chunk);
  // End of stream: returns whatever was held back, masked.
  std::string Finish();

  // The mask that replaces each occurrence (exposed for tests).
  const std::string& mask() const { return mask_; }
  // Bytes currently held back (exposed for tests; always < the longest value).
  size_t held() const { return pending_.size(); }

 private:
  std::string Process(bool at_end);
  // Length of the longest value that matches at pending_[i], or 0.
  size_t LongestMatchAt(size_t i) const;
  // Whether pending_[i..] is a proper prefix of some value (it might still grow into one).
  bool CouldStartValueAt(size_t i) const;

  std::vector<std::string> values_;  // longest first
  std::array<bool, 256> first_byte_{};
  size_t max_len_ = 0;
  std::string mask_;
  std::string pending_;
};

}  // namespace assent::cli
