// The ceiling for bench/ping.sh: a bare cpp-httplib JSON-RPC ping server built with the
// same compiler, flags and library knobs as assentd (pool size, keep-alive, nodelay,
// backlog), doing only parse → answer. Usage: bare_ping_server PORTFILE
#include <httplib.h>
#include <sys/socket.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/limits.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  httplib::Server s;
  s.new_task_queue = [] {
    return new httplib::ThreadPool(static_cast<size_t>(assent::limits::kHttpWorkerThreads));
  };
  s.set_keep_alive_max_count(static_cast<size_t>(assent::limits::kKeepAliveRequestsMax));
  s.set_keep_alive_timeout(assent::limits::kKeepAliveIdleSeconds);
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(static_cast<size_t>(assent::limits::kRpcBodyBytesMax));
  int fd = -1;
  s.set_socket_options([&fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    fd = sock;
  });
  s.Post("/rpc", [](const httplib::Request& req, httplib::Response& res) {
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    nlohmann::json out = {{"jsonrpc", "2.0"}, {"id", j.is_object() ? j["id"] : nullptr},
                          {"result", {{"pong", true}}}};
    res.set_content(out.dump(), "application/json");
  });
  int port = s.bind_to_any_port("127.0.0.1");
  ::listen(fd, static_cast<int>(assent::limits::kListenBacklog));
  std::ofstream(argv[1]) << port << "\n";
  s.listen_after_bind();
}
