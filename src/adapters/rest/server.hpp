// REST API v1, live event stream (SSE) and the embedded status page, on the HTTP server of
// src/adapters/http (Boost.Beast).
// Reads the state store and the history store only; never talks to the bus, the simulator or
// the controller. Every change goes to the operator-command queue (src/command) with who and
// from where.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <unordered_map>

#include "adapters/http/router.hpp"
#include "adapters/http/server.hpp"
#include "audit/audit.hpp"
#include "auth/accounts.hpp"
#include "auth/radius.hpp"
#include "auth/sessions.hpp"
#include "command/command.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/manager.hpp"
#include "history/store.hpp"
#include "model/plant.hpp"
#include "ops/stats.hpp"
#include "state/state_store.hpp"

namespace equalis::rest {

class ProtocolSet;

// What the REST server reads and where it sends commands.
struct Sources {
  const model::PlantConfig& plant;
  state::StateStore& state;
  Clock& clock;
  command::Queue& commands;
  history::Store* history = nullptr;  // null: no history endpoints' data
  events::Manager* events =
      nullptr;  // the event manager: its rules, outcomes and tests; null: none
  TimeMs started_ms = 0;
  bool simulated = false;
  // The control cycle's own figures (/healthz, /readyz, self-metrics); null: health answers
  // from the state store's sweep count only and /metrics has no self-metrics.
  const ops::RuntimeStats* runtime = nullptr;
  ops::HealthPolicy health;  // liveness limit (the sweep interval in real time)
  std::string config_path;   // the configuration file (backup and restore); "" = demo plant
  // User accounts and API tokens (docs/security.md). Null: no accounts — writes are accepted
  // from the local machine only (a server embedded in a test).
  auth::Accounts* accounts = nullptr;
  // RADIUS logins for names that are not local accounts ([radius]); null: none.
  auth::RadiusAuthenticator* radius = nullptr;
  audit::Log* audit = nullptr;  // logins and logouts are recorded here; null: not recorded
  bool anonymous_read = true;   // reading without a login ([http] anonymous_read)
  // The protocol adapters the settings page may change (protocol_set.hpp); null: none.
  ProtocolSet* protocols = nullptr;
};

// Documents rendered once per state version and shared by every request that asks for them.
class ViewCache {
 public:
  using Render = std::function<std::string(const state::StateStore::Reader&)>;
  // The document `key` of the newest state version, rendered by `render` when it is older.
  std::shared_ptr<const std::string> get(const std::string& key, state::StateStore& state,
                                         TimeMs now_ms, const Render& render);
  // Stores a document rendered elsewhere for `version` (kept unless a newer one is there).
  void put(const std::string& key, std::uint64_t version, std::shared_ptr<const std::string> bytes);

 private:
  struct Entry {
    std::uint64_t version = 0;
    std::shared_ptr<const std::string> bytes;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

// History queries read the disk and can be large: at most kHistorySlots run at once, the others
// wait up to kHistoryWaitMs for a slot and are then answered 503 (docs/api.md).
class QuerySlots {
 public:
  static constexpr std::ptrdiff_t kMaxSlots = 16;
  explicit QuerySlots(std::ptrdiff_t count) : free_(count) {}
  // Held while a query runs (also while its result streams); releases the slot when destroyed.
  using Slot = std::shared_ptr<void>;
  // A slot, waiting up to `wait_ms`; null when none became free.
  Slot acquire(std::chrono::milliseconds wait_ms);

 private:
  std::counting_semaphore<kMaxSlots> free_;
};

class Server {
 public:
  Server(Sources sources, std::string version, http::Limits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 = any free port), with TLS when `tls` is given. Returns the bound
  // port.
  Result<int> bind(const std::string& host, int port,
                   const std::optional<http::TlsFiles>& tls = std::nullopt);
  // The plain-HTTP port that redirects to HTTPS ([http] redirect_port); after bind() with TLS.
  Result<int> bindRedirect(const std::string& host, int port);
  // Serves until stop(); call after bind().
  void serve();
  void stop();

  http::ServerStats stats() const;

 private:
  void routes();
  bool gate(http::Request& req, const http::RouteOptions& route, http::Response& res);
  void sessionRoutes();
  void auditRoutes();
  void userRoutes();
  void record(const http::Request& req, const char* action, const std::string& target,
              const char* outcome, const std::string& detail, const std::string& old_value = {},
              const std::string& new_value = {}) const;
  void certificateRoutes();  // certificate_routes.cpp
  // A string's block pattern and its recorded discharges (history_routes.cpp).
  void historyRoutes();
  // The event rules and their test (event_routes.cpp).
  void eventRoutes();
  // The protocol adapters' settings (protocol_routes.cpp).
  void protocolRoutes();
  void servingCertificate(const std::optional<http::TlsFiles>& tls, int port);
  std::shared_ptr<const std::string> statusJson();
  void feed();  // renders live updates for the event hub

  Sources src_;
  std::string version_;
  std::vector<std::string> host_names_;
  http::Router router_;
  std::unique_ptr<http::Server> http_;
  struct Certificates;  // the HTTPS certificate served (certificate_routes.cpp)
  std::shared_ptr<Certificates> certificates_;
  ViewCache views_;
  static constexpr std::ptrdiff_t kHistorySlots = 2;
  static constexpr std::chrono::milliseconds kHistoryWaitMs{2000};
  QuerySlots history_slots_{kHistorySlots};
  RealClock wall_clock_;  // sessions and login back-off run in real time, whatever the plant's
  auth::Sessions sessions_;
  std::atomic<bool> stopping_{false};
  std::thread feed_;
};

// Splits "HOST:PORT" (port may be 0). Errors name the bad part.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& text);

}  // namespace equalis::rest
