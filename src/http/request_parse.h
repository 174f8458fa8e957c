// Parsers for the request headers and query values the HTTP layer acts on.
//
// Free functions over string views, without cpp-httplib, so that unit tests and the
// headers_query fuzz harness (fuzz/headers_query_fuzz.cc) exercise exactly the code
// HttpServer runs. Each returns nothing for a value it refuses; the caller turns that
// into the documented HTTP error.
//
// Implements the grammars of spec/PROTOCOL.md §3: ASSENT-HTTP-016/017 (version),
// ASSENT-EVT-005/012 (event cursor), the `Authorization` row (bearer token).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace assent::http {

// An `Assent-Api-Version` value, `^[0-9]+(\.[0-9]+)?$`. Numbers compare by value, so
// leading zeros are allowed ("01" is major 1). A part too large for uint64_t saturates
// at UINT64_MAX: such a major is "another major", such a minor is still served
// (ASSENT-HTTP-017).
struct ApiVersion {
  uint64_t major = 0;
  std::optional<uint64_t> minor;
};
std::optional<ApiVersion> ParseApiVersion(std::string_view value);

// An event cursor from `?since=` or `Last-Event-ID`: one or more ASCII digits and
// nothing else (no sign, space or fraction), at most INT64_MAX (event ids are int64).
std::optional<int64_t> ParseEventCursor(std::string_view value);

// The token of an `Authorization: Bearer <token>` value. The scheme is
// case-insensitive (RFC 7235 §2.1) and followed by one or more spaces; the token must
// match the spec's grammar `^[A-Za-z0-9_.~-]{16,256}$`, with nothing after it. The
// view points into `value`.
std::optional<std::string_view> ParseBearer(std::string_view value);

// Token grammar bounds (spec/PROTOCOL.md §3, ASSENT-TGT-003).
inline constexpr size_t kBearerTokenBytesMin = 16;
inline constexpr size_t kBearerTokenBytesMax = 256;

}  // namespace assent::http
