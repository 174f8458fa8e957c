// Typed reads of JSON members that never throw: Discord's answers (and anything read back
// from storage) are data, and a member of an unexpected type must not become an
// exception (nlohmann's value() throws type_error on a type mismatch).
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace assent::discord {

// The string member `key` of object `o`, or "" when `o` is not an object, the member is
// absent, or it is not a string.
inline std::string StrMember(const nlohmann::json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// True only when the member exists and is the boolean true.
inline bool TrueMember(const nlohmann::json& o, const char* key) {
  if (!o.is_object()) return false;
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace assent::discord
