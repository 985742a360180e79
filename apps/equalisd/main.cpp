// equalisd — the Equalis controller daemon: bus master, analysis, history, REST API and status
// page. Without --config it runs the built-in demo plant on the simulator.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include <sys/stat.h>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>

#include <utility>
#include <vector>

#include "adapters/common/service.hpp"
#include "adapters/http/checks.hpp"
#include "adapters/http/tls.hpp"
#include "adapters/rest/protocol_set.hpp"
#include "adapters/rest/server.hpp"
#ifndef EQUALIS_WITH_MODBUS
#define EQUALIS_WITH_MODBUS 0
#endif
#ifndef EQUALIS_WITH_SNMP
#define EQUALIS_WITH_SNMP 0
#endif
#ifndef EQUALIS_WITH_MQTT
#define EQUALIS_WITH_MQTT 0
#endif
#if EQUALIS_WITH_MODBUS
#include "adapters/modbus/modbus_server.hpp"
#endif
#if EQUALIS_WITH_SNMP
#include "adapters/snmp/snmp_agent.hpp"
#endif
#if EQUALIS_WITH_MQTT
#include "adapters/mqtt/mqtt_client.hpp"
#endif
#include "adapters/web/assets.hpp"
#include "audit/audit.hpp"
#include "auth/accounts.hpp"
#include "auth/radius.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "core/service_notify.hpp"
#include "core/version.hpp"
#include "model/protocol_settings.hpp"
#include "ops/backup.hpp"
#include "persist/files.hpp"
#include "runtime/controller.hpp"
#include "sim/scenario.hpp"

namespace {

// A warning when the configuration file can be read by every user of the machine: it may hold
// passwords (SMTP, MQTT, SNMP, webhook tokens). Empty when it cannot.
std::string readableByOthers(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) {
    return {};
  }
  return fmt::format(
      "{} is readable by every user of this machine and may hold passwords; "
      "chmod o-r {} (docs/security.md)",
      path, path);
}

// The RADIUS client of [radius] (docs/security.md, "RADIUS"), with a warning about a secret file
// that every user may read.
equalis::Result<std::unique_ptr<equalis::auth::RadiusAuthenticator>> startRadius(
    const equalis::model::RadiusConfig& config) {
  using namespace equalis;
  auth::RadiusSettings settings;
  for (const auto& text : config.servers) {
    auto server = auth::parseRadiusServer(text);
    if (!server) {
      return makeError(server.error().code, "[radius] servers: " + server.error().message);
    }
    settings.servers.push_back(std::move(*server));
  }
  settings.secret = config.secret;
  settings.timeout_ms = config.timeout_ms;
  settings.retries = config.retries;
  settings.nas_identifier = config.nas_identifier;
  settings.role_attribute =
      auth::parseRoleAttribute(config.role_attribute).value_or(auth::RoleAttribute::kFilterId);
  if (!config.default_role.empty()) {
    settings.default_role = auth::parseRole(config.default_role);
  }
  auto made = auth::RadiusAuthenticator::create(std::move(settings));
  if (!made) {
    return makeError(made.error().code, "[radius] " + made.error().message);
  }
  auto logger = log::get("equalisd");
  struct stat st {};
  if (!config.secret_file.empty() && ::stat(config.secret_file.c_str(), &st) == 0 &&
      (st.st_mode & S_IROTH) != 0) {
    logger->warn(
        "[radius] secret_file {} is readable by every user of this machine; chmod o-r {} "
        "(docs/security.md)",
        config.secret_file, config.secret_file);
  }
  logger->info("RADIUS logins for names that are not local accounts: {}, role from {}",
               (*made)->serversText(), config.role_attribute);
  return made;
}

volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_reload = 0;
void onSignal(int sig) {
  if (sig == SIGHUP) {
    g_reload = 1;
  } else {
    g_signal = sig;
  }
}

constexpr const char* kUsage =
    R"(Usage: equalisd [options]
  --config FILE          plant configuration (TOML); default: the built-in demo plant
  --check-config FILE    validate FILE, print every problem, exit 0 (valid) or 1
  --http HOST:PORT       listen address of the REST API and status page (port 0 = any free port)
  --data-dir DIR         where history is stored (default: from config, "data")
  --time-scale N         run the simulated plant N× faster than real time (default 1)
  --seed N               simulator seed (default: from config)
  --scenario NAME|FILE   run a scenario on the simulated plant (built in: see --list-scenarios)
  --list-scenarios       print the built-in scenarios and exit
  --modbus-tcp HOST:PORT Modbus TCP server (port 0 = any free port)
  --modbus-rtu SPEC      Modbus RTU slave: DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]
  --snmp HOST:PORT       SNMP agent (UDP)
  --mqtt URL             MQTT publisher: mqtt[s]://[user:password@]HOST[:PORT][/PREFIX]
  --log-level LEVEL      trace, debug, info, warn, error (default info)
  --version              print the version
  --help                 this text
)";

// A scenario by built-in name ("thermal-runaway") or by file path.
equalis::Result<equalis::sim::Scenario> loadScenario(const std::string& arg) {
  using namespace equalis;
  for (const auto& f : web::scenarioFiles()) {
    if (f.path == "/" + arg + ".toml") {
      return sim::parseScenario(std::string_view(f.data, f.size), arg);
    }
  }
  if (std::filesystem::exists(arg)) {
    return sim::loadScenarioFile(arg);
  }
  std::string names;
  for (const auto& f : web::scenarioFiles()) {
    names += (names.empty() ? "" : ", ") + std::string(f.path.substr(1, f.path.size() - 6));
  }
  return makeError(ErrorCode::kNotFound,
                   "no scenario '" + arg + "' (built in: " + names + "; or give a file path)");
}

// Starts one protocol adapter from its command-line flag, if it is built in.
equalis::Result<equalis::adapters::ServicePtr> startProtocol(const equalis::adapters::Context& ctx,
                                                             const std::string& flag,
                                                             const std::string& spec) {
  using namespace equalis;
  (void)ctx;
  (void)spec;
#if EQUALIS_WITH_MODBUS
  if (flag == "--modbus-tcp") {
    return modbus::startTcp(ctx, spec);
  }
  if (flag == "--modbus-rtu") {
    return modbus::startRtu(ctx, spec);
  }
#endif
#if EQUALIS_WITH_SNMP
  if (flag == "--snmp") {
    return snmp::start(ctx, spec);
  }
#endif
#if EQUALIS_WITH_MQTT
  if (flag == "--mqtt") {
    return mqtt::start(ctx, spec);
  }
#endif
  return makeError(ErrorCode::kUnavailable, "this equalisd was built without " + flag.substr(2));
}

// Whether this equalisd has the adapter of a protocol key (model/protocol_settings.hpp).
bool protocolBuilt(std::string_view key) {
  return (EQUALIS_WITH_MODBUS && key.rfind("modbus", 0) == 0) ||
         (EQUALIS_WITH_SNMP && key == "snmp") || (EQUALIS_WITH_MQTT && key == "mqtt");
}

// The protocol specs changed on the settings page; a damaged file is ignored with a warning
// (the configured specs apply), never a failed start.
std::map<std::string, std::string> changedProtocols(const equalis::model::PlantConfig& plant,
                                                    spdlog::logger& logger) {
  const auto path = equalis::persist::protocolsPath(plant);
  const auto text = equalis::persist::readFile(path);
  if (text && !text->has_value()) {
    return {};
  }
  auto parsed = text ? equalis::model::parseProtocolsFile(**text)
                     : equalis::Result<std::map<std::string, std::string>>(text.error());
  if (!parsed) {
    logger.warn("ignoring {}: {} (the configured protocol settings apply)", path,
                parsed.error().message);
    return {};
  }
  return std::move(*parsed);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "equalisd: %s\n", message.c_str());
  return 2;
}

}  // namespace

int run(int argc, char** argv) {
  // Everything equalisd creates (history, data files, the audit trail, the TLS key) is for its
  // own user only: files 0600, directories 0700.
  ::umask(077);
  using namespace equalis;
  std::string config_path;
  std::string http_override;
  std::string data_dir_override;
  std::string seed_override;
  std::string scenario_arg;
  std::vector<std::pair<std::string, std::string>> protocol_specs;  // (flag, spec)
  double time_scale = 1.0;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "equalisd: %s needs a value\n%s", name, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("equalisd %s\n", versionText().c_str());
      return 0;
    } else if (arg == "--check-config") {
      const std::string path = next("--check-config");
      const auto loaded = config::loadConfigFile(path);
      if (!loaded.ok()) {
        std::fputs(loaded.describe(path).c_str(), stderr);
        std::fprintf(stderr, "%s: %zu problem(s), configuration rejected\n", path.c_str(),
                     loaded.issues.size());
        return 1;
      }
      std::printf("%s: configuration is valid (%zu strings, %d modules)\n", path.c_str(),
                  loaded.config->strings.size(), loaded.config->moduleCount());
      if (const auto warning = readableByOthers(path); !warning.empty()) {
        std::printf("warning: %s\n", warning.c_str());
      }
      return 0;
    } else if (arg == "--config") {
      config_path = next("--config");
    } else if (arg == "--http") {
      http_override = next("--http");
    } else if (arg == "--data-dir") {
      data_dir_override = next("--data-dir");
    } else if (arg == "--scenario") {
      scenario_arg = next("--scenario");
    } else if (arg == "--list-scenarios") {
      for (const auto& f : web::scenarioFiles()) {
        auto sc = sim::parseScenario(std::string_view(f.data, f.size), f.path);
        std::printf("%-20s %s\n", sc ? sc->name.c_str() : std::string(f.path).c_str(),
                    sc ? sc->description.c_str() : sc.error().message.c_str());
      }
      return 0;
    } else if (arg == "--seed") {
      seed_override = next("--seed");
    } else if (arg == "--time-scale") {
      const std::string v = next("--time-scale");
      char* end = nullptr;
      time_scale = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(time_scale > 0) || time_scale > 1e6) {
        return fail(fmt::format("--time-scale must be a number > 0 and ≤ 1000000, got '{}'", v));
      }
    } else if (arg == "--modbus-tcp" || arg == "--modbus-rtu" || arg == "--snmp" ||
               arg == "--mqtt") {
      protocol_specs.emplace_back(arg, next(arg.c_str()));
    } else if (arg == "--log-level") {
      const std::string v = next("--log-level");
      if (!log::setLevel(v)) {
        return fail(fmt::format("unknown --log-level '{}'", v));
      }
    } else {
      std::fprintf(stderr, "equalisd: unknown option '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }

  std::optional<std::uint64_t> seed;
  if (!seed_override.empty()) {
    char* end = nullptr;
    seed = std::strtoull(seed_override.c_str(), &end, 10);
    if (end == seed_override.c_str() || *end != '\0') {
      return fail(fmt::format("--seed must be an unsigned integer, got '{}'", seed_override));
    }
  }
  // The command-line flags override the file, at the start and at every reload.
  const auto with_overrides = [&](model::PlantConfig& p) {
    if (!http_override.empty()) {
      p.http.listen = http_override;
    }
    if (!data_dir_override.empty()) {
      p.data_dir = data_dir_override;
    }
    if (seed) {
      p.simulation.seed = *seed;
    }
  };
  const auto load_config = [&]() {
    auto loaded = config::loadConfigFile(config_path);
    if (loaded.config) {
      with_overrides(*loaded.config);
    }
    return loaded;
  };
  model::PlantConfig plant = model::demoPlant();
  if (const auto warning = config_path.empty() ? std::string() : readableByOthers(config_path);
      !warning.empty()) {
    log::get("equalisd")->warn("{}", warning);
  }
  if (!config_path.empty()) {
    auto loaded = load_config();
    if (!loaded.ok()) {
      std::fputs(loaded.describe(config_path).c_str(), stderr);
      return fail("configuration rejected");
    }
    plant = std::move(*loaded.config);
  } else {
    with_overrides(plant);
  }
  // One equalisd per data directory (equalisctl restore takes the same lock).
  auto lock = ops::DataDirLock::acquire(plant.data_dir);
  if (!lock) {
    return fail(lock.error().message);
  }
  // A restore uploaded through REST is applied now, before anything reads the data directory.
  std::string restore_note;
  const auto pending = ops::pendingRestoreDir(plant.data_dir);
  if (std::filesystem::exists(std::filesystem::path(pending) / "manifest.json")) {
    auto staged = ops::stagedFrom(pending);
    auto report = staged ? ops::applyRestore(*staged, {config_path, plant.data_dir}, wallNowMs())
                         : Result<ops::RestoreReport>(staged.error());
    if (!report) {
      const auto failed = pending + "-failed";
      std::error_code ec;
      std::filesystem::remove_all(failed, ec);
      std::filesystem::rename(pending, failed, ec);
      restore_note = fmt::format("staged restore NOT applied: {} (kept in {})",
                                 report.error().message, failed);
      std::fprintf(stderr, "equalisd: %s\n", restore_note.c_str());
    } else {
      restore_note = fmt::format(
          "restore applied: the backup of '{}' created {}; replaced files "
          "kept in {}",
          staged->manifest.site, staged->manifest.created, report->replaced_dir);
      std::printf("%s\n", restore_note.c_str());
      if (!config_path.empty() && staged->has_config) {
        auto loaded = load_config();
        if (!loaded.ok()) {
          std::fputs(loaded.describe(config_path).c_str(), stderr);
          return fail("restored configuration rejected");
        }
        plant = std::move(*loaded.config);
      }
    }
  }
  const auto listen = rest::parseListenAddress(plant.http.listen);
  if (!listen) {
    return fail(listen.error().message);
  }

  auto logger = log::get("equalisd");
  // A scaled (simulated) plant clock starts at wall time, or just after the newest history
  // record when an earlier fast run already went past it.
  TimeMs start_ms = -1;
  if (time_scale != 1.0) {
    const TimeMs newest = runtime::newestHistoryMs(plant);
    if (newest >= wallNowMs()) {
      start_ms = newest + plant.bus.sweep_interval_ms;
    }
  }
  RealClock clock(time_scale, start_ms);
  runtime::Controller controller(plant, clock);
  if (!config_path.empty()) {
    controller.setConfigSource({config_path, load_config});
  }
  if (auto st = controller.open(); !st) {
    return fail(st.error().message);
  }
  // A history store made by an earlier version may still be readable by others.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const auto path = persist::historyPath(plant) + suffix;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      ::chmod(path.c_str(), 0600);
    }
  }
  if (!restore_note.empty() && controller.history() != nullptr) {
    (void)controller.history()->appendEvent({clock.nowMs(), "system", restore_note});
  }
  if (!scenario_arg.empty()) {
    auto scenario = loadScenario(scenario_arg);
    if (!scenario) {
      return fail(scenario.error().message);
    }
    if (auto st = controller.setScenario(std::move(scenario.value())); !st) {
      return fail(st.error().message);
    }
  }
  // Adapters read the state store and submit operator commands; none calls the controller.
  ops::HealthPolicy health;
  health.sweep_interval_s = static_cast<double>(plant.bus.sweep_interval_ms) / 1000.0 / time_scale;
  // Accounts, sessions, login back-off and the audit trail run on the wall clock, whatever
  // the plant's time scale.
  RealClock wall_clock(1.0);
  auto accounts = auth::Accounts::open(auth::usersPath(plant.data_dir), wall_clock);
  if (!accounts) {
    return fail(accounts.error().message);
  }
  std::unique_ptr<auth::RadiusAuthenticator> radius;
  if (plant.radius.enabled) {
    auto made = startRadius(plant.radius);
    if (!made) {
      return fail(made.error().message);
    }
    radius = std::move(*made);
  }
  auto audit_log = audit::Log::open(audit::auditPath(plant.data_dir), wall_clock);
  if (!audit_log) {
    return fail(audit_log.error().message);
  }
  for (const auto& w : (*audit_log)->warnings()) {
    logger->warn("audit trail: {}", w);
  }
  if (const auto integrity = (*audit_log)->integrity(); !integrity.ok) {
    logger->error("audit trail {} is damaged: {} (equalisctl audit verify)", (*audit_log)->path(),
                  integrity.message);
  }
  controller.setAudit(audit_log->get());
  const bool loopback_only = http::isLoopback(listen->first);
  const adapters::Context adapter_ctx{controller.plant(),
                                      controller.state(),
                                      clock,
                                      versionText(),
                                      adapters::publishedAlarms(controller.state(), clock),
                                      adapters::queuedAcknowledge(controller.commands())};
  rest::ProtocolSet::Hooks protocol_hooks;
  protocol_hooks.start = [&adapter_ctx](const model::ProtocolKind& kind, const std::string& spec) {
    return startProtocol(adapter_ctx, std::string(kind.flag), spec);
  };
  protocol_hooks.built = [](const model::ProtocolKind& kind) { return protocolBuilt(kind.key); };
  // net-snmp keeps global state: one agent per process.
  protocol_hooks.once_per_process = [](const model::ProtocolKind& kind) {
    return kind.key == "snmp";
  };
  protocol_hooks.check = [&adapter_ctx](const model::ProtocolKind& kind, const std::string& spec) {
    (void)adapter_ctx;
    (void)spec;
#if EQUALIS_WITH_SNMP
    if (kind.key == "snmp") {
      return snmp::checkSpec(adapter_ctx, spec);
    }
#endif
    return Status(
        makeError(ErrorCode::kUnavailable, fmt::format("{} cannot be checked here", kind.label)));
  };
  rest::ProtocolSet protocols(std::move(protocol_hooks), persist::protocolsPath(plant));
  rest::Sources sources{controller.plant(),
                        controller.state(),
                        clock,
                        controller.commands(),
                        controller.history(),
                        &controller.eventManager(),
                        controller.startedMs(),
                        controller.simulated(),
                        &controller.runtimeStats(),
                        health,
                        config_path};
  sources.accounts = accounts->get();
  sources.radius = radius.get();
  sources.audit = audit_log->get();
  sources.protocols = &protocols;
  sources.anonymous_read = plant.http.anonymous_read == model::AutoSwitch::kAuto
                               ? loopback_only
                               : plant.http.anonymous_read == model::AutoSwitch::kOn;
  rest::Server server(std::move(sources), versionText());
  // HTTPS: on when listening off loopback unless turned off; the site's certificate or a
  // self-signed one made in <data_dir>/tls/ (docs/security.md).
  const bool tls_on = plant.http.tls == model::AutoSwitch::kAuto
                          ? !loopback_only
                          : plant.http.tls == model::AutoSwitch::kOn;
  std::optional<http::TlsFiles> tls_files;
  std::string tls_note;
  if (tls_on) {
    // The configured files, else one installed over REST, else the self-signed one.
    const auto configured =
        plant.http.certificate_file.empty()
            ? std::nullopt
            : std::optional(http::TlsFiles{plant.http.certificate_file, plant.http.key_file});
    auto chosen = http::chooseCertificate(http::tlsDirectory(plant.data_dir), configured,
                                          plant.http.server_names, wallNowMs());
    if (!chosen) {
      return fail(chosen.error().message);
    }
    for (const auto& w : chosen->warnings) {
      logger->warn("HTTPS: {}", w);
    }
    tls_files = chosen->files;
    if (chosen->source == http::CertificateSource::kSelfSigned) {
      tls_note = chosen->created ? "a new self-signed certificate" : "the self-signed certificate";
    } else if (chosen->source == http::CertificateSource::kInstalled) {
      tls_note = "the installed certificate";
    }
    auto fingerprint = http::certificateFingerprint(tls_files->certificate_path);
    if (!fingerprint) {
      return fail(fingerprint.error().message);
    }
    tls_note = fmt::format("HTTPS with {} {} (SHA-256 fingerprint {})",
                           tls_note.empty() ? "the certificate" : tls_note,
                           tls_files->certificate_path, *fingerprint);
  } else if (!loopback_only) {
    logger->warn(
        "serving plain HTTP on {}: passwords and session cookies cross the network "
        "unencrypted ([http] tls = \"off\")",
        plant.http.listen);
  }
  const auto port = server.bind(listen->first, listen->second, tls_files);
  if (!port) {
    return fail(port.error().message);
  }
  if (plant.http.redirect_port != 0) {
    if (!tls_files) {
      return fail(
          fmt::format("[http] redirect_port = {} redirects to HTTPS, but this server "
                      "serves plain HTTP on {} (tls = \"auto\" turns HTTPS on only off "
                      "loopback): set [http] tls = \"on\", or remove redirect_port",
                      plant.http.redirect_port, plant.http.listen));
    }
    const auto redirect = server.bindRedirect(listen->first, plant.http.redirect_port);
    if (!redirect) {
      return fail(redirect.error().message);
    }
    logger->info("http://{}:{}/ redirects to HTTPS", listen->first, *redirect);
  }

  // Protocol adapters read the state store only. Their specs come from the command-line flags,
  // the settings page (protocols.json) and the configuration, in that order.
  std::map<std::string, std::string> flag_specs;
  for (const auto& [flag, spec] : protocol_specs) {
    for (const auto& kind : model::kProtocolKinds) {
      if (kind.flag == flag) {
        flag_specs[std::string(kind.key)] = spec;  // the last one given counts
      }
    }
  }
  if (auto st = protocols.startAll(plant.protocols, flag_specs, changedProtocols(plant, *logger));
      !st) {
    return fail(st.error().message);
  }
  for (const auto& p : protocols.list()) {
    if (p.running) {
      logger->info("{}", p.description);
      std::printf("%s\n", p.description.c_str());
    }
  }

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGHUP, onSignal);

  if (controller.eventManager().active()) {
    logger->info("event manager: {} rule(s)", controller.eventManager().ruleCount());
  }
  controller.cycle();  // first sweep before the first request
  std::thread control([&] { controller.run(); });
  std::thread http([&] { server.serve(); });

  const std::string host = listen->first == "0.0.0.0" ? "127.0.0.1" : listen->first;
  logger->info("{} strings, {} modules, {}; time scale {}×; data in {}", plant.strings.size(),
               plant.moduleCount(), config_path.empty() ? "built-in demo plant" : config_path,
               time_scale, plant.data_dir);
  const char* scheme = tls_files ? "https" : "http";
  if (!tls_note.empty()) {
    std::printf("%s\n", tls_note.c_str());
    logger->info("{}", tls_note);
  }
  std::printf("Equalis web application: %s://%s:%d/\n", scheme, host.c_str(), *port);
  if ((*accounts)->userCount() == 0) {
    std::printf(
        "No accounts yet: reading is %s, every change needs a login. Create the first "
        "administrator with:\n  equalisctl user add NAME --role admin --data-dir %s\n",
        loopback_only || plant.http.anonymous_read == model::AutoSwitch::kOn
            ? "open to anyone who can reach this address"
            : "closed",
        plant.data_dir.c_str());
  }
  std::fflush(stdout);

  // Under systemd (Type=notify): ready after the first sweep with the HTTP server up; watchdog
  // pings only while sweeps keep coming (three sweep intervals, at least WatchdogSec).
  const auto running = fmt::format("Serving {}://{}:{}/ ({} strings, {} modules)", scheme, host,
                                   *port, plant.strings.size(), plant.moduleCount());
  const auto stall_ms =
      std::llround(3.0 * static_cast<double>(plant.bus.sweep_interval_ms) / time_scale);
  service::Watchdog watchdog([&controller] { return controller.sweepCount(); },
                             service::watchdogTimeout(), std::chrono::milliseconds(stall_ms),
                             running);
  watchdog.start();
  service::notifyReady(running);

  while (g_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_reload != 0) {
      // Applied by the control cycle like any operator command; the outcome goes to the log and
      // the event log.
      g_reload = 0;
      logger->info("SIGHUP: reloading {}",
                   config_path.empty() ? "(no configuration file)" : config_path);
      (void)controller.commands().submit({command::ReloadConfig{}, {"", "", "sighup"}});
    }
  }
  logger->info("signal {}, stopping", static_cast<int>(g_signal));
  controller.runtimeStats().markStopping();
  service::notifyStopping(fmt::format("Stopping (signal {})", static_cast<int>(g_signal)));
  watchdog.stop();
  server.stop();
  protocols.stopAll();
  controller.stop();
  http.join();
  control.join();
  // Event-manager deliveries still queued get a short grace, then the workers are joined.
  controller.finishEvents(3 * kSecondMs);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "equalisd: %s\n", e.what());
    return 1;
  }
}
