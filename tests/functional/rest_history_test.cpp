// The history routes of the REST API over real HTTP on the demo plant run on a simulated clock:
// a 10-minute mains outage is recorded, then the discharge list and details, the block pattern,
// downsampled series and the event log's search and paging are read as the web page reads them.
#include <algorithm>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/server.hpp"
#include "functional/temp_dir.hpp"
#include "runtime/controller.hpp"

namespace equalis::runtime {
namespace {

using nlohmann::json;
using test::TempDir;

class RestHistory : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    clock_ = new SimulatedClock();
    auto plant = model::demoPlant();
    plant.simulation.ups.outages = false;
    plant.data_dir = dir_->str();
    const auto plant_sim = simulatedPlant(plant, clock_->nowMs());
    controller_ = new Controller(plant, *clock_, plant_sim);
    ASSERT_TRUE(controller_->open().ok());
    t0_ = clock_->nowMs();
    controller_->runUntil(*clock_, t0_ + 2 * kHourMs);
    outage_ms_ = clock_->nowMs();
    plant_sim->startOutage(20'000.0, 10 * kMinuteMs);
    controller_->runUntil(*clock_, outage_ms_ + 3 * kHourMs);
    auto& c = *controller_;
    server_ = new rest::Server(
        rest::Sources{c.plant(), c.state(), *clock_, c.commands(), c.history(), &c.eventManager(),
                      c.startedMs(), c.simulated(), nullptr, ops::HealthPolicy{}, ""},
        "test");
    const auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    port_ = *port;
    serving_ = new std::thread([] { server_->serve(); });
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      server_->stop();
    }
    if (serving_ != nullptr) {
      serving_->join();
    }
    delete serving_;
    delete server_;
    delete controller_;
    delete clock_;
    delete dir_;
  }

  // GET → (status, parsed body).
  static std::pair<int, json> get(const std::string& path) {
    httplib::Client http("127.0.0.1", port_);
    http.set_read_timeout(30);
    const auto res = http.Get(path);
    if (!res) {
      return {0, json()};
    }
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  static std::string range() {
    return "from=" + std::to_string(t0_) + "&to=" + std::to_string(clock_->nowMs());
  }

  static inline TempDir* dir_ = nullptr;
  static inline SimulatedClock* clock_ = nullptr;
  static inline Controller* controller_ = nullptr;
  static inline rest::Server* server_ = nullptr;
  static inline std::thread* serving_ = nullptr;
  static inline int port_ = 0;
  static inline TimeMs t0_ = 0;
  static inline TimeMs outage_ms_ = 0;
};

TEST_F(RestHistory, TheOutageIsListedAsADischargeOfEachString) {
  for (int s = 1; s <= 2; ++s) {
    const auto [status, j] = get("/api/v1/strings/" + std::to_string(s) + "/discharges?" + range());
    ASSERT_EQ(status, 200) << j.dump();
    ASSERT_EQ(j["discharges"].size(), 1u) << j.dump();
    const auto& d = j["discharges"][0];
    // Recorded at the first sweep of the outage, ended by the mode a minute after the mains
    // came back.
    EXPECT_GE(d["start_ms"].get<TimeMs>(), outage_ms_);
    EXPECT_LE(d["start_ms"].get<TimeMs>(), outage_ms_ + kMinuteMs);
    EXPECT_EQ(d["id"], d["start_ms"]);
    ASSERT_TRUE(d["end_ms"].is_number());
    const double duration_s = d["duration_s"].get<double>();
    EXPECT_GT(duration_s, 10 * 60 - 60);
    EXPECT_LT(duration_s, 10 * 60 + 5 * 60);
    // 20 kW for 10 min shared by two strings of ~420 V: roughly 12 A each, ~2 Ah.
    EXPECT_GT(d["ah_out"].get<double>(), 0.5);
    EXPECT_LT(d["ah_out"].get<double>(), 10.0);
    EXPECT_LT(d["min_voltage_v"].get<double>(), 32 * 13.0);
    EXPECT_EQ(d["block_count"], 32);
  }
  // 404 for a string that does not exist, 400 for a bad range.
  EXPECT_EQ(get("/api/v1/strings/9/discharges").first, 404);
  EXPECT_EQ(get("/api/v1/strings/1/discharges?from=yesterday").first, 400);
}

TEST_F(RestHistory, DischargeDetailHasEveryBlockAndSortedEndVoltages) {
  const auto [status, list] = get("/api/v1/strings/1/discharges?" + range());
  ASSERT_EQ(status, 200);
  ASSERT_FALSE(list["discharges"].empty());
  const std::string id = std::to_string(list["discharges"][0]["id"].get<TimeMs>());
  const auto [code, d] = get("/api/v1/strings/1/discharges/" + id + "?max_points=300");
  ASSERT_EQ(code, 200) << d.dump();
  EXPECT_EQ(d["id"], list["discharges"][0]["id"]);
  EXPECT_EQ(d["ah_out"], list["discharges"][0]["ah_out"]);
  const auto& ss = d["string_series"];
  ASSERT_FALSE(ss["times_ms"].empty());
  EXPECT_LE(ss["times_ms"].size(), 300u);
  EXPECT_EQ(ss["downsampled"], true);  // 10 min before … 1 h after at 10 s: ~450 snapshots
  EXPECT_TRUE(std::is_sorted(ss["times_ms"].begin(), ss["times_ms"].end()));
  EXPECT_EQ(ss["voltage_v"].size(), ss["times_ms"].size());
  EXPECT_EQ(ss["current_a"].size(), ss["times_ms"].size());
  const auto& blocks = d["blocks"];
  EXPECT_LE(blocks["times_ms"].size(), 300u);
  ASSERT_EQ(blocks["blocks"].size(), 32u);
  for (int b = 0; b < 32; ++b) {
    EXPECT_EQ(blocks["blocks"][b]["block"], b + 1);
    EXPECT_EQ(blocks["blocks"][b]["values"].size(), blocks["times_ms"].size());
  }
  const auto& eod = d["end_of_discharge"];
  ASSERT_EQ(eod.size(), 32u);
  for (std::size_t i = 1; i < eod.size(); ++i) {
    EXPECT_LE(eod[i - 1]["voltage_v"].get<double>(), eod[i]["voltage_v"].get<double>());
  }
  const auto& at = d["end_of_discharge_at"];
  EXPECT_GE(at["time_ms"].get<TimeMs>(), d["start_ms"].get<TimeMs>());
  EXPECT_LE(at["time_ms"].get<TimeMs>(), d["end_ms"].get<TimeMs>());
  EXPECT_DOUBLE_EQ(at["string_voltage_v"].get<double>(), d["min_voltage_v"].get<double>());
  EXPECT_GE(at["margin_v"].get<double>(), 0.3);

  EXPECT_EQ(get("/api/v1/strings/1/discharges/" + std::to_string(t0_)).first, 404);
  EXPECT_EQ(get("/api/v1/strings/1/discharges/abc").first, 400);
  EXPECT_EQ(get("/api/v1/strings/1/discharges/" + id + "?max_points=1").first, 400);
}

TEST_F(RestHistory, BlockPatternIsOneSharedAxis) {
  const auto [status, j] = get("/api/v1/strings/2/blocks/history?quantity=voltage_v&" + range());
  ASSERT_EQ(status, 200) << j.dump();
  EXPECT_EQ(j["string"], 2);
  EXPECT_EQ(j["unit"], "V");
  EXPECT_EQ(j["downsampled"], false);
  const std::size_t n = j["times_ms"].size();
  EXPECT_EQ(j["source_count"], n);
  EXPECT_GT(n, 400u);  // 2 h float (20 min) + the discharge and its hour at 10 s
  ASSERT_EQ(j["blocks"].size(), 32u);
  for (const auto& b : j["blocks"]) {
    EXPECT_EQ(b["values"].size(), n);
  }
  // The same values as block 5's own series.
  const auto [s5, one] = get("/api/v1/strings/2/blocks/5/history?quantity=voltage_v&" + range());
  ASSERT_EQ(s5, 200);
  EXPECT_EQ(one["times_ms"], j["times_ms"]);
  EXPECT_EQ(one["values"], j["blocks"][4]["values"]);

  const auto [thin_status, thin] =
      get("/api/v1/strings/2/blocks/history?quantity=temperature_c&max_points=100&" + range());
  ASSERT_EQ(thin_status, 200);
  EXPECT_EQ(thin["downsampled"], true);
  EXPECT_EQ(thin["source_count"], n);
  EXPECT_LE(thin["times_ms"].size(), 100u);
  EXPECT_EQ(thin["unit"], "°C");

  EXPECT_EQ(get("/api/v1/strings/2/blocks/history?quantity=mode").first, 400);
  EXPECT_EQ(get("/api/v1/strings/2/blocks/history?max_points=100001").first, 400);
  EXPECT_EQ(get("/api/v1/strings/3/blocks/history").first, 404);
  // The route did not take the place of a block's own document.
  EXPECT_EQ(get("/api/v1/strings/2/blocks/7").first, 200);
}

TEST_F(RestHistory, SeriesDownsamplingKeepsTheDischargeMinimum) {
  const auto [status, full] = get("/api/v1/strings/1/history?quantity=voltage_v&" + range());
  ASSERT_EQ(status, 200);
  EXPECT_EQ(full["downsampled"], false);
  const std::size_t n = full["times_ms"].size();
  EXPECT_EQ(full["source_count"], n);
  const auto [s2, thin] =
      get("/api/v1/strings/1/history?quantity=voltage_v&max_points=40&" + range());
  ASSERT_EQ(s2, 200);
  EXPECT_EQ(thin["downsampled"], true);
  EXPECT_EQ(thin["source_count"], n);
  EXPECT_LE(thin["times_ms"].size(), 40u);
  const auto values = full["values"].get<std::vector<double>>();
  const auto thin_values = thin["values"].get<std::vector<double>>();
  EXPECT_DOUBLE_EQ(*std::min_element(thin_values.begin(), thin_values.end()),
                   *std::min_element(values.begin(), values.end()));
  EXPECT_DOUBLE_EQ(*std::max_element(thin_values.begin(), thin_values.end()),
                   *std::max_element(values.begin(), values.end()));

  // The mode keeps every change: float → discharge → (charge →) float, and the last point.
  const auto [s3, mode] = get("/api/v1/strings/1/history?quantity=mode&max_points=10&" + range());
  ASSERT_EQ(s3, 200);
  const auto names = mode["values"].get<std::vector<std::string>>();
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names.front(), "float");
  EXPECT_NE(std::find(names.begin(), names.end(), "discharge"), names.end());
  for (std::size_t i = 1; i + 1 < names.size(); ++i) {
    EXPECT_NE(names[i], names[i - 1]) << "a repeated value at " << i;
  }
  EXPECT_EQ(mode["times_ms"].back(), full["times_ms"].back());

  const auto [s4, block] =
      get("/api/v1/strings/1/blocks/3/history?quantity=voltage_v&max_points=2&" + range());
  ASSERT_EQ(s4, 200);
  EXPECT_EQ(block["times_ms"].size(), 2u);
  const auto [bad, err] = get("/api/v1/strings/1/history?max_points=abc");
  EXPECT_EQ(bad, 400);
  EXPECT_EQ(err["error"]["parameter"], "max_points");
}

// The battery room's air is recorded with every snapshot, as the state had it: a value where the
// demo has a sensor, not_present (no value) where it has none.
TEST_F(RestHistory, TheRoomAirIsRecordedWithEverySnapshot) {
  const auto [s0, strings] = get("/api/v1/strings/1/history?quantity=voltage_v&" + range());
  ASSERT_EQ(s0, 200);
  const auto [s1, status] = get("/api/v1/status");
  ASSERT_EQ(s1, 200);
  int with_sensor = 0;
  for (const char* field : {"ambient_temperature_c", "humidity_pct", "hydrogen_pct"}) {
    SCOPED_TRACE(field);
    const auto [code, j] =
        get(std::string("/api/v1/system/history?quantity=") + field + "&" + range());
    ASSERT_EQ(code, 200) << j.dump();
    EXPECT_EQ(j["quantity"], field);
    ASSERT_EQ(j["count"], strings["count"]);  // one room row per snapshot
    ASSERT_GT(j["count"].get<int>(), 10);
    const auto& live = status["system"][field];
    const auto& values = j["values"];
    if (live["quality"] == "not_present") {
      ASSERT_TRUE(j["quality"].is_array()) << j["quality"].dump();
      for (std::size_t i = 0; i < values.size(); ++i) {
        EXPECT_TRUE(values[i].is_null());
        EXPECT_EQ(j["quality"][i], "not_present");
      }
      continue;
    }
    ++with_sensor;
    EXPECT_EQ(j["unit"], field == std::string("ambient_temperature_c") ? "°C" : "%");
    ASSERT_TRUE(values.back().is_number()) << values.back().dump();
    // The last snapshot is at most one float interval (20 min) old; the room changes slowly.
    const double tolerance = field == std::string("hydrogen_pct") ? 0.05 : 1.5;
    EXPECT_NEAR(values.back().get<double>(), live["value"].get<double>(), tolerance);
    const auto [c2, thin] =
        get(std::string("/api/v1/system/history?quantity=") + field + "&max_points=10&" + range());
    ASSERT_EQ(c2, 200);
    EXPECT_LE(thin["count"].get<int>(), 10);
    EXPECT_TRUE(thin["downsampled"].get<bool>());
  }
  EXPECT_GE(with_sensor, 1) << "the demo plant has an ambient sensor";
  const auto [bad, err] = get("/api/v1/system/history?quantity=voltage_v");
  EXPECT_EQ(bad, 400);
  EXPECT_NE(err.dump().find("ambient_temperature_c, humidity_pct, hydrogen_pct"), std::string::npos)
      << err.dump();
}

TEST_F(RestHistory, EventLogSearchesAndPagesNewestFirst) {
  const auto [status, all] = get("/api/v1/events?" + range() + "&limit=100000");
  ASSERT_EQ(status, 200);
  const auto& events = all["events"];
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(all["total"], events.size());
  EXPECT_EQ(all["more"], false);
  // Pages of 2 from the newest, each in time order, together the whole log newest first.
  std::vector<json> paged;
  for (std::size_t offset = 0;; offset += 2) {
    const auto [s, page] =
        get("/api/v1/events?" + range() + "&limit=2&offset=" + std::to_string(offset));
    ASSERT_EQ(s, 200);
    EXPECT_EQ(page["total"], events.size());
    EXPECT_EQ(page["offset"], offset);
    const auto& list = page["events"];
    ASSERT_LE(list.size(), 2u);
    if (list.size() == 2) {
      EXPECT_LE(list[0]["time_ms"].get<TimeMs>(), list[1]["time_ms"].get<TimeMs>());
    }
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      paged.push_back(*it);
    }
    if (!page["more"].get<bool>()) {
      break;
    }
    ASSERT_LT(offset, 1000u);
  }
  ASSERT_EQ(paged.size(), events.size());
  for (std::size_t i = 0; i < paged.size(); ++i) {
    EXPECT_EQ(paged[i], events[events.size() - 1 - i]);
  }
  // Text search, case-insensitive: the mode changes name "DISCHARGE" in lower case.
  const auto [s2, found] = get("/api/v1/events?" + range() + "&q=DISCHARGE");
  ASSERT_EQ(s2, 200);
  ASSERT_FALSE(found["events"].empty());
  for (const auto& e : found["events"]) {
    std::string m = e["message"].get<std::string>();
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
    EXPECT_NE(m.find("discharge"), std::string::npos) << m;
  }
  // The CSV export takes the same parameters.
  httplib::Client http("127.0.0.1", port_);
  const auto csv = http.Get("/api/v1/events/export.csv?" + range() + "&q=discharge&limit=1");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 200);
  EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), 2);  // header + 1
  const auto [s3, err] = get("/api/v1/events?q=" + std::string(201, 'x'));
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(err["error"]["parameter"], "q");
  EXPECT_EQ(get("/api/v1/events?offset=-3").first, 400);
}

}  // namespace
}  // namespace equalis::runtime
