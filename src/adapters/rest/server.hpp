// REST API v1, live event stream (SSE) and the embedded status page, on cpp-httplib.
// Reads the state store and the history store only; never talks to the bus, the simulator or
// the controller. Every change goes to the operator-command queue (src/command) with who and
// from where.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "command/command.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/manager.hpp"
#include "history/store.hpp"
#include "model/plant.hpp"
#include "ops/stats.hpp"
#include "state/state_store.hpp"

namespace httplib {
class Server;
}

namespace equalis::rest {

// What the REST server reads and where it sends commands.
struct Sources {
  const model::PlantConfig& plant;
  state::StateStore& state;
  Clock& clock;
  command::Queue& commands;
  history::Store* history = nullptr;        // null: no history endpoints' data
  const events::Manager* events = nullptr;  // the event manager's outcomes; null: none
  TimeMs started_ms = 0;
  bool simulated = false;
  // The control cycle's own figures (/healthz, /readyz, self-metrics); null: health answers
  // from the state store's sweep count only and /metrics has no self-metrics.
  const ops::RuntimeStats* runtime = nullptr;
  ops::HealthPolicy health;  // liveness limit (the sweep interval in real time)
  std::string config_path;   // the configuration file (backup and restore); "" = demo plant
};

class Server {
 public:
  Server(Sources sources, std::string version);
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

  Sources src_;
  std::string version_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stopping_{false};
};

// Splits "HOST:PORT" (port may be 0). Errors name the bad part.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& text);

}  // namespace equalis::rest
