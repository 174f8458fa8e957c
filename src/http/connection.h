// ConnectionServer: an httplib::Server that runs each accepted connection through our
// own keep-alive loop, so that a request whose body was not read never leaves its bytes
// to be parsed as the next request (ASSENT-HTTP-022).
//
// Why: cpp-httplib 0.11 reads a request body only for POST, PUT, PATCH and DELETE (and
// a DELETE body only with Content-Length); the body of a GET, HEAD or OPTIONS is left
// on the socket, a body a handler refused is left there too, and the library cannot be
// told to close a connection after a response. It also makes a new read buffer per
// request, so bytes read ahead are dropped. This class keeps one buffered stream per
// connection and calls the (protected) httplib::Server::process_request for each
// request; after a response that must end the connection it sends `Connection: close`,
// half-closes, drains what the client still sends (bounded) and closes.
//
// When a connection closes after a response (CloseAfterResponse marks it):
//   - the request carries a body (Content-Length > 0 or Transfer-Encoding) that nothing
//     will read: a GET, HEAD, OPTIONS or any method cpp-httplib does not route;
//   - the request could not be parsed (bad request line or headers, URI too long,
//     malformed Range): where the next request starts is unknown;
//   - a handler refused a body without reading it all (413, bad chunked framing, a 405
//     or 404 answered without reading) — handlers call CloseAfterResponse;
//   - an error raised inside cpp-httplib (any error response it produced, except a 404
//     for a request with no body).
// Handlers that read a body call BodyConsumed(); a body neither consumed nor announced
// with CloseAfterResponse still closes the connection (a safety net), but without the
// header.
//
// Leans on cpp-httplib 0.11 internals (see httplib_seam.h): the private virtual
// process_and_close_socket() and the protected process_request() and settings. The
// tests in tests/unit/http/server_test.cc (Connection*) fail loudly if the seam moves.
//
// Thread safety: one worker thread serves one connection; the per-request state is
// thread-local to it.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "http/httplib_seam.h"

namespace assent::http {

class ConnectionServer : public httplib::Server {
 public:
  // Installs `handler` as the error handler, run first through the connection rules
  // above (it may add `Connection: close`).
  void SetErrorHandler(HandlerWithResponse handler);

  // The current request's connection ends after its response, which carries
  // `Connection: close`. Call from a handler running on the request's thread.
  static void CloseAfterResponse(const httplib::Request& req);
  // The handler read the request's body completely.
  static void BodyConsumed();
  // Once the current request's response went out, the connection is given to `adopt`
  // instead of serving another request or closing: `adopt` owns the socket from then on
  // (an event stream, http/event_stream.h). Call from a handler's content provider.
  static void HandOver(std::function<void(socket_t)> adopt);

  // Connections accepted by this server and waiting for a worker; kept up to date by the
  // server's task queue. The keep-alive request limit ends a connection only while some
  // wait: it exists so that they get a worker, and without them closing is pure cost (a
  // reconnect for the client).
  std::atomic<size_t>& waiting_connections() { return waiting_connections_; }

 protected:
  // Runs before the first request on a connection (peer credentials).
  virtual void OnConnection(socket_t /*sock*/) {}

  bool process_and_close_socket(socket_t sock) override;

 private:
  std::atomic<size_t> waiting_connections_{0};
};

}  // namespace assent::http
