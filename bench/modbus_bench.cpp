// Register-read throughput of equalisd's Modbus TCP server (TcpServer on a demo-plant state)
// against a bare libmodbus server answering the same registers from a static mapping. Same
// libmodbus client, same run, interleaved rounds; prints JSON lines and the ratio (goal ≥ 0.8).
#include <modbus.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/modbus/server_internal.hpp"
#include "bench_json.hpp"
#include "core/log.hpp"
#include "runtime/controller.hpp"

namespace {

using namespace equalis;

constexpr int kRounds = 5;
constexpr int kRequestsPerRound = 4000;

struct Workload {
  const char* name;
  int address;
  int count;
};

// Answers every request from a fixed mapping (the baseline), one connection.
class BareServer {
 public:
  explicit BareServer(const std::vector<std::uint16_t>& registers) {
    ctx_ = modbus_new_tcp("127.0.0.1", 0);
    mapping_ = modbus_mapping_new_start_address(0, 0, 0, 0, 0, 65536, 0, 65536);
    std::copy(registers.begin(), registers.end(), mapping_->tab_registers);
    std::copy(registers.begin(), registers.end(), mapping_->tab_input_registers);
    listen_fd_ = modbus_tcp_listen(ctx_, 1);
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int s = listen_fd_;
      if (modbus_tcp_accept(ctx_, &s) < 0) {
        return;
      }
      std::vector<std::uint8_t> req(MODBUS_TCP_MAX_ADU_LENGTH);
      while (true) {
        const int rc = modbus_receive(ctx_, req.data());
        if (rc < 0) {
          break;
        }
        if (rc > 0 && modbus_reply(ctx_, req.data(), rc, mapping_) < 0) {
          break;
        }
      }
    });
  }
  ~BareServer() {
    thread_.join();
    modbus_close(ctx_);
    ::close(listen_fd_);
    modbus_mapping_free(mapping_);
    modbus_free(ctx_);
  }
  int port() const { return port_; }

 private:
  modbus_t* ctx_ = nullptr;
  modbus_mapping_t* mapping_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

modbus_t* connect(int port) {
  modbus_t* c = modbus_new_tcp("127.0.0.1", port);
  if (modbus_connect(c) != 0) {
    std::fprintf(stderr, "connect %d: %s\n", port, modbus_strerror(errno));
    std::exit(1);
  }
  modbus_set_response_timeout(c, 2, 0);
  return c;
}

// Reads per second for one round.
double round(modbus_t* c, const Workload& w) {
  std::uint16_t regs[MODBUS_MAX_READ_REGISTERS];
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequestsPerRound; ++i) {
    if (modbus_read_registers(c, w.address, w.count, regs) != w.count) {
      std::fprintf(stderr, "read %d+%d failed: %s\n", w.address, w.count, modbus_strerror(errno));
      std::exit(1);
    }
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  return kRequestsPerRound / dt.count();
}

void emit(const std::string& metric, double value, const std::string& unit,
          const nlohmann::json& extra) {
  utsname u{};
  uname(&u);
  nlohmann::json c{{"plant", "demo (2 strings × 32 blocks)"},
                   {"transport", "tcp loopback, 1 client, sequential requests"},
                   {"rounds", kRounds},
                   {"requests_per_round", kRequestsPerRound},
                   {"statistic", "median of rounds"},
                   {"kernel", u.release}};
  bench::emitFigure("modbus", metric, value, unit, std::move(c), extra);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  log::setLevel("error");
  const auto dir = std::filesystem::temp_directory_path() / "equalis-bench-modbus";
  std::filesystem::remove_all(dir);
  auto plant = model::demoPlant();
  plant.data_dir = dir.string();
  SimulatedClock clock;
  runtime::Controller controller(plant, clock);
  if (auto st = controller.open(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return 1;
  }
  controller.runUntil(clock, clock.nowMs() + 5 * kMinuteMs);  // the clock stays put: fresh data

  adapters::Context ctx{controller.plant(), controller.state(), clock, "bench", {}, {}};
  auto server = modbus::TcpServer::start(ctx, modbus::TcpSpec{"127.0.0.1", 0});
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  const std::vector<Workload> workloads = {
      {"counts", 1003, 2},               // 2 registers
      {"string_records", 2000, 20},      // one string record
      {"block_records", 4000, 120},      // 12 block records
      {"general_and_strings", 1000, 60}  // flags (scan all blocks) + seed string section
  };

  // The baseline serves exactly what equalisd serves now.
  std::vector<std::uint16_t> snapshot(65536, 0);
  modbus_t* ours = connect((*server)->port());
  for (const auto& w : workloads) {
    modbus_read_registers(ours, w.address, w.count, snapshot.data() + w.address);
  }
  BareServer bare(snapshot);
  modbus_t* base = connect(bare.port());

  for (const auto& w : workloads) {
    std::vector<double> ours_rates;
    std::vector<double> bare_rates;
    for (int r = 0; r < kRounds; ++r) {
      ours_rates.push_back(round(ours, w));
      bare_rates.push_back(round(base, w));
    }
    const double o = median(ours_rates);
    const double b = median(bare_rates);
    const nlohmann::json extra{
        {"workload", w.name}, {"address", w.address}, {"registers", w.count}};
    emit("equalisd_reads_per_s", o, "1/s", extra);
    emit("bare_libmodbus_reads_per_s", b, "1/s", extra);
    emit("throughput_ratio", o / b, "ratio", extra);
  }
  modbus_close(ours);
  modbus_free(ours);
  modbus_close(base);
  modbus_free(base);
  (*server)->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
