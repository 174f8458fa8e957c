#include "cli/secret_binding.h"

#include <cctype>

namespace assent::cli {

namespace {

bool IsEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

// common.json#/definitions/SecretName: ^[A-Za-z_][A-Za-z0-9_.-]{0,127}$
bool IsSecretName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (!(std::isalpha(c0) || c0 == '_')) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

}  // namespace

std::optional<SecretBinding> ParseSecretBinding(const std::string& text, std::string* error) {
  SecretBinding b;
  size_t eq = text.find('=');
  b.name = text.substr(0, eq);
  if (!IsSecretName(b.name)) {
    *error = "'" + b.name + "' is not a secret name (letters, digits, _ . -, starting with "
             "a letter or _)";
    return std::nullopt;
  }
  if (eq == std::string::npos) {
    b.env = b.name;
    for (char& c : b.env)
      if (c == '.' || c == '-') c = '_';
  } else {
    b.env = text.substr(eq + 1);
  }
  if (!IsEnvName(b.env)) {
    *error = "'" + b.env + "' is not an environment variable name (letters, digits and _, "
             "not starting with a digit)";
    return std::nullopt;
  }
  return b;
}

}  // namespace assent::cli
