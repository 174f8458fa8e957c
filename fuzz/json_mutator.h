// A structure-aware JSON mutator for the harnesses' LLVMFuzzerCustomMutator.
//
// Byte flips rarely keep a JSON document valid, so most of their inputs die in the
// parser and never reach schema validation or a handler. This mutator parses the
// document, changes one node of the tree — a boundary value for a limit, a member
// added, removed or renamed, an element duplicated, a node wrapped or spliced from
// elsewhere in the tree, a name the spec uses — and serializes it again
// (CONFORMANCE.md, "Fuzzing alongside the suite"). Harnesses call it for part of their
// mutations and fall back to libFuzzer's byte mutator for the rest, so malformed
// documents are still produced.
//
// Boundary lengths and numbers come from spec/limits.json (each N-1, N, N+1), words
// from the spec's method, parameter and member names and its example values.
//
// Thread safety: a Mutator is used from libFuzzer's single mutation thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// libFuzzer's byte mutator; absent (null) under the replay driver and AFL++'s driver.
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size,
                                                         size_t max_size);

namespace assent::fuzz {

class JsonMutator {
 public:
  // Gathers words and boundary numbers from the OpenRPC document and limits.json.
  void Learn(const nlohmann::json& openrpc, const nlohmann::json& limits) {
    std::set<std::string> words;
    std::set<int64_t> numbers = {0, 1, -1, 2, 255, 256, 65535, 65536, INT32_MAX,
                                 int64_t{INT32_MAX} + 1, (int64_t{1} << 53) - 1,
                                 int64_t{1} << 53, INT64_MAX, INT64_MIN};
    Walk(openrpc, &words, &numbers);
    Walk(limits, &words, &numbers);
    words_.assign(words.begin(), words.end());
    for (int64_t n : numbers) {
      numbers_.push_back(n);
      if (n > INT64_MIN) numbers_.push_back(n - 1);
      if (n < INT64_MAX) numbers_.push_back(n + 1);
    }
    for (int64_t n : numbers)
      if (n > 0 && n <= 100'000) lengths_.insert({static_cast<size_t>(n - 1),
                                                  static_cast<size_t>(n),
                                                  static_cast<size_t>(n + 1)});
  }

  // Mutates the JSON text `text`; nullopt when it is not JSON or the result would not
  // fit in `max_size` bytes.
  std::optional<std::string> Mutate(std::string_view text, size_t max_size,
                                    std::mt19937_64& rng) const {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return std::nullopt;
    std::vector<nlohmann::json*> nodes;
    Collect(doc, &nodes);
    nlohmann::json* node = nodes[Pick(rng, nodes.size())];
    const nlohmann::json donor = *nodes[Pick(rng, nodes.size())];
    switch (Pick(rng, 8)) {
      case 0: *node = Scalar(rng); break;
      case 1: *node = donor; break;  // splice another part of the tree here
      case 2:
        if (node->is_object()) {
          MutateObject(*node, rng);
        } else {
          *node = nlohmann::json{{Word(rng), *node}};
        }
        break;
      case 3:
        if (node->is_array()) {
          MutateArray(*node, rng);
        } else {
          *node = nlohmann::json::array({*node});
        }
        break;
      case 4:
        if (node->is_string()) {
          MutateString(node->get_ref<std::string&>(), rng);
        } else {
          *node = Word(rng);
        }
        break;
      case 5:
        if (node->is_number_integer()) {
          int64_t v = node->get<int64_t>();
          const int64_t deltas[] = {1, -1, 2, -2};
          int64_t d = deltas[Pick(rng, 4)];
          *node = (d > 0 && v > INT64_MAX - d) || (d < 0 && v < INT64_MIN - d) ? v : v + d;
        } else {
          *node = numbers_.empty() ? 0 : numbers_[Pick(rng, numbers_.size())];
        }
        break;
      case 6: {
        // Deep nesting: the endpoint's depth limit and the validator's recursion.
        size_t depth = 1 + Pick(rng, 80);
        nlohmann::json wrapped = *node;
        for (size_t i = 0; i < depth; ++i)
          wrapped = Pick(rng, 2) ? nlohmann::json::array({wrapped})
                                 : nlohmann::json{{Word(rng), wrapped}};
        *node = std::move(wrapped);
        break;
      }
      default:
        // Type swap keeping the content's spirit: "5" ↔ 5, true ↔ "true", x ↔ [x].
        if (node->is_string()) {
          *node = nlohmann::json::parse(node->get<std::string>(), nullptr, false);
          if (node->is_discarded()) *node = nullptr;
        } else {
          *node = node->dump();
        }
        break;
    }
    std::string out = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (out.size() > max_size) return std::nullopt;
    return out;
  }

  // A word of the spec (method, member, enum value), for harnesses that build text.
  std::string Word(std::mt19937_64& rng) const {
    return words_.empty() ? std::string("x") : words_[Pick(rng, words_.size())];
  }

  static size_t Pick(std::mt19937_64& rng, size_t n) {
    return n == 0 ? 0 : static_cast<size_t>(rng() % n);
  }

 private:
  static void Collect(nlohmann::json& j, std::vector<nlohmann::json*>* out) {
    out->push_back(&j);
    if (j.is_structured())
      for (auto& e : j) Collect(e, out);
  }

  static void Walk(const nlohmann::json& j, std::set<std::string>* words,
                   std::set<int64_t>* numbers) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key().size() <= 64) words->insert(it.key());
        Walk(it.value(), words, numbers);
      }
    } else if (j.is_array()) {
      for (const auto& e : j) Walk(e, words, numbers);
    } else if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      if (s.size() <= 64 && s.find(' ') == std::string::npos) words->insert(s);
    } else if (j.is_number_integer()) {
      numbers->insert(j.get<int64_t>());
    }
  }

  nlohmann::json Scalar(std::mt19937_64& rng) const {
    switch (Pick(rng, 7)) {
      case 0: return nullptr;
      case 1: return Pick(rng, 2) == 1;
      case 2: return numbers_.empty() ? 0 : numbers_[Pick(rng, numbers_.size())];
      case 3: {
        const double doubles[] = {0.5, -0.0, 1e308, -1e308, 1e-308, 4.0, 9007199254740993.0};
        return doubles[Pick(rng, 7)];
      }
      case 4: return Word(rng);
      case 5: return LongString(rng);
      default: return nlohmann::json::object();
    }
  }

  std::string LongString(std::mt19937_64& rng) const {
    size_t n = 0;
    if (!lengths_.empty()) {
      auto it = lengths_.begin();
      std::advance(it, Pick(rng, lengths_.size()));
      n = *it;
    }
    // Multi-byte characters test limits counted in UTF-8 bytes against schema
    // maxLength counted in code points; a NUL tests C-string truncation.
    const std::string units[] = {"x", "\xc3\xa9", "\xf0\x9f\x94\x91", "\\", "\"",
                                 std::string(1, '\0')};
    size_t u = Pick(rng, 6);
    std::string out;
    for (size_t i = 0; i < n; ++i) out += units[u];
    if (Pick(rng, 8) == 0) out += std::string(1, '\0');
    return out;
  }

  void MutateObject(nlohmann::json& obj, std::mt19937_64& rng) const {
    switch (Pick(rng, 3)) {
      case 0:
        if (!obj.empty()) {
          auto it = obj.begin();
          std::advance(it, Pick(rng, obj.size()));
          obj.erase(it);
          return;
        }
        [[fallthrough]];
      case 1: obj[Word(rng)] = Scalar(rng); return;
      default:
        if (!obj.empty()) {
          auto it = obj.begin();
          std::advance(it, Pick(rng, obj.size()));
          nlohmann::json v = it.value();
          obj.erase(it);
          obj[Word(rng)] = std::move(v);
        }
        return;
    }
  }

  void MutateArray(nlohmann::json& arr, std::mt19937_64& rng) const {
    switch (Pick(rng, 4)) {
      case 0:
        if (!arr.empty()) {
          arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(Pick(rng, arr.size())));
          return;
        }
        [[fallthrough]];
      case 1:
        if (!arr.empty()) {
          arr.push_back(arr[Pick(rng, arr.size())]);  // duplicates: uniqueItems
          return;
        }
        [[fallthrough]];
      case 2: arr.push_back(Scalar(rng)); return;
      default: {
        // Grow to a length limit's edge by repeating the first element.
        nlohmann::json first = arr.empty() ? nlohmann::json(Word(rng)) : arr[0];
        size_t n = std::min<size_t>(1 + Pick(rng, 130), 130);
        while (arr.size() < n) arr.push_back(first);
        return;
      }
    }
  }

  void MutateString(std::string& s, std::mt19937_64& rng) const {
    switch (Pick(rng, 4)) {
      case 0:
        if (!s.empty()) s.resize(Pick(rng, s.size()));
        return;
      case 1: {
        // Stretch to a boundary length by repeating the last character.
        std::string last = s.empty() ? std::string("a") : s.substr(s.size() - 1);
        size_t target = 0;
        if (!lengths_.empty()) {
          auto it = lengths_.begin();
          std::advance(it, Pick(rng, lengths_.size()));
          target = *it;
        }
        while (s.size() < target) s += last;
        return;
      }
      case 2: s = Word(rng); return;
      default: {
        const char* odd[] = {"\xc3\xa9", " ", "\t", "\n", "%00", "../", "\xe2\x80\xae"};
        s.insert(Pick(rng, s.size() + 1), odd[Pick(rng, 7)]);
        return;
      }
    }
  }

  std::vector<std::string> words_;
  std::vector<int64_t> numbers_;
  std::set<size_t> lengths_;
};

// The mutator entry every JSON harness shares: half the time the structure-aware
// mutation of the JSON text after `prefix_len` bytes (a harness's own header), else
// libFuzzer's byte mutator.
inline size_t MutateJsonInput(const JsonMutator& m, uint8_t* data, size_t size,
                              size_t max_size, unsigned int seed, size_t prefix_len) {
  std::mt19937_64 rng(seed);
  if (size >= prefix_len && rng() % 2 == 0) {
    std::string_view text(reinterpret_cast<const char*>(data) + prefix_len, size - prefix_len);
    if (max_size > prefix_len) {
      if (auto out = m.Mutate(text, max_size - prefix_len, rng)) {
        std::copy(out->begin(), out->end(), data + prefix_len);
        return prefix_len + out->size();
      }
    }
  }
  if (LLVMFuzzerMutate) return LLVMFuzzerMutate(data, size, max_size);
  return size;
}

}  // namespace assent::fuzz
