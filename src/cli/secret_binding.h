// `--secret NAME[=ENV]` of `assent run`: which secret goes into which variable.
//
// Thread safety: a pure function.
#pragma once

#include <optional>
#include <string>

namespace assent::cli {

struct SecretBinding {
  std::string name;  // the secret (spec SecretName grammar)
  std::string env;   // the environment variable that receives it
};

// "NAME" → {NAME, NAME with '.' and '-' turned into '_'}; "NAME=ENV" → {NAME, ENV}.
// nullopt, and a message in *error, when the name or the variable is not valid.
std::optional<SecretBinding> ParseSecretBinding(const std::string& text, std::string* error);

}  // namespace assent::cli
