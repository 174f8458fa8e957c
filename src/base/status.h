// Status and Result<T>: errors as values.
//
// Every fallible call in Assent returns a Status or a Result<T>. A Status carries an
// ErrorCode that maps 1:1 to a spec error (spec/openrpc.json components.errors) plus a
// human message that never contains a secret value, token, client key or reason text.
// Optional structured `data` travels to the JSON-RPC error's `data` member.
//
// Thread safety: plain values; copy freely.
#pragma once

#include <nlohmann/json.hpp>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace assent {

// Codes are the JSON-RPC error codes of spec/PROTOCOL.md ("Errors"). kOk is not on the
// wire.
enum class ErrorCode : int {
  kOk = 0,
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternal = -32603,
  kForbidden = -32001,
  kNotFound = -32002,
  kInvalidState = -32003,
  kExpired = -32004,
  kConflict = -32005,
  kLimitExceeded = -32006,
  kAuditUnavailable = -32007,
  kNotImplemented = -32008,
};

// The stable name of a code (e.g. "invalid_params"), as in the spec.
const char* ErrorName(ErrorCode code);
// The HTTP status a single call answered with this error gets (ASSENT-HTTP table).
int ErrorHttpStatus(ErrorCode code);

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ErrorCode code, std::string message,
                      nlohmann::json data = nullptr) {
    assert(code != ErrorCode::kOk);
    Status s;
    s.code_ = code;
    s.message_ = std::move(message);
    s.data_ = std::move(data);
    return s;
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const nlohmann::json& data() const { return data_; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  nlohmann::json data_;
};

// Shorthands for the common errors; each names the spec error it produces.
inline Status Forbidden(std::string m, nlohmann::json d = nullptr) {
  return Status::Error(ErrorCode::kForbidden, std::move(m), std::move(d));
}
inline Status NotFound(std::string m) {
  return Status::Error(ErrorCode::kNotFound, std::move(m));
}
inline Status InvalidState(std::string m, nlohmann::json d = nullptr) {
  return Status::Error(ErrorCode::kInvalidState, std::move(m), std::move(d));
}
inline Status Expired(std::string m, nlohmann::json d = nullptr) {
  return Status::Error(ErrorCode::kExpired, std::move(m), std::move(d));
}
inline Status Conflict(std::string m) {
  return Status::Error(ErrorCode::kConflict, std::move(m));
}
inline Status LimitExceeded(std::string m, const std::string& limit, long long max) {
  return Status::Error(ErrorCode::kLimitExceeded, std::move(m),
                       {{"limit", limit}, {"max", max}});
}
inline Status InvalidParams(std::string m, nlohmann::json d = nullptr) {
  return Status::Error(ErrorCode::kInvalidParams, std::move(m), std::move(d));
}
inline Status Internal(std::string m) {
  return Status::Error(ErrorCode::kInternal, std::move(m));
}
inline Status AuditUnavailable(std::string m) {
  return Status::Error(ErrorCode::kAuditUnavailable, std::move(m));
}

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace assent

// Propagates a non-ok Status from an expression returning Status.
#define ASSENT_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::assent::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)
