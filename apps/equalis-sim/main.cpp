// equalis-sim: the plant simulator as its own process, answering the module-bus protocol
// (docs/module-bus.md) as the plant's modules and sensors would, on a pseudo-terminal per line
// (or a TCP port), with its bytes paced at the baud rate and optional wire faults.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bus/line_server.hpp"
#include "bus/responder.hpp"
#include "bus/sim_backend.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/version.hpp"
#include "model/bus_line.hpp"
#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"
#include "sim/truth.hpp"

namespace {

using namespace equalis;  // NOLINT(google-build-using-namespace): an app's own file

volatile std::sig_atomic_t g_signal = 0;
void onSignal(int sig) {
  g_signal = sig;
}

constexpr const char* kUsage = R"(usage: equalis-sim [options]

Simulates a battery plant and answers the Equalis module-bus protocol on one pseudo-terminal per
line (printed as "equalis-sim: line N on /dev/pts/M"), paced at the baud rate.

  --config FILE        plant configuration (default: the built-in demo plant); its [[bus.line]]
                       tables map strings to lines (without any: one line with every string)
  --plant SxB          a plant of S strings of B blocks each instead of --config (e.g. 10x60)
  --lines N            with --plant: spread the strings over N lines (default 1)
  --scenario FILE      scenario file run from the start (docs/scenarios.md)
  --time-scale N       run the plant N× real time (default 1)
  --seed N             simulator seed (default: the configuration's)
  --baud B             line speed (default 115200)
  --tcp HOST:PORT      serve line 1 on a TCP port instead of a pty (line N on PORT+N−1;
                       port 0: any free port)
  --link PATH          also make PATH a symbolic link to line 1's pty (line N: PATH-N), replaced
                       when equalis-sim starts again, so a daemon configured with PATH finds the
                       new pty after a restart (like socat's link=)
  --unaddressed        every module starts without an address, as it leaves the factory (a
                       string to commission: equalisctl bus assign --chain)
  --replace S:B[,S:B…] these modules (string:block, 1-based) were swapped for new ones before
                       the start: another serial (the old one + 0x10000), the same address
                       (given at the bench); printed as "equalis-sim: string S, block B replaced"
  --truth FILE         write the plant's truth (per block: SOC, capacity, Ri, I0, temperature,
                       module errors; per string: current, charger set-point) as JSON lines,
                       for scoring analysis against it (docs/simulator.md, "Truth firewall")
  --truth-interval S   plant seconds between truth samples (default 60)
  --fault KEY=VALUE    wire faults, repeatable:
                         crc=P        a bit flipped in a reply with probability P
                         late=P       a unicast reply sent late with probability P
                         late_ms=MS   how late (default 50)
                         noise=P      a burst of noise before a reply with probability P
                         silent=S:B[,S:B…]  these modules (string:block, 1-based) never answer
                         seed=N       seed of the fault draws
  --version   print the version and git commit
  --help
)";

struct Options {
  std::optional<std::string> config;
  int plant_strings = 0;
  int plant_blocks = 0;
  int lines = 1;
  std::optional<std::string> scenario;
  double time_scale = 1.0;
  std::optional<std::uint64_t> seed;
  std::uint32_t baud = 115200;
  std::optional<std::string> tcp;
  std::optional<std::string> link;
  bus::WireFaults faults;
  std::vector<std::pair<int, int>> silent;  // (string, block), 1-based
  bool unaddressed = false;
  std::vector<std::pair<int, int>> replace;  // (string, block), 1-based
  std::optional<std::string> truth;
  double truth_interval_s = 60.0;
};

// Points `link` at `target`, replacing an older link atomically (a new link, then rename).
equalis::Status replaceSymlink(const std::string& target, const std::string& link) {
  const std::string tmp = link + ".new";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  std::filesystem::create_symlink(target, tmp, ec);
  if (!ec) {
    std::filesystem::rename(tmp, link, ec);
  }
  if (ec) {
    return equalis::makeError(equalis::ErrorCode::kIo,
                              "cannot link " + link + " to " + target + ": " + ec.message());
  }
  return {};
}

int fail(const std::string& message) {
  std::fprintf(stderr, "equalis-sim: %s\n", message.c_str());
  return 2;
}

bool parseDouble(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

bool parseInt(const std::string& s, long long& out) {
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && end == s.c_str() + s.size();
}

// "S:B[,S:B…]" (1-based) appended to `out`; the problem, if any.
std::optional<std::string> parseBlockList(const std::string& value, const std::string& option,
                                          std::vector<std::pair<int, int>>& out) {
  std::size_t start = 0;
  while (start <= value.size()) {
    const auto comma = value.find(',', start);
    const std::string item =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto colon = item.find(':');
    long long s = 0;
    long long b = 0;
    if (colon == std::string::npos || !parseInt(item.substr(0, colon), s) ||
        !parseInt(item.substr(colon + 1), b) || s < 1 || b < 1 || s > 64 || b > 600) {
      return fmt::format("{} expects STRING:BLOCK[,STRING:BLOCK…] (1-based), got '{}'", option,
                         item);
    }
    out.emplace_back(static_cast<int>(s), static_cast<int>(b));
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return std::nullopt;
}

std::optional<std::string> parseFault(const std::string& spec, Options& o) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) {
    return "--fault expects KEY=VALUE, got '" + spec + "'";
  }
  const std::string key = spec.substr(0, eq);
  const std::string value = spec.substr(eq + 1);
  double p = 0;
  if (key == "crc" || key == "late" || key == "noise") {
    if (!parseDouble(value, p) || p < 0 || p > 1) {
      return "--fault " + key + " must be a probability between 0 and 1, got '" + value + "'";
    }
    (key == "crc"    ? o.faults.crc_probability
     : key == "late" ? o.faults.late_probability
                     : o.faults.noise_probability) = p;
    return std::nullopt;
  }
  if (key == "late_ms") {
    if (!parseDouble(value, p) || p < 0 || p > 60000) {
      return "--fault late_ms must be between 0 and 60000, got '" + value + "'";
    }
    o.faults.late_ms = p;
    return std::nullopt;
  }
  if (key == "seed") {
    long long n = 0;
    if (!parseInt(value, n) || n < 0) {
      return "--fault seed must be an integer ≥ 0, got '" + value + "'";
    }
    o.faults.seed = static_cast<std::uint64_t>(n);
    return std::nullopt;
  }
  if (key == "silent") {
    return parseBlockList(value, "--fault silent", o.silent);
  }
  return "unknown --fault key '" + key + "' (crc, late, late_ms, noise, silent, seed)";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        return std::nullopt;
      }
      (void)name;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("equalis-sim %s\n", equalis::versionText().c_str());
      return 0;
    }
    if (arg == "--unaddressed") {
      o.unaddressed = true;
      continue;
    }
    if (arg == "--config" || arg == "--plant" || arg == "--lines" || arg == "--scenario" ||
        arg == "--time-scale" || arg == "--seed" || arg == "--baud" || arg == "--tcp" ||
        arg == "--link" || arg == "--fault" || arg == "--replace" || arg == "--truth" ||
        arg == "--truth-interval") {
      v = next(arg.c_str());
      if (!v) {
        return fail(arg + " needs a value");
      }
    } else {
      return fail("unknown option '" + arg + "' (see --help)");
    }
    long long n = 0;
    if (arg == "--config") {
      o.config = *v;
    } else if (arg == "--plant") {
      const auto x = v->find('x');
      long long s = 0;
      long long b = 0;
      if (x == std::string::npos || !parseInt(v->substr(0, x), s) ||
          !parseInt(v->substr(x + 1), b) || s < 1 || s > 64 || b < 1 || b > 600) {
        return fail("--plant expects STRINGSxBLOCKS (1 … 64 strings of 1 … 600), got '" + *v + "'");
      }
      o.plant_strings = static_cast<int>(s);
      o.plant_blocks = static_cast<int>(b);
    } else if (arg == "--lines") {
      if (!parseInt(*v, n) || n < 1 || n > 16) {
        return fail("--lines must be between 1 and 16, got '" + *v + "'");
      }
      o.lines = static_cast<int>(n);
    } else if (arg == "--scenario") {
      o.scenario = *v;
    } else if (arg == "--time-scale") {
      if (!parseDouble(*v, o.time_scale) || o.time_scale <= 0 || o.time_scale > 1e6) {
        return fail("--time-scale must be a number > 0 and ≤ 1000000, got '" + *v + "'");
      }
    } else if (arg == "--seed") {
      if (!parseInt(*v, n) || n < 0) {
        return fail("--seed must be an integer ≥ 0, got '" + *v + "'");
      }
      o.seed = static_cast<std::uint64_t>(n);
    } else if (arg == "--baud") {
      if (!parseInt(*v, n) || n <= 0 || !model::supportedBaud(static_cast<std::uint32_t>(n))) {
        return fail("--baud must be a standard rate (9600 … 921600), got '" + *v + "'");
      }
      o.baud = static_cast<std::uint32_t>(n);
    } else if (arg == "--tcp") {
      o.tcp = *v;
    } else if (arg == "--link") {
      o.link = *v;
    } else if (arg == "--fault") {
      if (auto problem = parseFault(*v, o)) {
        return fail(*problem);
      }
    } else if (arg == "--replace") {
      if (auto problem = parseBlockList(*v, "--replace", o.replace)) {
        return fail(*problem);
      }
    } else if (arg == "--truth") {
      o.truth = *v;
    } else if (arg == "--truth-interval") {
      if (!parseDouble(*v, o.truth_interval_s) || !(o.truth_interval_s >= 1.0) ||
          o.truth_interval_s > 86400.0) {
        return fail("--truth-interval must be between 1 and 86400 seconds, got '" + *v + "'");
      }
    }
  }

  // ---- The plant and its lines ----
  model::PlantConfig plant = model::demoPlant();
  if (o.config) {
    auto loaded = config::loadConfigFile(*o.config);
    if (!loaded.ok()) {
      std::fputs(loaded.describe(*o.config).c_str(), stderr);
      return 2;
    }
    plant = std::move(*loaded.config);
  } else if (o.plant_strings > 0) {
    const auto base = plant.strings[0];
    plant.strings.assign(static_cast<std::size_t>(o.plant_strings), base);
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      plant.strings[s].block_count = o.plant_blocks;
      plant.strings[s].name = fmt::format("String {}", s + 1);
    }
  }
  if (o.seed) {
    plant.simulation.seed = *o.seed;
  }
  std::vector<std::vector<int>> line_strings;  // 1-based string numbers per line
  if (!plant.bus.lines.empty() && o.plant_strings == 0) {
    for (const auto& l : plant.bus.lines) {
      line_strings.push_back(l.strings);
    }
  } else {
    const int lines = std::min<int>(o.lines, static_cast<int>(plant.strings.size()));
    line_strings.resize(static_cast<std::size_t>(lines));
    const auto per = (plant.strings.size() + static_cast<std::size_t>(lines) - 1) /
                     static_cast<std::size_t>(lines);
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      line_strings[s / per].push_back(static_cast<int>(s + 1));
    }
  }

  RealClock clock(o.time_scale);
  const TimeMs start_ms = clock.nowMs();
  sim::PlantSim sim(plant, start_ms);
  bus::SimBackend values(sim);
  std::optional<sim::ScenarioRunner> runner;
  if (o.scenario) {
    auto sc = sim::loadScenarioFile(*o.scenario);
    if (!sc) {
      return fail(sc.error().message);
    }
    if (auto st = sim::validate(*sc, plant); !st) {
      return fail(*o.scenario + ": " + st.error().message);
    }
    runner.emplace(std::move(*sc));
  }

  std::optional<sim::TruthWriter> truth;
  if (o.truth) {
    auto opened = sim::TruthWriter::open(
        *o.truth, static_cast<DurationMs>(o.truth_interval_s * static_cast<double>(kSecondMs)));
    if (!opened) {
      return fail(opened.error().message);
    }
    truth.emplace(std::move(*opened));
  }

  std::mutex plant_mutex;
  std::vector<std::unique_ptr<bus::LineResponder>> responders;
  std::vector<std::unique_ptr<bus::LineServer>> servers;
  std::vector<std::string> links;
  std::string tcp_host;
  long long tcp_port = 0;
  if (o.tcp) {
    const auto colon = o.tcp->rfind(':');
    if (colon == std::string::npos || !parseInt(o.tcp->substr(colon + 1), tcp_port) ||
        tcp_port < 0 || tcp_port > 65535) {
      return fail("--tcp expects HOST:PORT, got '" + *o.tcp + "'");
    }
    tcp_host = o.tcp->substr(0, colon);
  }
  std::size_t replaced = 0;
  std::vector<std::string> notes;  // printed after the lines
  for (std::size_t l = 0; l < line_strings.size(); ++l) {
    std::vector<bus::LineString> strings;
    std::uint16_t next = bus::proto::kFirstModule;
    bus::WireFaults faults = o.faults;
    faults.seed = o.faults.seed + l;
    for (const int number : line_strings[l]) {
      const auto s = static_cast<std::size_t>(number - 1);
      const auto blocks = static_cast<std::size_t>(plant.strings[s].block_count);
      for (const auto& [fs, fb] : o.silent) {
        if (fs == number && fb >= 1 && static_cast<std::size_t>(fb) <= blocks) {
          faults.silent.insert(static_cast<std::uint16_t>(next + fb - 1));
        }
      }
      strings.push_back({s, blocks, next, plant.strings[s].current_sensor.present});
      next = static_cast<std::uint16_t>(next + blocks);
    }
    responders.push_back(std::make_unique<bus::LineResponder>(
        strings, l == 0 && plant.ambient.sensor_present, o.baud, values, faults));
    auto& responder = *responders.back();
    if (o.unaddressed) {
      responder.forgetAddresses();
    }
    for (const auto& [rs, rb] : o.replace) {
      const auto index =
          responder.moduleIndex(static_cast<std::size_t>(rs - 1), static_cast<std::size_t>(rb - 1));
      if (!index) {
        continue;
      }
      const std::uint32_t old_serial = responder.serialOf(*index);
      responder.replaceModule(*index, old_serial + 0x10000u, true);
      replaced += 1;
      notes.push_back(
          fmt::format("equalis-sim: string {}, block {} replaced: serial 0x{:08X} → "
                      "0x{:08X} (address kept)",
                      rs, rb, old_serial, responder.serialOf(*index)));
    }
    auto server =
        o.tcp ? bus::LineServer::listenTcp(*responders.back(), plant_mutex, tcp_host,
                                           tcp_port == 0 ? 0 : static_cast<int>(tcp_port + l))
              : bus::LineServer::openPty(*responders.back(), plant_mutex);
    if (!server) {
      return fail(server.error().message);
    }
    servers.push_back(std::move(*server));
    std::string numbers;
    for (const int n : line_strings[l]) {
      numbers += (numbers.empty() ? "" : ",") + std::to_string(n);
    }
    if (o.link && !o.tcp) {
      const std::string link = l == 0 ? *o.link : *o.link + "-" + std::to_string(l + 1);
      if (auto st = replaceSymlink(servers.back()->path(), link); !st) {
        return fail(st.error().message);
      }
      links.push_back(link);
    }
    std::printf("equalis-sim: line %zu on %s (%s; strings %s, %u modules%s, %u baud)\n", l + 1,
                servers.back()->path().c_str(), servers.back()->url(o.baud).c_str(),
                numbers.c_str(), static_cast<unsigned>(next - 1),
                o.unaddressed ? " unaddressed" : "", o.baud);
  }
  if (replaced != o.replace.size()) {
    return fail("--replace names a block that is on no line of this plant");
  }
  for (const auto& n : notes) {
    std::printf("%s\n", n.c_str());
  }
  std::fflush(stdout);

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  for (auto& s : servers) {
    s->start();
  }
  // The plant runs on in plant time; the lines answer from it.
  while (g_signal == 0) {
    {
      std::lock_guard lock(plant_mutex);
      const TimeMs now = clock.nowMs();
      if (runner) {
        runner->applyDue(sim, start_ms, now);
      }
      sim.advanceTo(now);
      if (truth) {
        if (auto st = truth->maybeWrite(sim, now); !st) {
          std::fprintf(stderr, "equalis-sim: %s; truth stream stopped\n",
                       st.error().message.c_str());
          truth.reset();
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& s : servers) {
    s->stop();
  }
  std::uint64_t replies = 0;
  for (const auto& r : responders) {
    replies += r->stats().replies;
  }
  for (const auto& link : links) {
    std::error_code ec;
    std::filesystem::remove(link, ec);
  }
  std::fprintf(stderr, "equalis-sim: signal %d, stopping after %llu replies\n",
               static_cast<int>(g_signal), static_cast<unsigned long long>(replies));
  return 0;
}
