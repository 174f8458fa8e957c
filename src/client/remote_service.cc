#include "client/remote_service.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/json_members.h"

namespace assent::client {

namespace {

constexpr const char* kApiVersion = "1";

ServiceError Unreachable(const ServerAddress& a, const std::string& why) {
  ServiceError e;
  e.kind = ServiceError::Kind::kUnreachable;
  e.name = "unreachable";
  e.message = "cannot reach assentd at " + a.ToString() + ": " + why;
  return e;
}

ServiceError ProtocolError(std::string message, int http_status = 0) {
  ServiceError e;
  e.kind = ServiceError::Kind::kProtocol;
  e.name = "protocol_error";
  e.message = std::move(message);
  e.http_status = http_status;
  return e;
}

std::string DescribeHttplibError(httplib::Error err) {
  switch (err) {
    case httplib::Error::Connection: return "connection failed";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "no answer (read failed or timed out)";
    case httplib::Error::Write: return "could not send the request";
    case httplib::Error::Canceled: return "cancelled";
    default: return httplib::to_string(err);
  }
}

// Why a Unix socket path cannot be connected to, in words that suggest the fix.
std::string UnixSocketProblem(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return "no socket at " + path;
    if (errno == EACCES) return "permission denied on " + path;
    return std::strerror(errno);
  }
  if (!S_ISSOCK(st.st_mode)) return path + " is not a socket";
  return "";
}

std::unique_ptr<httplib::Client> MakeClient(const ServerAddress& a, const RemoteOptions& o,
                                            int64_t read_timeout_s) {
  std::unique_ptr<httplib::Client> cli;
  if (a.kind == ServerAddress::Kind::kUnix) {
    cli = std::make_unique<httplib::Client>(a.path, 80);
    cli->set_address_family(AF_UNIX);
  } else {
    cli = std::make_unique<httplib::Client>(a.host, a.port);
    cli->set_tcp_nodelay(true);
  }
  cli->set_connection_timeout(o.connect_timeout_ms / 1000, (o.connect_timeout_ms % 1000) * 1000);
  cli->set_read_timeout(read_timeout_s, 0);
  cli->set_write_timeout(o.write_timeout_s, 0);
  cli->set_keep_alive(false);
  cli->set_follow_location(false);
  cli->set_compress(false);
  return cli;
}

}  // namespace

std::string ServerAddress::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return "tcp://" + host + ":" + std::to_string(port);
}

std::optional<ServerAddress> ParseServerAddress(const std::string& text, std::string* error) {
  ServerAddress a;
  if (text.rfind("unix:", 0) == 0) {
    a.kind = ServerAddress::Kind::kUnix;
    a.path = text.substr(5);
    if (a.path.empty() || a.path[0] != '/') {
      *error = "'" + text + "': a Unix socket address must be unix:/ABSOLUTE/PATH";
      return std::nullopt;
    }
    return a;
  }
  std::string rest;
  if (text.rfind("tcp://", 0) == 0) rest = text.substr(6);
  else if (text.rfind("http://", 0) == 0) rest = text.substr(7);
  else {
    *error = "'" + text + "': expected unix:/PATH or tcp://HOST:PORT";
    return std::nullopt;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
      std::stoi(port) > 65535) {
    *error = "'" + text + "': expected tcp://HOST:PORT with a port 1..65535";
    return std::nullopt;
  }
  a.kind = ServerAddress::Kind::kTcp;
  a.host = rest.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  a.port = std::stoi(port);
  return a;
}

Reply<json> InterpretRpcAnswer(int http_status, const std::string& body) {
  if (body.empty())
    return ProtocolError("the server sent HTTP " + std::to_string(http_status) + " with no body",
                         http_status);
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return ProtocolError("the server sent HTTP " + std::to_string(http_status) +
                             " with a body that is not a JSON object",
                         http_status);
  // HttpError (spec/schemas/http.json): {"error": "<name>", "message": …}.
  if (j.contains("error") && j["error"].is_string()) {
    ServiceError e;
    e.kind = ServiceError::Kind::kHttp;
    e.name = j["error"].get<std::string>();
    e.message = StrMember(j, "message");
    e.data = j;
    e.http_status = http_status;
    return e;
  }
  if (StrMember(j, "jsonrpc") != "2.0")
    return ProtocolError("the server's answer is not JSON-RPC 2.0", http_status);
  if (j.contains("error") && j["error"].is_object()) {
    const json& err = j["error"];
    auto code = IntMember(err, "code");
    if (!code || *code < INT32_MIN || *code > INT32_MAX)
      return ProtocolError("the server's JSON-RPC error has no integer code", http_status);
    ServiceError e;
    e.kind = ServiceError::Kind::kRpc;
    e.code = static_cast<int>(*code);
    e.message = StrMember(err, "message");
    e.data = err.contains("data") ? err["data"] : json(nullptr);
    e.http_status = http_status;
    e.name = ErrorNameForCode(e.code);
    return e;
  }
  if (!j.contains("result"))
    return ProtocolError("the server's answer has neither result nor error", http_status);
  return j["result"];
}

RemoteService::RemoteService(ServerAddress address, std::string token, RemoteOptions options)
    : address_(std::move(address)), token_(std::move(token)), options_(options) {}

void RemoteService::SetIdentity(const ClientIdentity& identity) {
  std::lock_guard<std::mutex> lock(mu_);
  identity_ = identity;
}

Reply<json> RemoteService::Call(const std::string& method, const json& params) {
  return Post(method, params, options_.read_timeout_s);
}

Reply<json> RemoteService::CallWithDeadline(const std::string& method, const json& params,
                                            int64_t deadline_s) {
  return Post(method, params, std::max(deadline_s, options_.read_timeout_s));
}

Reply<json> RemoteService::Post(const std::string& method, const json& params,
                                int64_t read_timeout_s) {
  httplib::Headers headers = {{"Assent-Api-Version", kApiVersion}};
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    if (identity_) {
      headers.emplace("Assent-Client-Id", identity_->client_id);
      headers.emplace("Assent-Client-Key", identity_->client_key);
    }
  }
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  // Secret values (secret.put) may be arbitrary bytes; never throw on them.
  std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);

  auto cli = MakeClient(address_, options_, read_timeout_s);
  auto res = cli->Post("/rpc", headers, body, "application/json");
  // The request body may hold a secret value: wipe our copy.
  std::fill(body.begin(), body.end(), '\0');
  if (!res) {
    std::string why = DescribeHttplibError(res.error());
    if (address_.kind == ServerAddress::Kind::kUnix && res.error() == httplib::Error::Connection) {
      std::string problem = UnixSocketProblem(address_.path);
      why = problem.empty() ? "connection refused (stale socket?)" : problem;
    } else if (res.error() == httplib::Error::Connection) {
      why = "connection refused";
    }
    return Unreachable(address_, why);
  }
  return InterpretRpcAnswer(res->status, res->body);
}

bool RemoteService::Healthy(int64_t timeout_ms) const {
  RemoteOptions o = options_;
  o.connect_timeout_ms = timeout_ms;
  auto cli = MakeClient(address_, o, std::max<int64_t>(1, timeout_ms / 1000));
  auto res = cli->Get("/healthz");
  return res && res->status == 200;
}

Reply<int64_t> RemoteService::StreamEvents(std::optional<int64_t> since, const EventSink& sink) {
  httplib::Headers headers = {{"Assent-Api-Version", kApiVersion},
                              {"Accept", "text/event-stream"}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (identity_) {
      headers.emplace("Assent-Client-Id", identity_->client_id);
      headers.emplace("Assent-Client-Key", identity_->client_key);
    }
  }
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  if (since) headers.emplace("Last-Event-ID", std::to_string(*since));

  int64_t last = since.value_or(0);
  bool stopped = false;
  int status = 0;
  std::string error_body;
  SseParser parser;
  EventSink tracking = [&](const ServerEvent& ev) {
    if (ev.id) last = *ev.id;
    return sink(ev);
  };
  auto cli = MakeClient(address_, options_, options_.events_read_timeout_s);
  auto res = cli->Get(
      "/events", headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status != 200) {
          if (error_body.size() < 64 * 1024) error_body.append(data, n);
          return true;
        }
        if (!parser.Feed(std::string(data, n), tracking)) {
          stopped = true;
          return false;
        }
        return true;
      });
  if (stopped) return last;
  if (status != 0 && status != 200) {
    Reply<json> r = InterpretRpcAnswer(status, error_body);
    if (!r.ok()) return r.error();
    return ProtocolError("GET /events answered HTTP " + std::to_string(status), status);
  }
  if (!res) {
    if (status == 200) {
      // The stream was open and then broke (daemon restart, read timeout).
      ServiceError e = Unreachable(address_, "event stream interrupted: " +
                                                 DescribeHttplibError(res.error()));
      e.data = {{"last_event_id", last}};
      return e;
    }
    std::string why = DescribeHttplibError(res.error());
    if (address_.kind == ServerAddress::Kind::kUnix && res.error() == httplib::Error::Connection) {
      std::string problem = UnixSocketProblem(address_.path);
      why = problem.empty() ? "connection refused (stale socket?)" : problem;
    }
    return Unreachable(address_, why);
  }
  return last;  // the server closed the stream
}

bool SseParser::Feed(const std::string& bytes, const EventSink& sink) {
  line_buffer_ += bytes;
  size_t start = 0;
  while (true) {
    size_t nl = line_buffer_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = line_buffer_.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!Dispatch(sink)) {
        line_buffer_.erase(0, start);
        return false;
      }
      continue;
    }
    if (line[0] == ':') continue;  // comment (heartbeat)
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "event") {
      event_type_ = value;
    } else if (field == "data") {
      if (has_data_) data_ += "\n";
      data_ += value;
      has_data_ = true;
    } else if (field == "id") {
      if (!value.empty() && value.size() <= 18 &&
          value.find_first_not_of("0123456789") == std::string::npos)
        id_ = std::stoll(value);
    }
    // "retry" and unknown fields are ignored: reconnection policy is the caller's.
  }
  line_buffer_.erase(0, start);
  return true;
}

bool SseParser::Dispatch(const EventSink& sink) {
  if (!has_data_ && event_type_.empty()) {
    id_.reset();
    return true;
  }
  ServerEvent ev;
  ev.type = event_type_.empty() ? "message" : event_type_;
  ev.id = id_;
  ev.data = json::parse(data_, nullptr, false);
  if (ev.data.is_discarded()) ev.data = data_;
  event_type_.clear();
  data_.clear();
  has_data_ = false;
  id_.reset();
  return sink(ev);
}

}  // namespace assent::client
