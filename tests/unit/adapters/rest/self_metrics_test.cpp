// The daemon's own figures in /metrics: names, types, histogram consistency and values.
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "adapters/rest/metrics.hpp"

namespace equalis::rest {
namespace {

using namespace std::chrono_literals;

// {sample name with labels: value} of the sample lines, and {family: type}.
struct Parsed {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
};

Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  const std::regex type_line(R"(^# TYPE ([a-z_]+) (counter|gauge|histogram)$)");
  const std::regex sample_line(R"(^([a-z_]+(\{[^}]*\})?) (\S+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type_line)) {
      EXPECT_TRUE(p.types.emplace(m[1], m[2]).second) << "family twice: " << line;
    } else if (line.rfind("# HELP ", 0) == 0) {
      continue;
    } else if (std::regex_match(line, m, sample_line)) {
      EXPECT_TRUE(p.samples.emplace(m[1], std::stod(m[3])).second) << "sample twice: " << line;
    } else {
      ADD_FAILURE() << "unparsable line: " << line;
    }
  }
  return p;
}

SelfMetrics example() {
  ops::RuntimeStats stats;
  const auto t0 = ops::Steady::now();
  stats.cycleDone(3ms, 62, 2, t0 + 1s);
  stats.cycleDone(40ms, 63, 1, t0 + 2s);
  stats.cycleDone(2s, 64, 0, t0 + 5s);
  stats.commandDone(true);
  stats.commandDone(true);
  stats.commandDone(false);
  stats.reloadDone(false);
  SelfMetrics m;
  m.version = "0.1.0 (g1234567)";
  m.runtime = stats.snapshot();
  m.now = t0 + 7s;
  m.state_version = 42;
  m.command_queue_depth = 3;
  m.history_open = true;
  m.history_used_bytes = 4096;
  m.history_file_bytes = 8192;
  m.history_max_bytes = 1 << 20;
  m.history_snapshots = 17;
  m.events_present = true;
  m.events.delivered = 5;
  m.events.failed = 1;
  m.events.dropped = 2;
  m.events.queued = 4;
  m.process.resident_bytes = 1 << 24;
  m.process.threads = 12;
  return m;
}

TEST(SelfMetrics, EveryFigureIsThereWithItsType) {
  const auto m = example();
  const auto p = parse(renderSelfMetrics(m));
  EXPECT_EQ(p.types.at("equalis_control_cycle_duration_seconds"), "histogram");
  EXPECT_EQ(p.types.at("equalis_control_cycles_total"), "counter");
  EXPECT_EQ(p.types.at("equalis_commands_total"), "counter");
  EXPECT_EQ(p.types.at("equalis_events_deliveries_total"), "counter");
  EXPECT_EQ(p.types.at("process_resident_memory_bytes"), "gauge");
  EXPECT_EQ(p.samples.at("equalis_control_cycles_total"), 3);
  EXPECT_DOUBLE_EQ(p.samples.at("equalis_control_cycle_last_duration_seconds"), 2.0);
  EXPECT_DOUBLE_EQ(p.samples.at("equalis_control_last_cycle_age_seconds"), 2.0);
  EXPECT_DOUBLE_EQ(p.samples.at("equalis_uptime_seconds"),
                   std::chrono::duration<double>(m.now - m.runtime.started).count());
  EXPECT_EQ(p.samples.at("equalis_control_modules_ok"), 64);
  EXPECT_EQ(p.samples.at("equalis_control_modules_comm_lost"), 0);
  EXPECT_EQ(p.samples.at("equalis_state_version"), 42);
  EXPECT_EQ(p.samples.at("equalis_command_queue_depth"), 3);
  EXPECT_EQ(p.samples.at(R"(equalis_commands_total{outcome="applied"})"), 2);
  EXPECT_EQ(p.samples.at(R"(equalis_commands_total{outcome="refused"})"), 1);
  EXPECT_EQ(p.samples.at(R"(equalis_config_reloads_total{outcome="rejected"})"), 1);
  EXPECT_EQ(p.samples.at(R"(equalis_config_reloads_total{outcome="applied"})"), 0);
  EXPECT_EQ(p.samples.at("equalis_history_used_bytes"), 4096);
  EXPECT_EQ(p.samples.at("equalis_history_snapshots"), 17);
  EXPECT_EQ(p.samples.at(R"(equalis_events_deliveries_total{outcome="ok"})"), 5);
  EXPECT_EQ(p.samples.at(R"(equalis_events_deliveries_total{outcome="failed"})"), 1);
  EXPECT_EQ(p.samples.at(R"(equalis_events_deliveries_total{outcome="dropped"})"), 2);
  EXPECT_EQ(p.samples.at("equalis_events_queue_depth"), 4);
  EXPECT_EQ(p.samples.at("process_resident_memory_bytes"), 1 << 24);
  EXPECT_EQ(p.samples.at("equalis_process_threads"), 12);
  EXPECT_EQ(p.samples.at(R"x(equalis_build_info{version="0.1.0 (g1234567)"})x"), 1);
}

TEST(SelfMetrics, HistogramBucketsAreCumulative) {
  const auto p = parse(renderSelfMetrics(example()));
  const std::string h = "equalis_control_cycle_duration_seconds";
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="0.001"})"), 0);
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="0.005"})"), 1);  // 3 ms
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="0.05"})"), 2);   // + 40 ms
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="1"})"), 2);
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="2.5"})"), 3);  // + 2 s
  EXPECT_EQ(p.samples.at(h + R"(_bucket{le="+Inf"})"), 3);
  EXPECT_EQ(p.samples.at(h + "_count"), 3);
  EXPECT_NEAR(p.samples.at(h + "_sum"), 2.043, 1e-9);
  double previous = 0;
  for (double bound : ops::kCycleBucketsS) {
    const double v = p.samples.at(fmt::format("{}_bucket{{le=\"{}\"}}", h, bound));
    EXPECT_GE(v, previous) << bound;
    previous = v;
  }
}

TEST(SelfMetrics, AbsentPartsAreLeftOut) {
  auto m = example();
  m.history_open = false;
  m.events_present = false;
  const auto text = renderSelfMetrics(m);
  EXPECT_EQ(text.find("equalis_history_"), std::string::npos);
  EXPECT_EQ(text.find("equalis_events_"), std::string::npos);
  EXPECT_NE(text.find("equalis_control_cycles_total"), std::string::npos);
}

TEST(SelfMetrics, ProcessFiguresOfThisProcess) {
  const auto p = ops::processFigures();
  EXPECT_GT(p.resident_bytes, 1024u * 1024u);
  EXPECT_GE(p.threads, 1);
  EXPECT_GE(p.open_fds, 3);
  EXPECT_GT(p.start_time_unix_s, 1.6e9);  // after 2020
  EXPECT_LE(p.start_time_unix_s, static_cast<double>(wallNowMs()) / 1000.0 + 1);
}

// ------------------------------------------------------------------ liveness and readiness

TEST(Health, LiveWhileCyclesComeWithinTheLimit) {
  ops::RuntimeStats stats;
  const auto t0 = ops::Steady::now();
  ops::HealthPolicy policy;
  policy.sweep_interval_s = 10;  // limit 30 s
  stats.cycleDone(1ms, 64, 0, t0);
  EXPECT_TRUE(ops::liveness(stats.snapshot(), policy, t0 + 29s).ok);
  const auto late = ops::liveness(stats.snapshot(), policy, t0 + 31s);
  EXPECT_FALSE(late.ok);
  EXPECT_NEAR(late.last_cycle_age_s, 31, 1e-6);
  EXPECT_NE(late.reason.find("no control cycle completed for 31.0 s (limit 30.0 s)"),
            std::string::npos)
      << late.reason;
  stats.cycleDone(1ms, 64, 0, t0 + 32s);
  EXPECT_TRUE(ops::liveness(stats.snapshot(), policy, t0 + 33s).ok);
}

TEST(Health, FastClocksHaveAFloorAndNoCycleFailsAfterTheLimit) {
  ops::HealthPolicy policy;
  policy.sweep_interval_s = 0.001;  // 10 s at 10000×
  EXPECT_DOUBLE_EQ(policy.limitS(), 2.0);
  ops::RuntimeStats stats;
  const auto snap = stats.snapshot();
  EXPECT_TRUE(ops::liveness(snap, policy, snap.started + 1s).ok);
  const auto never = ops::liveness(snap, policy, snap.started + 3s);
  EXPECT_FALSE(never.ok);
  EXPECT_LT(never.last_cycle_age_s, 0);
  EXPECT_NE(never.reason.find("since the start"), std::string::npos) << never.reason;
}

TEST(Health, ReadyAfterTheFirstSweepWithHistoryUntilStopping) {
  ops::RuntimeStats stats;
  auto r = ops::readiness(stats.snapshot(), true);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "first sweep not done yet");
  stats.cycleDone(1ms, 64, 0);
  EXPECT_TRUE(ops::readiness(stats.snapshot(), true).ok);
  r = ops::readiness(stats.snapshot(), false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "history store is not open");
  stats.markStopping();
  r = ops::readiness(stats.snapshot(), true);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "shutting down");
}

}  // namespace
}  // namespace equalis::rest
