#include "cli/masker.h"

#include <algorithm>
#include <cstring>

#include "crypto/crypto.h"

namespace assent::cli {

namespace {

// Mask bytes in order of preference; the first that occurs in no value wins.
constexpr std::string_view kPreferredMaskBytes = "*#~%^=+@!?";

}  // namespace

Masker::Masker(std::vector<std::string> values, size_t mask_length) {
  std::array<bool, 256> used{};
  for (auto& v : values) {
    if (v.empty()) continue;
    for (unsigned char c : v) used[c] = true;
    first_byte_[static_cast<unsigned char>(v[0])] = true;
    max_len_ = std::max(max_len_, v.size());
    values_.push_back(std::move(v));
  }
  for (auto& v : values) crypto::Wipe(v);
  // Longest first, so a value that contains another is masked whole.
  std::sort(values_.begin(), values_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  values_.erase(std::unique(values_.begin(), values_.end()), values_.end());

  char mask_byte = 0;
  bool found = false;
  for (char c : kPreferredMaskBytes)
    if (!used[static_cast<unsigned char>(c)]) {
      mask_byte = c;
      found = true;
      break;
    }
  for (int c = 1; !found && c < 256; ++c)
    if (!used[c]) {
      mask_byte = static_cast<char>(c);
      found = true;
    }
  // Values that together use every byte value but 0 still get a mask that shares no
  // byte with them; only if all 256 are used does the mask fall back to '*' (and the
  // straddling guarantee no longer holds — not reachable with printable text).
  if (!found) mask_byte = used[0] ? '*' : '\0';
  mask_.assign(std::max<size_t>(mask_length, 1), mask_byte);
}

Masker::~Masker() {
  for (auto& v : values_) crypto::Wipe(v);
  crypto::Wipe(pending_);
}

size_t Masker::LongestMatchAt(size_t i) const {
  const size_t left = pending_.size() - i;
  for (const auto& v : values_) {  // longest first
    if (v.size() <= left && std::memcmp(pending_.data() + i, v.data(), v.size()) == 0)
      return v.size();
  }
  return 0;
}

bool Masker::CouldStartValueAt(size_t i) const {
  const size_t left = pending_.size() - i;
  for (const auto& v : values_) {
    if (v.size() > left && std::memcmp(pending_.data() + i, v.data(), left) == 0) return true;
  }
  return false;
}

std::string Masker::Feed(std::string_view chunk) {
  pending_.append(chunk.data(), chunk.size());
  return Process(false);
}

std::string Masker::Finish() { return Process(true); }

std::string Masker::Process(bool at_end) {
  std::string out;
  if (values_.empty()) {
    out.swap(pending_);
    return out;
  }
  out.reserve(pending_.size());
  const size_t n = pending_.size();
  // Positions before `settled` can be decided now: every value fits after them.
  const size_t settled = n >= max_len_ ? n - max_len_ + 1 : 0;
  size_t i = 0;
  while (i < n) {
    // Copy the run of bytes that cannot start a value in one go.
    size_t run = i;
    while (run < n && !first_byte_[static_cast<unsigned char>(pending_[run])]) ++run;
    out.append(pending_, i, run - i);
    i = run;
    if (i >= n) break;
    if (i >= settled && !at_end && CouldStartValueAt(i)) break;  // wait for more bytes
    size_t len = LongestMatchAt(i);
    if (len > 0) {
      out += mask_;
      i += len;
    } else {
      out += pending_[i];
      ++i;
    }
  }
  // Keep the undecided tail; wipe the consumed bytes, which may have held a value.
  std::string rest = pending_.substr(i);
  crypto::Wipe(pending_);
  pending_ = std::move(rest);
  return out;
}

}  // namespace assent::cli
