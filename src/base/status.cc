#include "base/status.h"

namespace assent {

const char* ErrorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kParseError: return "parse_error";
    case ErrorCode::kInvalidRequest: return "invalid_request";
    case ErrorCode::kMethodNotFound: return "method_not_found";
    case ErrorCode::kInvalidParams: return "invalid_params";
    case ErrorCode::kInternal: return "internal_error";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kInvalidState: return "invalid_state";
    case ErrorCode::kExpired: return "expired";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kLimitExceeded: return "limit_exceeded";
    case ErrorCode::kAuditUnavailable: return "audit_unavailable";
    case ErrorCode::kNotImplemented: return "not_implemented";
  }
  return "internal_error";
}

int ErrorHttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kParseError: return 400;
    case ErrorCode::kInvalidRequest: return 400;
    case ErrorCode::kMethodNotFound: return 404;
    case ErrorCode::kInvalidParams: return 400;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kInvalidState: return 409;
    case ErrorCode::kExpired: return 410;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kLimitExceeded: return 413;
    case ErrorCode::kAuditUnavailable: return 503;
    case ErrorCode::kNotImplemented: return 501;
  }
  return 500;
}

}  // namespace assent
