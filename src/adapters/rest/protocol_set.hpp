// The protocol adapters of the daemon (Modbus TCP and RTU, SNMP, MQTT) as one set that the
// settings page can change while equalisd runs (GET/PUT/DELETE /api/v1/system/protocols/{name},
// docs/api.md). Each adapter's spec comes, first match wins, from its command-line flag, from a
// change made here (<data_dir>/protocols.json, model/protocol_settings.hpp), or from the
// configuration file; "" is off. A change stops the adapter and starts it on the new spec; when
// that fails, the previous one is started again and nothing is stored. An adapter that can run
// only once per process (SNMP: net-snmp keeps global state) has its change checked and stored,
// and it applies when equalisd starts again.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "adapters/common/service.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "model/protocol_settings.hpp"

namespace equalis::rest {

enum class ProtocolSource { kConfig, kChangedHere, kCommandLine };
std::string_view protocolSourceName(ProtocolSource s);  // "config", "changed here", "command line"

struct ProtocolStatus {
  const model::ProtocolKind* kind = nullptr;
  std::string spec;         // in force, secrets and all; "" = off
  std::string config_spec;  // what the configuration file sets ("" = off)
  ProtocolSource source = ProtocolSource::kConfig;
  bool built = true;        // false: this equalisd was built without the adapter
  bool running = false;     // serving now
  std::string description;  // what the adapter says it serves ("Modbus TCP on 127.0.0.1:1502")
  std::string error;        // why the spec in force did not start; "" = it did (or it is off)
  std::string condition;    // what keeps a running adapter from serving (adapters::Service)
  // A change stored that applies at the next start (an adapter that runs once per process).
  bool restart_needed = false;
  std::string pending_spec;
};

// Why a change was refused, with the HTTP status that says it (400, 404, 409, 500).
struct ProtocolRefusal {
  int status = 400;
  std::string message;
};

class ProtocolSet {
 public:
  struct Hooks {
    // Starts the adapter of `kind` on `spec` (the daemon's startProtocol()).
    std::function<Result<adapters::ServicePtr>(const model::ProtocolKind& kind,
                                               const std::string& spec)>
        start;
    // Whether this build has the adapter.
    std::function<bool(const model::ProtocolKind& kind)> built;
    // Whether the adapter can start only once per process; its changes are then checked with
    // `check` and apply at the next start.
    std::function<bool(const model::ProtocolKind& kind)> once_per_process;
    std::function<Status(const model::ProtocolKind& kind, const std::string& spec)> check;
  };
  // `file`: protocols.json ("" = changes are not kept).
  ProtocolSet(Hooks hooks, std::string file);
  ~ProtocolSet();
  ProtocolSet(const ProtocolSet&) = delete;
  ProtocolSet& operator=(const ProtocolSet&) = delete;

  // Starts every adapter that has a spec. `flags` and `changed` are specs by key. A configured or
  // command-line spec that fails is returned as an error (equalisd does not start); a spec
  // changed here that fails is kept as that adapter's error (the page shows it) and the others
  // start.
  Status startAll(const model::ProtocolConfig& config,
                  const std::map<std::string, std::string>& flags,
                  const std::map<std::string, std::string>& changed);
  std::vector<ProtocolStatus> list() const;
  // Serves `spec` ("" = off) for the adapter `key` from now on and keeps it in the file.
  // Secrets masked as in model::redactedProtocolSpec() keep the ones in force.
  struct Changed {
    ProtocolStatus before;
    ProtocolStatus after;
  };
  using Outcome = std::variant<Changed, ProtocolRefusal>;
  Outcome change(std::string_view key, const std::string& spec);
  // Back to the configuration file's spec; the change is removed from the file.
  Outcome revert(std::string_view key);
  // Stops every adapter (also done by the destructor).
  void stopAll();

 private:
  struct Slot {
    const model::ProtocolKind* kind = nullptr;
    std::string spec;
    std::string config_spec;
    ProtocolSource source = ProtocolSource::kConfig;
    bool built = true;
    adapters::ServicePtr service;
    bool ran = false;  // an adapter has run in this process
    std::string description;
    std::string error;
    std::optional<std::string> pending;  // stored, applies at the next start
  };
  ProtocolStatus statusOf(const Slot& s) const;
  Slot* find(std::string_view key);
  // Stops the slot's adapter and serves `spec`; on failure the previous spec is served again
  // and the error returned.
  Status restart(Slot& s, const std::string& spec);
  // Starts the slot's adapter on `spec` (not empty); on success it is the one serving.
  Status serve(Slot& s, const std::string& spec);
  Status store(const std::map<std::string, std::string>& changed) const;
  Outcome apply(std::string_view key, const std::string& spec, ProtocolSource source);

  Hooks hooks_;
  std::string file_;
  mutable std::mutex mutex_;  // guards everything below; held while an adapter starts or stops
  std::vector<Slot> slots_;
  std::map<std::string, std::string> changed_;  // what protocols.json holds
};

}  // namespace equalis::rest
