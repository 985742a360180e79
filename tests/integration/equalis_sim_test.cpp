// The equalis-sim process on a real pty and a real TCP socket, read through the wire backend as
// equalisd would: every module answers with plausible values, bypass writes reach the simulated
// plant, and injected silent modules fail alone.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.hpp"
#include "bus/wire_backend.hpp"

namespace equalis::bus {
namespace {

class SimProcess {
 public:
  SimProcess(const std::vector<std::string>& args, std::size_t lines) {
    const std::string exe = std::string(EQUALIS_BIN_DIR) + "/equalis-sim";
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test: a test that stops early must not leave a simulator behind that
      // holds ctest's output pipe open (ctest would wait for it until its timeout).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv{const_cast<char*>(exe.c_str())};  // NOLINT
      for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));  // NOLINT
      }
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      std::_Exit(127);
    }
    ::close(out[1]);
    in_ = ::fdopen(out[0], "r");
    char line[512];
    while (urls_.size() < lines && std::fgets(line, sizeof line, in_) != nullptr) {
      output_ += line;
      const char* open = std::strchr(line, '(');
      const char* semi = open ? std::strchr(open, ';') : nullptr;
      if (std::strncmp(line, "equalis-sim: line ", 18) == 0 && semi != nullptr) {
        urls_.emplace_back(open + 1, semi);
      }
    }
  }
  ~SimProcess() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    if (in_ != nullptr) {
      std::fclose(in_);
    }
  }
  const std::vector<std::string>& urls() const { return urls_; }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  std::vector<std::string> urls_;
  std::string output_;
};

model::PlantConfig plantOf(int strings, int blocks, const std::vector<std::string>& urls) {
  auto p = model::demoPlant();
  const auto base = p.strings[0];
  p.strings.assign(static_cast<std::size_t>(strings), base);
  for (std::size_t s = 0; s < p.strings.size(); ++s) {
    p.strings[s].block_count = blocks;
    p.strings[s].name = "String " + std::to_string(s + 1);
  }
  const std::size_t per = (p.strings.size() + urls.size() - 1) / urls.size();
  for (std::size_t l = 0; l < urls.size(); ++l) {
    model::BusLineConfig line;
    line.url = urls[l];
    line.timeout_ms = 20;
    for (std::size_t s = l * per; s < std::min(p.strings.size(), (l + 1) * per); ++s) {
      line.strings.push_back(static_cast<int>(s + 1));
    }
    p.bus.lines.push_back(line);
  }
  return p;
}

void expectPlausible(const Sweep& sw) {
  for (const auto& string : sw.modules) {
    for (const auto& m : string) {
      EXPECT_EQ(m.quality, model::Quality::kOk);
      EXPECT_GT(m.reading.voltage_mv, 12'000);  // a VRLA block in float, ±measurement error
      EXPECT_LT(m.reading.voltage_mv, 15'000);
      EXPECT_GT(m.reading.temperature_dc, 150);
      EXPECT_LT(m.reading.temperature_dc, 400);
      EXPECT_GT(m.reading.ri_uohm, 500);
      EXPECT_LT(m.reading.ri_uohm, 60'000);
    }
  }
}

TEST(EqualisSim, AnswersOnAPtyLikeThePlant) {
  SimProcess sim({"--plant", "2x16", "--seed", "5"}, 1);
  ASSERT_EQ(sim.urls().size(), 1u) << sim.output();
  EXPECT_EQ(sim.urls()[0].rfind("serial:/dev/pts/", 0), 0u) << sim.urls()[0];
  const auto plant = plantOf(2, 16, sim.urls());
  RealClock clock;
  auto backend = WireBackend::create(plant, clock);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Frontend fe(**backend, plant);
  for (int i = 0; i < 2; ++i) {
    const auto& sw = fe.sweep(clock.nowMs());
    EXPECT_EQ(sw.modules_ok, 32);
    expectPlausible(sw);
    EXPECT_EQ(sw.string_sensors[0].quality, model::Quality::kOk);
    EXPECT_EQ(sw.ambient.quality, model::Quality::kOk);
    EXPECT_NEAR(sw.ambient.temperature_dc, 250, 30);
  }
  const auto h = (*backend)->lineHealth();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].state, LineState::kUp);
  EXPECT_EQ(h[0].counters.crc_errors, 0u);
}

TEST(EqualisSim, ServesTcpAndAppliesBypassWrites) {
  SimProcess sim({"--plant", "1x8", "--tcp", "127.0.0.1:0"}, 1);
  ASSERT_EQ(sim.urls().size(), 1u) << sim.output();
  EXPECT_EQ(sim.urls()[0].rfind("tcp://127.0.0.1:", 0), 0u) << sim.urls()[0];
  const auto plant = plantOf(1, 8, sim.urls());
  RealClock clock;
  auto backend = WireBackend::create(plant, clock);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Frontend fe(**backend, plant);
  fe.commandBypass(0, 6, 60);
  EXPECT_EQ(fe.last().comm[0][6].errors, 0u);  // acknowledged with the duty applied
  // The plant takes the duty at its next step (every 100 ms of the process's loop).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto& sw = fe.sweep(clock.nowMs());
  EXPECT_EQ(sw.modules_ok, 8);
  EXPECT_EQ(sw.modules[0][6].reading.bypass_duty_pct, 60);
  EXPECT_EQ(sw.modules[0][5].reading.bypass_duty_pct, 0);
}

TEST(EqualisSim, SilentModulesAndCorruptedFramesFailAloneOverTwoLines) {
  SimProcess sim(
      {"--plant", "4x10", "--lines", "2", "--fault", "silent=1:2,4:10", "--fault", "crc=0.02"}, 2);
  ASSERT_EQ(sim.urls().size(), 2u) << sim.output();
  const auto plant = plantOf(4, 10, sim.urls());
  RealClock clock;
  auto backend = WireBackend::create(plant, clock);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Frontend fe(**backend, plant);
  for (int i = 0; i < 3; ++i) {
    const auto& sw = fe.sweep(clock.nowMs());
    EXPECT_GE(sw.modules_ok, 37);
    EXPECT_LE(sw.modules_ok, 38);
    EXPECT_EQ(sw.modules[0][1].time_ms, 0);
    EXPECT_EQ(sw.modules[3][9].time_ms, 0);
  }
  EXPECT_EQ(fe.last().modules[0][1].quality, model::Quality::kCommLost);
  EXPECT_EQ(fe.last().modules[3][9].quality, model::Quality::kCommLost);
  const auto h = (*backend)->lineHealth();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].state, LineState::kDegraded);
  EXPECT_EQ(h[1].state, LineState::kDegraded);
}

TEST(EqualisSim, RejectsBadArguments) {
  const std::string exe = std::string(EQUALIS_BIN_DIR) + "/equalis-sim";
  for (const char* args :
       {"--fault crc=2", "--plant 0x3", "--baud 12345", "--bogus", "--fault silent=1",
        "--config /nonexistent.toml", "--replace 1", "--replace 1:0", "--plant 2x4 --replace 3:1",
        "--plant 2x4 --replace 1:5"}) {
    const std::string cmd = exe + " " + args + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc)) << args;
    EXPECT_EQ(WEXITSTATUS(rc), 2) << args;
  }
}

}  // namespace
}  // namespace equalis::bus
