#include "http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/limits.h"
#include "crypto/crypto.h"
#include "test_support.h"

namespace assent {
namespace {

using nlohmann::json;

const char* kAdminToken = "admin-token-for-tests-0123456789";

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    dir_ = std::filesystem::temp_directory_path() /
           ("assent-http-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto t = auth::TokenStore::Parse(R"({"version":1,"tokens":[{"name":"a","role":"admin","hash":")" +
                                     auth::TokenStore::HashForFile(kAdminToken) + R"("}]})");
    ASSERT_TRUE(t.ok());
    tokens_ = *t;
    http::ServerOptions o;
    o.listeners.push_back({http::ListenerConfig::Kind::kUnix, (dir_ / "run/s.sock").string(), "", 0});
    o.listeners.push_back({http::ListenerConfig::Kind::kTcp, "", "127.0.0.1", 0});
    server_ = std::make_unique<http::HttpServer>(o, *fixture_.endpoint, tokens_, lockout_, metrics_);
    server_->SetClientVerifier([](const std::string& id, const std::string& key) {
      return id == "cl_00000000000000000000000000000001" && key == "good-key";
    });
    ASSERT_TRUE(server_->Start().ok());
    server_->SetReady(true);
    for (const auto& b : server_->bound())
      if (b.kind == http::ListenerConfig::Kind::kTcp) tcp_ = b.address;
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  httplib::Client Tcp() {
    httplib::Client c("http://" + tcp_);
    c.set_read_timeout(5, 0);
    return c;
  }
  httplib::Client Unix() {
    httplib::Client c((dir_ / "run/s.sock").string());
    c.set_address_family(AF_UNIX);
    return c;
  }
  static httplib::Headers Headers(bool token = true) {
    httplib::Headers h = {{"Assent-Api-Version", "1"}};
    if (token) h.emplace("Authorization", std::string("Bearer ") + kAdminToken);
    return h;
  }

  std::filesystem::path dir_;
  testing::SystemFixture fixture_;
  auth::TokenStore tokens_;
  FakeClock clock_;
  auth::Lockout lockout_{clock_};
  http::Metrics metrics_;
  std::unique_ptr<http::HttpServer> server_;
  std::string tcp_;
};

const char* kPing = R"({"jsonrpc":"2.0","method":"system.ping","id":1})";

TEST_F(HttpServerTest, TcpPingWithTokenSucceeds) {
  auto r = Tcp().Post("/rpc", Headers(), kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["result"]["pong"], true);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(HttpServerTest, TcpWithoutTokenIs401WithJsonBody) {
  auto r = Tcp().Post("/rpc", Headers(false), kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"], "unauthorized");
}

TEST_F(HttpServerTest, MissingOrOtherMajorVersionIs426NamingBoth) {
  auto r = Tcp().Post("/rpc", {{"Authorization", std::string("Bearer ") + kAdminToken}}, kPing,
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(json::parse(r->body)["received"], "") << "missing header is received as \"\"";
  r = Tcp().Post("/rpc", {{"Assent-Api-Version", "2.1"}}, kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(json::parse(r->body)["expected"], "1");
  EXPECT_EQ(json::parse(r->body)["received"], "2.1");
  auto h = Headers();
  h.erase("Assent-Api-Version");
  h.emplace("Assent-Api-Version", "1.7");
  r = Tcp().Post("/rpc", h, kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << "a minor version of major 1 is accepted";
}

TEST_F(HttpServerTest, OtherContentTypeIs415) {
  auto r = Tcp().Post("/rpc", Headers(), kPing, "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = Tcp().Post("/rpc", Headers(), kPing, "application/json; charset=utf-8");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, BodyLimitAtNAndNPlus1) {
  std::string at(kPing);
  at.resize(static_cast<size_t>(limits::kRpcBodyBytesMax), ' ');  // whitespace is valid JSON
  auto r = Tcp().Post("/rpc", Headers(), at, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  at.push_back(' ');
  r = Tcp().Post("/rpc", Headers(), at, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["error"], "payload_too_large");
}

TEST_F(HttpServerTest, ThirdFailureLocksThePeerOut) {
  httplib::Headers bad = {{"Assent-Api-Version", "1"}, {"Authorization", "Bearer wrong-token-xxxxxxxx"}};
  for (int64_t i = 0; i < limits::kAuthFailuresMax; ++i) {
    auto r = Tcp().Post("/rpc", bad, kPing, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }
  auto r = Tcp().Post("/rpc", Headers(), kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << "even a valid token is refused while locked out";
  EXPECT_EQ(r->get_header_value("Retry-After"), std::to_string(limits::kLockoutSeconds));
  EXPECT_EQ(json::parse(r->body)["retry_after_s"], limits::kLockoutSeconds);
  clock_.AdvanceMs(limits::kLockoutSeconds * 1000);
  r = Tcp().Post("/rpc", Headers(), kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, ClientKeyMustProveTheId) {
  auto h = Headers();
  h.emplace("Assent-Client-Id", "cl_00000000000000000000000000000001");
  h.emplace("Assent-Client-Key", "good-key");
  auto r = Tcp().Post("/rpc", h, R"({"jsonrpc":"2.0","method":"system.info","id":1})",
                      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["result"]["client_id"], "cl_00000000000000000000000000000001");
  h.erase("Assent-Client-Key");
  h.emplace("Assent-Client-Key", "bad-key");
  r = Tcp().Post("/rpc", h, kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(HttpServerTest, UnixSocketWithoutTokenIsAgent) {
  auto r = Unix().Post("/rpc", Headers(false), R"({"jsonrpc":"2.0","method":"system.info","id":1})",
                       "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["result"]["role"], "agent");
  auto st = std::filesystem::status(dir_ / "run/s.sock");
  EXPECT_EQ(st.permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(std::filesystem::status(dir_ / "run").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
}

// The peer-credential seam (http/httplib_seam.h): a connection from another UID must be
// refused. Needs root to switch UID in a child; skipped (with the reason) otherwise.
TEST_F(HttpServerTest, PeerCredSeamRefusesForeignUid) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect from another UID";
  // The socket is 0600 in a 0700 directory; open both up for this test only, so the
  // kernel lets the foreign UID connect and the daemon's own check is what refuses it.
  std::filesystem::permissions(dir_ / "run", std::filesystem::perms::all);
  std::filesystem::permissions(dir_ / "run/s.sock", std::filesystem::perms::all);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto r = Unix().Post("/rpc", Headers(false), kPing, "application/json");
    if (!r) ::_exit(11);
    ::_exit(r->status == 403 && json::parse(r->body)["error"] == "peer_forbidden" ? 0 : 12);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setuid failed, 11: no answer, 12: not refused";
}

TEST_F(HttpServerTest, StaleSocketIsReplacedButALiveOneIsNot) {
  http::ServerOptions o;
  o.listeners.push_back({http::ListenerConfig::Kind::kUnix, (dir_ / "run/s.sock").string(), "", 0});
  http::HttpServer second(o, *fixture_.endpoint, tokens_, lockout_, metrics_);
  Status st = second.Start();
  EXPECT_FALSE(st.ok()) << "a live daemon answers on the socket";
  EXPECT_NE(st.message().find("already serving"), std::string::npos);
}

TEST_F(HttpServerTest, HealthReadyAndMetrics) {
  auto r = Tcp().Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Tcp().Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["ready"], true);
  r = Tcp().Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  Tcp().Post("/rpc", Headers(), kPing, "application/json");
  r = Tcp().Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("assent_rpc_calls_total"), std::string::npos);
  EXPECT_EQ(r->body.find(kAdminToken), std::string::npos);
}

TEST_F(HttpServerTest, KnownPathWithOtherMethodIs405WithAllow) {
  auto r = Tcp().Post("/events", Headers(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD") << "HEAD is served wherever GET is";
  EXPECT_EQ(json::parse(r->body)["error"], "method_not_allowed");
  EXPECT_EQ(json::parse(r->body)["allow"], "GET, HEAD");
  r = Tcp().Get("/rpc", Headers());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
}

TEST_F(HttpServerTest, OptionsOnAKnownPathIs405WithAllow) {
  auto r = Tcp().Options("/rpc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  EXPECT_EQ(json::parse(r->body)["error"], "method_not_allowed");
  r = Tcp().Options("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(json::parse(r->body)["allow"], "GET, HEAD");
}

TEST_F(HttpServerTest, HeadIsGetWithoutBodyAndNotAllowedOnPostPaths) {
  auto r = Tcp().Head("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  r = Tcp().Head("/rpc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
}

// ---- the connection loop (http/connection.h) --------------------------------------------

// One raw TCP connection: the tests below frame requests byte by byte.
class Raw {
 public:
  explicit Raw(const std::string& host_port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1))));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{3, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close before reading everything
      off += static_cast<size_t>(n);
    }
  }
  // Everything the server sends until it closes, or until 3 s pass without a byte
  // (then `closed` is false).
  std::string ReadAll(bool* closed) {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      *closed = n == 0 || errno == ECONNRESET;
      return out;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::string PingRequest(const std::string& extra = "") {
  return std::string("POST /rpc HTTP/1.1\r\nHost: x\r\nAssent-Api-Version: 1\r\n") +
         "Authorization: Bearer " + kAdminToken + "\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(std::strlen(kPing)) + "\r\n\r\n" + kPing;
}

const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(HttpServerTest, ConnectionGetWithABodyIsAnsweredThenClosed) {
  for (const char* method : {"GET", "HEAD", "OPTIONS"}) {
    Raw c(tcp_);
    ASSERT_TRUE(c.connected());
    c.Send(std::string(method) + " /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " +
           std::to_string(kSmuggled.size()) + "\r\n\r\n" + kSmuggled + PingRequest());
    bool closed = false;
    std::string got = c.ReadAll(&closed);
    EXPECT_TRUE(closed) << method << ": the server must close after a body it did not read";
    EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << method << ": one answer only, got:\n" << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    EXPECT_EQ(got.find("smuggled"), std::string::npos) << "the body was parsed as a request";
  }
}

TEST_F(HttpServerTest, ConnectionRequestsSentTogetherAreAllServed) {
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  c.Send(PingRequest() + PingRequest() + PingRequest("Connection: close\r\n"));
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_EQ(Count(got, "\"pong\":true"), 3u) << got;
}

TEST_F(HttpServerTest, ConnectionGoesOnPastTheRequestLimitWhileNoOtherWaits) {
  // The limit exists so that queued connections get a worker; with none queued, the
  // connection serves every request (here half as many again as the limit).
  const size_t n = static_cast<size_t>(limits::kKeepAliveRequestsMax) * 3 / 2;
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  std::string requests;
  for (size_t i = 0; i < n; ++i) requests += PingRequest();
  c.Send(requests + PingRequest("Connection: close\r\n"));
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(Count(got, "\"pong\":true"), n + 1);
  EXPECT_EQ(Count(got, "Connection: close"), 1u) << "closed before the request that asked";
}

TEST_F(HttpServerTest, ConnectionEndsAtTheRequestLimitWhileAnotherWaitsForAWorker) {
  // Every worker of the TCP listener held by an idle keep-alive connection, one more
  // connection queued: a busy connection ends at the limit so the queued one is served.
  const size_t workers = static_cast<size_t>(limits::kHttpWorkerThreads);
  std::vector<std::unique_ptr<Raw>> holders;
  for (size_t i = 0; i + 1 < workers; ++i) {
    holders.push_back(std::make_unique<Raw>(tcp_));
    holders.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  Raw busy(tcp_);
  ASSERT_TRUE(busy.connected());
  busy.Send(PingRequest());  // the last worker
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Raw queued(tcp_);
  ASSERT_TRUE(queued.connected());
  queued.Send(PingRequest("Connection: close\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string requests;
  for (int64_t i = 1; i < limits::kKeepAliveRequestsMax * 2; ++i) requests += PingRequest();
  busy.Send(requests);
  bool closed = false;
  std::string got = busy.ReadAll(&closed);
  EXPECT_TRUE(closed);
  // All 100 answers arrive, the last saying so: the server lingers over the pipelined
  // requests it will not serve instead of resetting the connection under its answers.
  EXPECT_EQ(Count(got, "\"pong\":true"), static_cast<size_t>(limits::kKeepAliveRequestsMax));
  EXPECT_EQ(Count(got, "Connection: close"), 1u);
  std::string queued_got = queued.ReadAll(&closed);
  EXPECT_EQ(Count(queued_got, "\"pong\":true"), 1u) << "the queued connection was served";
}

TEST_F(HttpServerTest, ConnectionRefusedBodyClosesAfterTheAnswer) {
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  // PUT /rpc: 405, its body is not read.
  c.Send("PUT /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kSmuggled.size()) +
         "\r\n\r\n" + kSmuggled);
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(Count(got, "HTTP/1.1 405"), 1u) << got;
  EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << got;
}

std::string Chunked(size_t total, size_t chunk) {
  std::string body;
  for (size_t sent = 0; sent < total; sent += chunk) {
    size_t n = std::min(chunk, total - sent);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", n);
    body += hex + std::string(n, ' ') + "\r\n";
  }
  return body + "0\r\n\r\n";
}

// The request line and headers of an authenticated POST /rpc with a chunked body.
std::string ChunkedPingHead() {
  return std::string("POST /rpc HTTP/1.1\r\nHost: x\r\nAssent-Api-Version: 1\r\n") +
         "Authorization: Bearer " + kAdminToken +
         "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}

// ChunkedPingHead, then a first chunk holding kPing, up to and without the CRLF that
// should end that chunk's data.
std::string ChunkedPingFirstChunk() {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx\r\n", std::strlen(kPing));
  return ChunkedPingHead() + hex + kPing;
}

TEST_F(HttpServerTest, ConnectionChunkedBodyAtNIsServedAndAtNPlus1Is413) {
  const size_t max = static_cast<size_t>(limits::kRpcBodyBytesMax);
  // kPing then spaces: exactly `max` bytes of valid JSON.
  const std::string first = ChunkedPingFirstChunk() + "\r\n";
  const size_t ping = std::strlen(kPing);
  {
    Raw c(tcp_);
    ASSERT_TRUE(c.connected());
    c.Send(first + Chunked(max - ping, 65536) +
           PingRequest("Connection: close\r\n"));
    bool closed = false;
    std::string got = c.ReadAll(&closed);
    // Served at the limit; a chunked request then ends its connection (its framing is
    // decoded leniently by cpp-httplib, so nothing after it is trusted as a request).
    EXPECT_EQ(Count(got, "\"pong\":true"), 1u) << got.substr(0, 2000);
    EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << got.substr(0, 2000);
    EXPECT_NE(got.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(closed);
  }
  {
    Raw c(tcp_);
    ASSERT_TRUE(c.connected());
    c.Send(first + Chunked(max - ping + 1, 65536) + PingRequest());
    bool closed = false;
    std::string got = c.ReadAll(&closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 2000);
    EXPECT_NE(got.find("\"payload_too_large\""), std::string::npos);
    EXPECT_NE(got.find("Connection: close"), std::string::npos);
    EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u);
  }
}

TEST_F(HttpServerTest, ConnectionBytesAfterABrokenChunkAreNeverARequest) {
  // The chunk's data is not followed by CRLF: cpp-httplib ends the body there without an
  // error; what follows must not be served as a request.
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  c.Send(ChunkedPingFirstChunk() + "X\r\n" + kSmuggled + PingRequest());
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << got;
  EXPECT_EQ(got.find("smuggled"), std::string::npos) << got;
}

TEST_F(HttpServerTest, ConnectionAnEndlessChunkSizeLineIsCutOff) {
  // A chunk-size line that never ends: cpp-httplib would read it without limit; the
  // per-request read budget stops it with a 400 and a close.
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  c.Send(ChunkedPingHead() + "1" + std::string(3u << 20, '0'));
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got.substr(0, 500);
}

TEST_F(HttpServerTest, ConnectionDeclaredLengthOverMaxIs413AtOnce) {
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  c.Send(std::string("POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n") +
         std::string(1000, 'x'));
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  EXPECT_NE(got.find("\"limit_bytes\""), std::string::npos);
}

TEST_F(HttpServerTest, ConnectionMalformedRequestsAre400BadRequestAndClose) {
  for (const std::string& bad :
       {std::string("THIS IS NOT HTTP\r\n\r\n"),
        PingRequest("Content-Length: 5\r\n"),                      // two lengths
        PingRequest("Transfer-Encoding: chunked\r\n"),             // length and chunked
        std::string("POST /rpc HTTP/1.1\r\nContent-Length: 4x\r\n\r\nabcd"),
        std::string("POST /rpc HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabcd"),
        std::string("POST /rpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n"),
        "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n"}) {
    Raw c(tcp_);
    ASSERT_TRUE(c.connected());
    c.Send(bad + PingRequest());
    bool closed = false;
    std::string got = c.ReadAll(&closed);
    EXPECT_TRUE(closed) << bad.substr(0, 80);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << bad.substr(0, 80) << "\n" << got;
    EXPECT_NE(got.find("\"bad_request\""), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << got;
  }
}

TEST_F(HttpServerTest, ConnectionUnroutedMethodsAre405OrNotFound) {
  Raw c(tcp_);
  ASSERT_TRUE(c.connected());
  c.Send("TRACE /rpc HTTP/1.1\r\nHost: x\r\n\r\nTRACE /nope HTTP/1.1\r\nHost: x\r\n"
         "Connection: close\r\n\r\n");
  bool closed = false;
  std::string got = c.ReadAll(&closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 405", 0), 0u) << got;
  EXPECT_NE(got.find("Allow: POST"), std::string::npos) << got;
  EXPECT_NE(got.find("HTTP/1.1 404"), std::string::npos) << got;
}

TEST_F(HttpServerTest, ConnectionRangeHeadersAreIgnored) {
  auto h = Headers();
  h.emplace("Range", "bytes=0-3");
  auto r = Tcp().Post("/rpc", h, kPing, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << "never a partial answer";
  EXPECT_EQ(json::parse(r->body)["result"]["pong"], true);
}

TEST_F(HttpServerTest, UnknownRouteIs404Json) {
  auto r = Tcp().Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["error"], "not_found");
}

}  // namespace
}  // namespace assent

namespace assent {
namespace {

TEST(HttpServerStaleSocket, DeadSocketFileIsRemovedAndReplaced) {
  ASSERT_TRUE(crypto::Init());
  auto dir = std::filesystem::temp_directory_path() /
             ("assent-stale-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "s.sock").string();
  // A socket file with nobody listening: what a crashed daemon leaves behind.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::exists(path));

  testing::SystemFixture fixture;
  auth::TokenStore tokens;
  FakeClock clock;
  auth::Lockout lockout(clock);
  http::Metrics metrics;
  http::ServerOptions o;
  o.listeners.push_back({http::ListenerConfig::Kind::kUnix, path, "", 0});
  http::HttpServer server(o, *fixture.endpoint, tokens, lockout, metrics);
  Status st = server.Start();
  EXPECT_TRUE(st.ok()) << st.message();
  server.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace assent
