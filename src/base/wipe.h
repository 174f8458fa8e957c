// Overwriting sensitive bytes before memory is released: a secret's plaintext (secret.put
// carries it in the request) must not linger in freed heap blocks of the daemon.
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

}  // namespace assent
