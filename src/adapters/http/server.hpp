// The HTTP/1.1 server of equalisd, event-driven on Boost.Beast and Asio: a few I/O threads
// serve every connection (idle sockets and live-update clients cost memory, not threads),
// handlers that may block run on a bounded worker pool, and live updates are rendered once and
// the same bytes are written to every subscriber. Limits: header and body size, connections in
// all and per client address, header/idle, body and write timeouts. TLS (≥ 1.2, OpenSSL) when
// a certificate is given, replaceable while serving; optionally a plain-HTTP port that only
// redirects to HTTPS. Ports are bound exclusively: a second daemon fails to start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/http/message.hpp"
#include "adapters/http/router.hpp"
#include "core/result.hpp"

namespace equalis::http {

struct Limits {
  std::size_t header_bytes = std::size_t{16} * 1024;
  std::size_t max_connections = 4096;
  // Per client address; loopback clients (a local reverse proxy, tests) are not limited.
  std::size_t max_connections_per_client = 128;
  std::uint32_t header_timeout_ms = 15'000;  // a request's header, and a kept-alive idle socket
  std::uint32_t body_timeout_ms = 120'000;
  std::uint32_t write_timeout_ms = 30'000;  // one write making no progress
  unsigned io_threads = 2;
  unsigned workers = 4;
  std::size_t max_queued_slow = 64;  // slow requests waiting for a worker; more → 503
  std::size_t max_event_clients = 2000;
  bool hsts = false;  // Strict-Transport-Security on HTTPS responses
};

struct TlsFiles {
  std::string certificate_path;  // PEM chain
  std::string key_path;          // PEM private key
};

// Called with every request after its header is read, before the body is read or the handler
// runs. Returns true to go on; false with `res` filled to answer at once (401, 403, …).
using Gate = std::function<bool(Request& req, const RouteOptions& route, Response& res)>;

// One state for live updates: the complete event ("event: snapshot\ndata: …\n\n") and,
// optionally, an event holding only the changes since state seq - 1 ("event: delta…").
struct StateEvent {
  std::uint64_t seq = 0;  // 1, 2, 3, … in publishing order
  std::shared_ptr<const std::string> full;
  std::shared_ptr<const std::string> delta;  // null: only `full`
};

// Live-update subscribers: every published message goes, as the same bytes, to each client.
// A client that is still writing an earlier message gets only the newest one when it is done:
// the delta when it holds the state just before, else the full state (a client that missed a
// state, and every new one, gets the full state).
class EventHub {
 public:
  virtual ~EventHub() = default;
  virtual void publishState(StateEvent state) = 0;
  // A comment (": keep-alive\n\n"): sent only to clients with nothing else waiting.
  virtual void publishComment(std::shared_ptr<const std::string> comment) = 0;
  virtual std::size_t clients() const = 0;
};

struct ServerStats {
  std::size_t connections = 0;
  std::size_t event_clients = 0;
  std::uint64_t requests = 0;
  std::uint64_t refused_connections = 0;  // over a connection limit
  std::uint64_t busy = 0;                 // 503: the worker queue was full
  std::uint64_t timeouts = 0;
  std::size_t slow_in_flight = 0;
};

class Server {
 public:
  Server(const Router& router, Limits limits, Gate gate);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (0 = any free port) exclusively, with TLS when `tls` is given. Returns the
  // bound port; an error names the address and why (in use, not permitted, bad certificate).
  Result<int> listen(const std::string& host, int port, const std::optional<TlsFiles>& tls);
  // A second listener, plain HTTP, on host:port (bound like listen()): every request is answered
  // with 308 Permanent Redirect to https://<its Host without the port>:<https_port><target> (no
  // port when it is 443) once its header is read, with the same limits and timeouts; no route,
  // no gate, no body is read. A missing or malformed Host → 400. Call after listen().
  Result<int> listenRedirect(const std::string& host, int port, int https_port);
  // New TLS connections use this certificate from now on; connections already open keep the
  // one they began with. Only for a server listening with TLS; on an error nothing changes.
  Status useCertificate(const TlsFiles& tls);
  // Serves until stop(), on the calling thread and io_threads - 1 more.
  void run();
  void stop();

  EventHub& events();
  ServerStats stats() const;
  bool tls() const;

  struct Impl;  // the Asio side (server.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace equalis::http
