// The REST server while the control cycle commits a new state version at every sweep, on the
// demo plant as `make run` starts it: every reply is complete and well-formed. A reply built from
// a version the cycle had already replaced read freed memory (invalid UTF-8, std::bad_alloc,
// HTTP 500) — found by the soak run, caught here under ASan and by the reply checks.
#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/server.hpp"
#include "functional/temp_dir.hpp"
#include "runtime/controller.hpp"

namespace equalis::runtime {
namespace {

using test::TempDir;

TEST(RestLive, RepliesStayWholeWhileTheCycleCommits) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();  // outages on, an old and a new string
  plant.data_dir = dir.str();
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  // The first minutes of the old string raise and clear alarms: the list changes all the time.
  c.runUntil(clock, clock.nowMs() + 2 * kMinuteMs);

  rest::Server server(
      rest::Sources{c.plant(), c.state(), clock, c.commands(), c.history(), &c.eventManager(),
                    c.startedMs(), c.simulated(), nullptr, ops::HealthPolicy{}, ""},
      "test");
  const auto port = server.bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  std::thread serving([&] { server.serve(); });

  std::atomic<bool> done{false};
  std::thread cycling([&] {
    while (!done.load()) {
      clock.advance(plant.bus.sweep_interval_ms);
      c.cycle();
    }
  });

  const std::vector<std::string> paths = {"/api/v1/alarms", "/api/v1/alarms/rules",
                                          "/api/v1/system", "/api/v1/io"};
  // One client (cpp-httplib's, not instrumented for ThreadSanitizer) on one kept-alive
  // connection: the race looked for is between the control cycle and the REST handlers.
  constexpr int kRequests = 400;
  int good = 0;
  std::string problem;
  {
    httplib::Client http("127.0.0.1", *port);
    http.set_keep_alive(true);
    http.set_tcp_nodelay(true);
    for (int i = 0; i < kRequests; ++i) {
      const auto& path = paths[static_cast<std::size_t>(i) % paths.size()];
      const auto res = http.Get(path);
      if (!res || res->status != 200) {
        problem = path + ": " + (res ? std::to_string(res->status) + " " + res->body : "no reply");
        continue;
      }
      if (nlohmann::json::parse(res->body, nullptr, false).is_discarded()) {
        problem = path + ": reply is not JSON";
        continue;
      }
      good += 1;
    }
  }
  done = true;
  cycling.join();
  server.stop();
  serving.join();
  EXPECT_EQ(good, kRequests) << problem;
  EXPECT_GT(c.sweepCount(), 20u);
}

}  // namespace
}  // namespace equalis::runtime
