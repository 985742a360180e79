// REST API v1, live event stream (SSE) and the embedded status page, on cpp-httplib.
// Reads the state store and the history store only; never talks to the bus or the simulator.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "runtime/controller.hpp"

namespace httplib {
class Server;
}

namespace equalis::rest {

class Server {
 public:
  Server(runtime::Controller& controller, std::string version);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 = any free port). Returns the bound port.
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); call after bind().
  void serve();
  void stop();

 private:
  void routes();

  runtime::Controller& controller_;
  std::string version_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stopping_{false};
};

// Splits "HOST:PORT" (port may be 0). Errors name the bad part.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& text);

}  // namespace equalis::rest
