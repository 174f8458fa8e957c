// The spec files, embedded at build time by cmake/embed_spec.cmake.
//
// Paths are relative to spec/ ("openrpc.json", "schemas/common.json", "limits.json").
// The data is static and immutable: safe from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace assent::spec {

struct EmbeddedFile {
  std::string_view path;
  std::string_view content;
};

const std::vector<EmbeddedFile>& EmbeddedFiles();

}  // namespace assent::spec
