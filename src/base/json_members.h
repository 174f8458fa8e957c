// Typed reads of JSON members that never throw: Discord's answers, a server's answers, and
// anything read back from a file or storage are data, and a member of an unexpected type
// must not become an exception (nlohmann's value() throws type_error on a type mismatch).
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace assent {

// The string member `key` of object `o`, or "" when `o` is not an object, the member is
// absent, or it is not a string.
inline std::string StrMember(const nlohmann::json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// The integer member `key` of object `o`, or nullopt when absent or not an integer.
inline std::optional<int64_t> IntMember(const nlohmann::json& o, const char* key) {
  if (!o.is_object()) return std::nullopt;
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// True only when the member exists and is the boolean true.
inline bool TrueMember(const nlohmann::json& o, const char* key) {
  if (!o.is_object()) return false;
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace assent
