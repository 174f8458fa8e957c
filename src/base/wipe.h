// Overwriting sensitive bytes before memory is released: a secret's plaintext (secret.put
// carries it in the request), keys and tokens must not linger in freed heap blocks. The
// one implementation; crypto::Wipe is this for strings.
//
// explicit_bzero (glibc) is a memset the compiler may not remove. Best effort by nature:
// copies made inside libraries (cpp-httplib's stack read buffer, nlohmann's lexer token
// buffer) and the kernel's socket buffers are out of reach; RFC 0001 §10 lists them.
//
// Thread safety: pure functions on the caller's objects.
#pragma once

#include <string.h>

#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>
#include <vector>

namespace assent {

inline void WipeBytes(void* p, size_t n) {
  if (p && n) ::explicit_bzero(p, n);
}

// Overwrites the whole allocated capacity (a string that shrank keeps old bytes beyond
// its size), then clears the string.
inline void WipeString(std::string& s) {
  s.resize(s.capacity());
  WipeBytes(s.data(), s.size());
  s.clear();
}

// Overwrites every string value in `j` (object keys are names, not data, and stay).
// Iterative: the depth of `j` is not bounded here.
inline void WipeJsonStrings(nlohmann::json& j) {
  std::vector<nlohmann::json*> todo{&j};
  while (!todo.empty()) {
    nlohmann::json* v = todo.back();
    todo.pop_back();
    if (v->is_string()) {
      WipeString(v->get_ref<std::string&>());
    } else if (v->is_object() || v->is_array()) {
      for (auto it = v->begin(); it != v->end(); ++it) todo.push_back(&*it);
    }
  }
}

// Wipes `value` (a std::string or a JSON document) when the scope ends, whichever way.
template <typename T>
class WipeOnExit {
 public:
  explicit WipeOnExit(T& value) : value_(value) {}
  ~WipeOnExit() {
    if constexpr (std::is_same_v<T, nlohmann::json>) WipeJsonStrings(value_);
    else WipeString(value_);
  }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  T& value_;
};

}  // namespace assent
