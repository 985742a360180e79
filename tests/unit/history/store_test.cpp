#include "history/store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "history/schema.hpp"

namespace equalis::history {
namespace {

namespace fs = std::filesystem;
using model::Quality;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr TimeMs kMinTime = std::numeric_limits<TimeMs>::min();
constexpr TimeMs kMaxTime = std::numeric_limits<TimeMs>::max();

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/equalis-history-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* made = ::mkdtemp(buf.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) {
      fs::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

// A plant-like snapshot: `strings` × `blocks` with deterministic, realistic float values.
Snapshot makeSnapshot(TimeMs t, int strings, int blocks, std::uint32_t seed,
                      const std::string& reason = "float") {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  Snapshot s;
  s.time_ms = t;
  s.reason = reason;
  for (int si = 0; si < strings; ++si) {
    StringRecord r;
    r.string_index = si;
    r.voltage_v = 13.62 * blocks + 0.3 * noise(rng);
    r.current_a = 0.35 + 0.05 * noise(rng);
    r.ac_current_a = 1.2 + 0.1 * noise(rng);
    r.charge_avg_pct = 99.5;
    r.mode = 1;
    s.strings.push_back(r);
    for (int bi = 0; bi < blocks; ++bi) {
      BlockRecord b;
      b.string_index = si;
      b.block_index = bi;
      b.voltage_v = 13.62 + 0.03 * noise(rng);
      b.temperature_c = 24.0 + 0.05 * bi + 0.2 * noise(rng);
      b.ri_mohm = 4.3 + 0.4 * si + 0.05 * noise(rng);
      b.charge_pct = 99.0 + 0.3 * noise(rng);
      b.equalization_pct = std::round(std::fabs(8.0 * noise(rng)));
      b.equalization_wh_per_day = std::fabs(5.0 * noise(rng));
      s.blocks.push_back(b);
    }
  }
  RoomRecord room;
  room.ambient_temperature_c = 23.0 + 0.2 * noise(rng);
  room.ambient_quality = Quality::kOk;
  room.humidity_pct = 45.0 + noise(rng);
  room.humidity_quality = Quality::kOk;
  room.hydrogen_quality = Quality::kNotPresent;
  room.hydrogen_pct = std::nan("");
  s.room = room;
  return s;
}

std::unique_ptr<Store> openOrDie(const std::string& path, std::uint64_t max_bytes = 64ull << 20,
                                 StoreOptions options = {}) {
  auto r = Store::open(path, max_bytes, options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) {
    return nullptr;
  }
  return std::move(r).value();
}

std::string exportAll(const Store& store, TimeMs from, TimeMs to, int string_index) {
  std::string out;
  const Status st = store.exportBlocksCsv(from, to, string_index, [&](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  return out;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(HistoryStore, QuantityNamesParse) {
  for (auto q : {BlockQuantity::kVoltageV, BlockQuantity::kTemperatureC, BlockQuantity::kRiMohm,
                 BlockQuantity::kChargePct, BlockQuantity::kEqualizationPct}) {
    EXPECT_EQ(parseBlockQuantity(blockQuantityName(q)), q);
  }
  for (auto q : {StringQuantity::kVoltageV, StringQuantity::kCurrentA, StringQuantity::kAcCurrentA,
                 StringQuantity::kChargeAvgPct, StringQuantity::kMode}) {
    EXPECT_EQ(parseStringQuantity(stringQuantityName(q)), q);
  }
  EXPECT_EQ(parseBlockQuantity("ri_mohm"), BlockQuantity::kRiMohm);
  EXPECT_EQ(parseStringQuantity("ac_current_a"), StringQuantity::kAcCurrentA);
  EXPECT_FALSE(parseBlockQuantity("current_a").has_value());
  EXPECT_FALSE(parseBlockQuantity("").has_value());
  EXPECT_FALSE(parseStringQuantity("ri_mohm").has_value());
}

TEST(HistoryStore, BlockValuesRoundTripWithinResolution) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  std::vector<Snapshot> written;
  for (int i = 0; i < 10; ++i) {
    written.push_back(
        makeSnapshot(kT0 + i * 10 * kSecondMs, 2, 4, 100u + static_cast<unsigned>(i)));
    ASSERT_TRUE(store->append(written.back()).ok());
  }
  const std::pair<BlockQuantity, double BlockRecord::*> fields[] = {
      {BlockQuantity::kVoltageV, &BlockRecord::voltage_v},
      {BlockQuantity::kTemperatureC, &BlockRecord::temperature_c},
      {BlockQuantity::kRiMohm, &BlockRecord::ri_mohm},
      {BlockQuantity::kChargePct, &BlockRecord::charge_pct},
      {BlockQuantity::kEqualizationPct, &BlockRecord::equalization_pct},
      {BlockQuantity::kEqualizationWhPerDay, &BlockRecord::equalization_wh_per_day},
  };
  for (const auto& [q, member] : fields) {
    for (int si = 0; si < 2; ++si) {
      for (int bi = 0; bi < 4; ++bi) {
        auto series = store->blockSeries(si, bi, q, kMinTime, kMaxTime, 0);
        ASSERT_TRUE(series.ok()) << series.error().message;
        ASSERT_EQ(series->size(), 10u);
        for (std::size_t i = 0; i < 10; ++i) {
          const BlockRecord& b = written[i].blocks[static_cast<std::size_t>(si * 4 + bi)];
          EXPECT_EQ((*series)[i].time_ms, written[i].time_ms);
          EXPECT_NEAR((*series)[i].value, b.*member, blockQuantityResolution(q) / 2 + 1e-9)
              << blockQuantityName(q);
          EXPECT_EQ((*series)[i].quality, Quality::kOk);
        }
      }
    }
  }
  // Exact values at the resolution boundary and negative values.
  Snapshot s;
  s.time_ms = kT0 + kHourMs;
  s.reason = "event";
  s.blocks.push_back({0, 0, 13.5127, -12.34, 4.5678, 87.46, 12.4, Quality::kStale});
  ASSERT_TRUE(store->append(s).ok());
  auto v = store->blockSeries(0, 0, BlockQuantity::kVoltageV, s.time_ms, s.time_ms, 0);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_DOUBLE_EQ(v->front().value, 13.513);
  EXPECT_EQ(v->front().quality, Quality::kStale);
  auto t = store->blockSeries(0, 0, BlockQuantity::kTemperatureC, s.time_ms, s.time_ms, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->front().value, -12.3);
  auto ri = store->blockSeries(0, 0, BlockQuantity::kRiMohm, s.time_ms, s.time_ms, 0);
  ASSERT_TRUE(ri.ok());
  EXPECT_DOUBLE_EQ(ri->front().value, 4.568);
  auto eq = store->blockSeries(0, 0, BlockQuantity::kEqualizationPct, s.time_ms, s.time_ms, 0);
  ASSERT_TRUE(eq.ok());
  EXPECT_DOUBLE_EQ(eq->front().value, 12.0);
  // An unknown block has an empty series, not an error.
  auto none = store->blockSeries(7, 99, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HistoryStore, SeriesTimeFilterAndLimit) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->append(makeSnapshot(kT0 + i * 1000, 1, 2, 7)).ok());
  }
  auto r = store->blockSeries(0, 1, BlockQuantity::kVoltageV, kT0 + 2000, kT0 + 5000, 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);  // inclusive on both ends
  EXPECT_EQ(r->front().time_ms, kT0 + 2000);
  EXPECT_EQ(r->back().time_ms, kT0 + 5000);

  auto limited = store->blockSeries(0, 1, BlockQuantity::kVoltageV, kT0 + 2000, kT0 + 9000, 3);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 3u);  // the oldest of the range first
  EXPECT_EQ((*limited)[0].time_ms, kT0 + 2000);
  EXPECT_EQ((*limited)[2].time_ms, kT0 + 4000);

  auto empty = store->blockSeries(0, 1, BlockQuantity::kVoltageV, kT0 + 5001, kT0 + 5999, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto reversed = store->blockSeries(0, 1, BlockQuantity::kVoltageV, kT0 + 5000, kT0, 0);
  ASSERT_TRUE(reversed.ok());
  EXPECT_TRUE(reversed->empty());

  auto snaps = store->snapshots(kT0 + 1000, kT0 + 3000, 0);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 3u);
  EXPECT_EQ((*snaps)[0].reason, "float");
  EXPECT_EQ((*snaps)[0].block_count, 2);
  EXPECT_EQ((*snaps)[0].string_count, 1);
}

TEST(HistoryStore, StringSeries) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 5; ++i) {
    Snapshot s;
    s.time_ms = kT0 + i * kMinuteMs;
    s.reason = i == 0 ? "start" : "discharge";
    s.strings.push_back({0, 435.2 + i, -41.237 - i, 2.5, 97.3 - i, 2, Quality::kOk});
    s.strings.push_back({1, 436.0, -40.0, 2.4, 98.0, 2, Quality::kCommLost});
    ASSERT_TRUE(store->append(s).ok());
  }
  auto v = store->stringSeries(0, StringQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 5u);
  EXPECT_DOUBLE_EQ((*v)[3].value, 438.2);
  auto c =
      store->stringSeries(0, StringQuantity::kCurrentA, kT0 + kMinuteMs, kT0 + 2 * kMinuteMs, 0);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_DOUBLE_EQ((*c)[0].value, -42.237);
  EXPECT_DOUBLE_EQ((*c)[1].value, -43.237);
  auto charge = store->stringSeries(0, StringQuantity::kChargeAvgPct, kMinTime, kMaxTime, 2);
  ASSERT_TRUE(charge.ok());
  ASSERT_EQ(charge->size(), 2u);
  EXPECT_DOUBLE_EQ((*charge)[1].value, 96.3);
  auto mode = store->stringSeries(1, StringQuantity::kMode, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(mode.ok());
  ASSERT_EQ(mode->size(), 5u);
  EXPECT_DOUBLE_EQ(mode->front().value, 2.0);
  EXPECT_EQ(mode->front().quality, Quality::kCommLost);
  auto ac = store->stringSeries(1, StringQuantity::kAcCurrentA, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(ac.ok());
  EXPECT_NEAR(ac->front().value, 2.4, 1e-9);
}

TEST(HistoryStore, RoomSeriesKeepValuesAndQualityPerQuantity) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 4; ++i) {
    Snapshot s;
    s.time_ms = kT0 + i * kMinuteMs;
    s.reason = "float";
    if (i != 2) {  // a snapshot without a room record has no row
      RoomRecord r;
      r.ambient_temperature_c = 21.04 + i;  // stored in 0.1 °C
      r.ambient_quality = Quality::kOk;
      r.humidity_pct = i == 3 ? std::nan("") : 55.55;
      r.humidity_quality = i == 3 ? Quality::kCommLost : Quality::kOk;
      r.hydrogen_pct = 0.0123;  // % by volume, stored in ppm: 123 ppm
      r.hydrogen_quality = i == 1 ? Quality::kStale : Quality::kOk;
      s.room = r;
    }
    ASSERT_TRUE(store->append(s).ok());
  }
  auto t = store->roomSeries(RoomQuantity::kAmbientTemperatureC, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[2].time_ms, kT0 + 3 * kMinuteMs);
  EXPECT_NEAR((*t)[0].value, 21.0, 1e-9);
  EXPECT_NEAR((*t)[2].value, 24.0, 1e-9);
  auto h = store->roomSeries(RoomQuantity::kHumidityPct, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_NEAR((*h)[0].value, 55.6, 1e-9);
  EXPECT_FALSE(std::isfinite((*h)[2].value));
  EXPECT_EQ((*h)[2].quality, Quality::kCommLost);
  auto g = store->roomSeries(RoomQuantity::kHydrogenPct, kT0 + kMinuteMs, kMaxTime, 1);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->size(), 1u);
  EXPECT_NEAR((*g)[0].value, 0.0123, 1e-12);
  EXPECT_EQ((*g)[0].quality, Quality::kStale);
  EXPECT_EQ(parseRoomQuantity("humidity_pct"), RoomQuantity::kHumidityPct);
  EXPECT_FALSE(parseRoomQuantity("voltage_v").has_value());
  EXPECT_DOUBLE_EQ(roomQuantityResolution(RoomQuantity::kHydrogenPct), 0.0001);
}

TEST(HistoryStore, EventsFilterOrderAndLimit) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->appendEvent({kT0 + 3000, "alarm", "block 1.7 high voltage"}).ok());
  ASSERT_TRUE(store->appendEvent({kT0 + 1000, "mains", "mains failure, discharge"}).ok());
  ASSERT_TRUE(store->appendEvent({kT0 + 2000, "alarm", "string 2 comm lost \"C24\", ok"}).ok());
  ASSERT_TRUE(store->appendEvent({kT0 + 2000, "info", "same time, later"}).ok());
  auto all = store->events(kMinTime, kMaxTime, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].kind, "mains");
  EXPECT_EQ((*all)[1].message, "string 2 comm lost \"C24\", ok");
  EXPECT_EQ((*all)[2].message, "same time, later");
  EXPECT_EQ((*all)[3].time_ms, kT0 + 3000);
  auto some = store->events(kT0 + 2000, kT0 + 3000, 2);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0].time_ms, kT0 + 2000);
  EXPECT_EQ((*some)[1].time_ms, kT0 + 2000);
}

// The event log as the REST API pages it: newest first, a case-insensitive text search, an
// offset, and a bounded count of the matches.
TEST(HistoryStore, EventsSearchPageAndCount) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  std::vector<EventRecord> events;
  for (int i = 0; i < 25; ++i) {
    // Every third message mentions "Voltage" in another case; one has a literal percent sign.
    const std::string text =
        i % 3 == 0 ? "Block " + std::to_string(i) + ": VOLTAGE high" : "string mode changed";
    events.push_back({kT0 + i * kSecondMs, i % 2 == 0 ? "alarm" : "mode", text});
  }
  events.push_back({kT0 + 10 * kSecondMs, "alarm", "ri 100% above baseline, voltage ok"});
  ASSERT_TRUE(store->appendEvents(events).ok());

  EventQuery q;
  q.from_ms = kMinTime;
  q.to_ms = kMaxTime;
  q.text = "voltage";
  auto all = store->events(q);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 10u);  // i = 0, 3, …, 24 and the percent one
  EXPECT_EQ(all->front().time_ms, kT0);
  EXPECT_EQ(store->countEvents(q, 0).value(), 10u);

  q.newest_first = true;
  q.limit = 4;
  auto page1 = store->events(q);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 4u);
  EXPECT_EQ((*page1)[0].message, "Block 24: VOLTAGE high");
  EXPECT_EQ((*page1)[1].message, "Block 21: VOLTAGE high");
  EXPECT_EQ((*page1)[3].message, "Block 15: VOLTAGE high");
  q.offset = 4;
  auto page2 = store->events(q);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 4u);
  EXPECT_EQ((*page2)[0].message, "Block 12: VOLTAGE high");
  EXPECT_EQ((*page2)[1].message, "ri 100% above baseline, voltage ok");
  EXPECT_EQ((*page2)[2].message, "Block 9: VOLTAGE high");
  q.offset = 8;
  auto page3 = store->events(q);
  ASSERT_TRUE(page3.ok());
  ASSERT_EQ(page3->size(), 2u);
  EXPECT_EQ(page3->back().time_ms, kT0);
  q.offset = 10;
  EXPECT_TRUE(store->events(q).value().empty());

  // Other filters still apply; the count ignores limit and offset and stops at its cap.
  q.kind = "mode";
  q.offset = 0;
  EXPECT_EQ(store->countEvents(q, 0).value(), 4u);  // odd i with "voltage": 3, 9, 15, 21
  q.kind.clear();
  EXPECT_EQ(store->countEvents(q, 3).value(), 3u);
  // The text is a substring, not a pattern: "%" and "_" are plain characters.
  q.text = "100%";
  EXPECT_EQ(store->countEvents(q, 0).value(), 1u);
  q.text = "_";
  EXPECT_EQ(store->countEvents(q, 0).value(), 0u);
  q.text = "BLOCK 2";
  EXPECT_EQ(store->countEvents(q, 0).value(), 2u);  // 21 and 24
  // No text: every event of the range.
  q.text.clear();
  q.from_ms = kT0 + 20 * kSecondMs;
  EXPECT_EQ(store->countEvents(q, 0).value(), 5u);
  // Two events of the same time, newest first: the one stored later first.
  EventQuery same;
  same.from_ms = kT0 + 10 * kSecondMs;
  same.to_ms = same.from_ms;
  same.newest_first = true;
  auto both = store->events(same);
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].message, "ri 100% above baseline, voltage ok");
  EXPECT_EQ((*both)[1].message, "string mode changed");
}

TEST(HistoryStore, StringBlockSeriesSharesOneTimeAxis) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 6; ++i) {
    Snapshot s = makeSnapshot(kT0 + i * 10 * kSecondMs, 2, 4, 40u + static_cast<unsigned>(i));
    if (i == 2) {
      s.blocks[1].voltage_v = std::numeric_limits<double>::quiet_NaN();  // string 1, block 2
    }
    if (i == 4) {  // string 1, block 4 not in this snapshot
      s.blocks.erase(s.blocks.begin() + 3);
    }
    ASSERT_TRUE(store->append(s).ok());
  }
  auto m = store->stringBlockSeries(0, BlockQuantity::kVoltageV, kT0 + 10 * kSecondMs,
                                    kT0 + 50 * kSecondMs);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->times_ms.size(), 5u);
  EXPECT_EQ(m->times_ms.front(), kT0 + 10 * kSecondMs);
  EXPECT_EQ(m->times_ms.back(), kT0 + 50 * kSecondMs);
  EXPECT_EQ(m->block_indices, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_EQ(m->values.size(), 4u);
  for (std::size_t b = 0; b < 4; ++b) {
    ASSERT_EQ(m->values[b].size(), 5u);
    auto series = store->blockSeries(0, static_cast<int>(b), BlockQuantity::kVoltageV,
                                     kT0 + 10 * kSecondMs, kT0 + 50 * kSecondMs, 0);
    ASSERT_TRUE(series.ok());
    std::size_t j = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      if (j < series->size() && (*series)[j].time_ms == m->times_ms[i]) {
        if (std::isnan((*series)[j].value)) {
          EXPECT_TRUE(std::isnan(m->values[b][i])) << b << " " << i;
        } else {
          EXPECT_DOUBLE_EQ(m->values[b][i], (*series)[j].value) << b << " " << i;
        }
        ++j;
      } else {
        EXPECT_TRUE(std::isnan(m->values[b][i])) << "no sample: " << b << " " << i;
      }
    }
    EXPECT_EQ(j, series->size());
  }
  EXPECT_TRUE(std::isnan(m->values[1][1]));  // the NaN written at i = 2
  EXPECT_TRUE(std::isnan(m->values[3][3]));  // the block missing at i = 4
  // Another string, another quantity: string 2's temperatures, not string 1's.
  auto t = store->stringBlockSeries(1, BlockQuantity::kTemperatureC, kMinTime, kMaxTime);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->times_ms.size(), 6u);
  auto t3 = store->blockSeries(1, 3, BlockQuantity::kTemperatureC, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(t3.ok());
  EXPECT_DOUBLE_EQ(t->values[3][5], (*t3)[5].value);
  // Nothing recorded: empty, not an error.
  auto none = store->stringBlockSeries(5, BlockQuantity::kVoltageV, kMinTime, kMaxTime);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->times_ms.empty());
  EXPECT_TRUE(none->block_indices.empty());
}

TEST(HistoryStore, NanIsStoredAsNullAndReadBackInvalid) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Snapshot s;
  s.time_ms = kT0;
  s.reason = "start";
  s.blocks.push_back(
      {0, 0, nan, 25.0, std::numeric_limits<double>::infinity(), 50.0, 0.0, Quality::kOk});
  s.blocks.push_back({0, 1, nan, nan, nan, nan, nan, Quality::kCommLost, nan});
  s.strings.push_back({0, nan, 1.0, nan, 50.0, 0, Quality::kOk});
  ASSERT_TRUE(store->append(s).ok());
  auto v = store->blockSeries(0, 0, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_TRUE(std::isnan(v->front().value));
  EXPECT_EQ(v->front().quality, Quality::kInvalid);
  auto ri = store->blockSeries(0, 0, BlockQuantity::kRiMohm, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(ri.ok());
  EXPECT_TRUE(std::isnan(ri->front().value));  // infinity is not a measurement either
  EXPECT_EQ(ri->front().quality, Quality::kInvalid);
  auto t = store->blockSeries(0, 0, BlockQuantity::kTemperatureC, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->front().value, 25.0);
  EXPECT_EQ(t->front().quality, Quality::kOk);
  // A more specific bad quality is kept.
  auto lost = store->blockSeries(0, 1, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(lost.ok());
  EXPECT_TRUE(std::isnan(lost->front().value));
  EXPECT_EQ(lost->front().quality, Quality::kCommLost);
  auto sv = store->stringSeries(0, StringQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(sv.ok());
  EXPECT_TRUE(std::isnan(sv->front().value));
  EXPECT_EQ(sv->front().quality, Quality::kInvalid);
  // The NULLs are really NULLs (not 0) in the file, and empty fields in the CSV.
  const auto lines = splitLines(exportAll(*store, kMinTime, kMaxTime, -1));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "2026-01-01T00:00:00.000Z,1,1,,25.0,,50.0,0,0.0,ok");
  EXPECT_EQ(lines[2], "2026-01-01T00:00:00.000Z,1,2,,,,,,,comm_lost");
}

TEST(HistoryStore, CsvExportContentAndStringFilter) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  for (int i = 0; i < 2; ++i) {
    Snapshot s;
    s.time_ms = kT0 + i * 20 * kMinuteMs + 5;
    s.reason = "float";
    // Appended out of order: the export still sorts by time, string, block.
    s.blocks.push_back({1, 0, 13.601, 23.5, 5.25, 100.0, 3.0, Quality::kOk});
    s.blocks.push_back({0, 1, 13.58 + i * 0.01, 24.25, 4.1, 99.5, 0.0, Quality::kOk});
    s.blocks.push_back({0, 0, 13.7, -1.25, 3.999, 98.0, 12.0, Quality::kStale});
    ASSERT_TRUE(store->append(s).ok());
  }
  const std::string csv = exportAll(*store, kMinTime, kMaxTime, -1);
  const std::string expected =
      "time,string,block,voltage_v,temperature_c,ri_mohm,charge_pct,equalization_pct,"
      "equalization_wh_per_day,quality\n"
      "2026-01-01T00:00:00.005Z,1,1,13.700,-1.3,3.999,98.0,12,0.0,stale\n"
      "2026-01-01T00:00:00.005Z,1,2,13.580,24.3,4.100,99.5,0,0.0,ok\n"
      "2026-01-01T00:00:00.005Z,2,1,13.601,23.5,5.250,100.0,3,0.0,ok\n"
      "2026-01-01T00:20:00.005Z,1,1,13.700,-1.3,3.999,98.0,12,0.0,stale\n"
      "2026-01-01T00:20:00.005Z,1,2,13.590,24.3,4.100,99.5,0,0.0,ok\n"
      "2026-01-01T00:20:00.005Z,2,1,13.601,23.5,5.250,100.0,3,0.0,ok\n";
  EXPECT_EQ(csv, expected);

  const std::string only2 = exportAll(*store, kMinTime, kMaxTime, 1);
  EXPECT_EQ(only2,
            "time,string,block,voltage_v,temperature_c,ri_mohm,charge_pct,equalization_pct,"
            "equalization_wh_per_day,quality\n"
            "2026-01-01T00:00:00.005Z,2,1,13.601,23.5,5.250,100.0,3,0.0,ok\n"
            "2026-01-01T00:20:00.005Z,2,1,13.601,23.5,5.250,100.0,3,0.0,ok\n");
  const auto ranged = splitLines(exportAll(*store, kT0 + kMinuteMs, kMaxTime, 0));
  ASSERT_EQ(ranged.size(), 3u);
  EXPECT_EQ(ranged[1].substr(0, 24), "2026-01-01T00:20:00.005Z");
  const auto header_only = splitLines(exportAll(*store, kT0 + kDayMs, kMaxTime, -1));
  EXPECT_EQ(header_only.size(), 1u);
}

TEST(HistoryStore, CsvExportStreamsInChunksAndCanBeCancelled) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"), 64ull << 20, {Durability::kNormal});
  ASSERT_TRUE(store);
  const int kSnapshots = 600;  // > 2 export queries of 256 snapshots
  for (int i = 0; i < kSnapshots; ++i) {
    ASSERT_TRUE(
        store->append(makeSnapshot(kT0 + i * 10 * kSecondMs, 2, 32, static_cast<std::uint32_t>(i)))
            .ok());
  }
  std::size_t chunks = 0;
  std::size_t max_chunk = 0;
  std::string all;
  ASSERT_TRUE(store
                  ->exportBlocksCsv(kMinTime, kMaxTime, -1,
                                    [&](std::string_view chunk) {
                                      ++chunks;
                                      max_chunk = std::max(max_chunk, chunk.size());
                                      all.append(chunk);
                                      return true;
                                    })
                  .ok());
  const auto lines = splitLines(all);
  EXPECT_EQ(lines.size(), 1u + kSnapshots * 64u);
  EXPECT_GT(chunks, 10u);
  EXPECT_LT(max_chunk, 72u * 1024u);
  // Rows are in time order across the export queries.
  EXPECT_EQ(lines[1].substr(0, 24), formatIso8601(kT0));
  EXPECT_EQ(lines.back().substr(0, 24), formatIso8601(kT0 + (kSnapshots - 1) * 10 * kSecondMs));
  std::string prev;
  for (std::size_t i = 1; i < lines.size(); i += 97) {
    const std::string t = lines[i].substr(0, 24);
    EXPECT_LE(prev, t);
    prev = t;
  }

  std::size_t calls = 0;
  const Status cancelled = store->exportBlocksCsv(kMinTime, kMaxTime, -1, [&](std::string_view) {
    ++calls;
    return false;
  });
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(calls, 1u);
}

TEST(HistoryStore, ReopenKeepsData) {
  TempDir dir;
  const std::string path = dir.file("h.db");
  {
    auto store = openOrDie(path);
    ASSERT_TRUE(store);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(store->append(makeSnapshot(kT0 + i * kMinuteMs, 2, 8, 3)).ok());
    }
    ASSERT_TRUE(store->appendEvent({kT0, "start", "daemon started"}).ok());
  }
  auto store = openOrDie(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->checkIntegrity().ok());
  auto st = store->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->snapshot_count, 20u);
  EXPECT_EQ(st->block_record_count, 20u * 16u);
  EXPECT_EQ(st->oldest_ms, kT0);
  EXPECT_EQ(st->newest_ms, kT0 + 19 * kMinuteMs);
  auto series = store->blockSeries(1, 7, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->size(), 20u);
  auto ev = store->events(kMinTime, kMaxTime, 0);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ(ev->front().message, "daemon started");
  // New blocks after a reopen are exported too (block keys reloaded and extended).
  Snapshot s = makeSnapshot(kT0 + kHourMs, 3, 8, 4);
  ASSERT_TRUE(store->append(s).ok());
  const auto lines = splitLines(exportAll(*store, kT0 + kHourMs, kT0 + kHourMs, 2));
  EXPECT_EQ(lines.size(), 9u);
}

TEST(HistoryStore, SameTimeReplacesTheSnapshot) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append(makeSnapshot(kT0, 2, 8, 1, "float")).ok());
  Snapshot again = makeSnapshot(kT0, 1, 4, 2, "event");
  ASSERT_TRUE(store->append(again).ok());
  auto snaps = store->snapshots(kMinTime, kMaxTime, 0);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ(snaps->front().reason, "event");
  EXPECT_EQ(snaps->front().block_count, 4);
  auto gone = store->blockSeries(1, 0, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
  auto v = store->blockSeries(0, 3, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_NEAR(v->front().value, again.blocks[3].voltage_v, 0.0005);
  auto st = store->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->block_record_count, 4u);
}

TEST(HistoryStore, RejectsBadRecordsAtomically) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"));
  ASSERT_TRUE(store);
  Snapshot neg = makeSnapshot(kT0, 1, 2, 1);
  neg.blocks[1].block_index = -1;
  Status st = store->append(neg);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);

  Snapshot dup = makeSnapshot(kT0, 1, 3, 1);
  dup.blocks[2].block_index = 0;  // block 0 twice
  st = store->append(dup);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find("h.db"), std::string::npos);
  // Nothing of the failed snapshot remains, and the store still works.
  auto stats = store->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->snapshot_count, 0u);
  auto v = store->blockSeries(0, 0, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->empty());
  ASSERT_TRUE(store->append(makeSnapshot(kT0, 1, 3, 1)).ok());
  EXPECT_EQ(splitLines(exportAll(*store, kMinTime, kMaxTime, -1)).size(), 4u);
}

TEST(HistoryStore, OpenFailsClearlyInMissingDirectory) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/h.db");
  auto r = Store::open(path, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(path));

  auto empty = Store::open("", 1 << 20);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  auto zero = Store::open(dir.file("z.db"), 0);
  ASSERT_FALSE(zero.ok());
}

TEST(HistoryStore, OpenFailsClearlyOnNonSqliteFile) {
  TempDir dir;
  const std::string path = dir.file("notes.txt");
  std::string content;
  for (int i = 0; i < 200; ++i) {
    content += "this is a text file, not a database\n";
  }
  { std::ofstream(path) << content; }
  auto r = Store::open(path, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
  // The file is left untouched.
  std::ifstream in(path);
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_EQ(read.str(), content);
}

TEST(HistoryStore, OpenRefusesAForeignSqliteDatabase) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto r = Store::open(path, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path), std::string::npos);
  EXPECT_NE(r.error().message.find("not an Equalis history store"), std::string::npos);
}

std::vector<std::string> queryPlan(sqlite3* db, const std::string& sql) {
  std::vector<std::string> plan;
  sqlite3_stmt* s = nullptr;
  const std::string q = "EXPLAIN QUERY PLAN " + sql;
  EXPECT_EQ(sqlite3_prepare_v2(db, q.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (sqlite3_step(s) == SQLITE_ROW) {
    plan.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 3)));
  }
  sqlite3_finalize(s);
  return plan;
}

std::string joined(const std::vector<std::string>& plan) {
  std::string out;
  for (const auto& p : plan) {
    out += p + " | ";
  }
  return out;
}

TEST(HistoryStore, QueriesUseIndexes) {
  TempDir dir;
  const std::string path = dir.file("h.db");
  auto store = openOrDie(path);
  ASSERT_TRUE(store);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(store->append(makeSnapshot(kT0 + i * kMinuteMs, 2, 8, 1)).ok());
    ASSERT_TRUE(store->appendEvent({kT0 + i * kMinuteMs, "e", "m"}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  struct Case {
    const char* name;
    const char* sql;
    std::vector<std::string> must_contain;
  };
  const Case cases[] = {
      {"block series",
       sql::kBlockSeries,
       {"SEARCH block_sample USING PRIMARY KEY (string_idx=? AND block_idx=? AND time_ms>? AND "
        "time_ms<?)"}},
      {"string series",
       sql::kStringSeries,
       {"SEARCH string_sample USING PRIMARY KEY (time_ms>? AND time_ms<?)"}},
      {"events", sql::kEvents, {"SEARCH event USING INDEX event_time (time_ms>? AND time_ms<?)"}},
      {"events newest first",
       sql::kEventsNewestFirst,
       {"SEARCH event USING INDEX event_time (time_ms>? AND time_ms<?)"}},
      {"count events",
       sql::kCountMatchingEvents,
       {"SEARCH event USING INDEX event_time (time_ms>? AND time_ms<?)"}},
      {"string blocks",
       sql::kStringBlocks,
       {"SEARCH k USING PRIMARY KEY (string_idx=?)",
        "SEARCH b USING PRIMARY KEY (string_idx=? AND block_idx=? AND time_ms>? AND time_ms<?)"}},
      {"snapshots", sql::kSnapshots, {"SEARCH snapshot USING INTEGER PRIMARY KEY"}},
      {"export",
       sql::kExportBlocks,
       {"SEARCH s USING INTEGER PRIMARY KEY", "SCAN k",
        "SEARCH b USING PRIMARY KEY (string_idx=? AND block_idx=? AND time_ms=?)"}},
      {"trim blocks",
       sql::kDeleteBlocks,
       {"SEARCH block_sample USING PRIMARY KEY (string_idx=? AND block_idx=? AND time_ms>? AND "
        "time_ms<?)"}},
      {"trim strings", sql::kDeleteStrings, {"SEARCH string_sample USING PRIMARY KEY"}},
      {"room series",
       sql::kRoomSeries,
       {"SEARCH room_sample USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}},
      {"trim room", sql::kDeleteRoom, {"SEARCH room_sample USING INTEGER PRIMARY KEY"}},
      {"trim events", sql::kDeleteEventsUpTo, {"SEARCH event USING INDEX event_time (time_ms<?)"}},
  };
  for (const Case& c : cases) {
    const auto plan = queryPlan(db, c.sql);
    std::cout << "[plan] " << c.name << ": " << joined(plan) << "\n";
    const std::string all = joined(plan);
    for (const auto& want : c.must_contain) {
      EXPECT_NE(all.find(want), std::string::npos) << c.name << ": " << all;
    }
    EXPECT_EQ(all.find("TEMP B-TREE"), std::string::npos) << c.name << ": " << all;
    // No full scan of a sample table.
    EXPECT_EQ(all.find("SCAN block_sample"), std::string::npos) << c.name << ": " << all;
    EXPECT_EQ(all.find("SCAN b "), std::string::npos) << c.name << ": " << all;
    EXPECT_EQ(all.find("SCAN string_sample"), std::string::npos) << c.name << ": " << all;
    EXPECT_EQ(all.find("SCAN room_sample"), std::string::npos) << c.name << ": " << all;
  }
  sqlite3_close(db);
}

TEST(HistoryStore, SizeBoundOverwritesOldest) {
  TempDir dir;
  const std::string path = dir.file("h.db");
  constexpr std::uint64_t kBound = 2ull << 20;  // 2 MiB
  auto store = openOrDie(path, kBound, {Durability::kNormal});
  ASSERT_TRUE(store);
  constexpr int kSnapshots = 3000;  // ~3× the bound at 64 blocks per snapshot
  TimeMs last = 0;
  std::uint64_t max_used = 0;
  std::uint64_t max_file = 0;
  std::uint64_t max_db = 0;
  std::uint64_t max_wal = 0;
  for (int i = 0; i < kSnapshots; ++i) {
    last = kT0 + i * 10 * kSecondMs;
    ASSERT_TRUE(store->append(makeSnapshot(last, 2, 32, static_cast<std::uint32_t>(i))).ok());
    if (i % 100 == 0) {
      ASSERT_TRUE(store->appendEvent({last, "alarm", "event " + std::to_string(i)}).ok());
    }
    if (i % 50 == 49) {
      auto st = store->stats();
      ASSERT_TRUE(st.ok());
      max_used = std::max(max_used, st->used_bytes);
      max_file = std::max(max_file, st->file_bytes);
      max_db = std::max<std::uint64_t>(max_db, fs::file_size(path));
      std::error_code ec;
      const auto wal = fs::file_size(path + "-wal", ec);
      max_wal = std::max<std::uint64_t>(max_wal, ec ? 0 : wal);
      ASSERT_LE(st->used_bytes, kBound) << "after " << i + 1 << " snapshots";
    }
  }
  ASSERT_TRUE(store->checkpoint().ok());
  auto st = store->stats();
  ASSERT_TRUE(st.ok());
  std::cout << "[size bound] bound " << kBound << " B, used " << st->used_bytes << " B, file+wal "
            << st->file_bytes << " B after checkpoint; peaks while running: db " << max_db
            << " B, wal " << max_wal << " B, db+wal " << max_file << " B; " << st->snapshot_count
            << " snapshots kept of " << kSnapshots << "; steady state "
            << static_cast<double>(st->used_bytes) / static_cast<double>(st->block_record_count)
            << " B/block-sample\n";
  EXPECT_LE(st->used_bytes, kBound);
  EXPECT_LE(static_cast<double>(st->file_bytes), 1.3 * static_cast<double>(kBound));
  // The database file never grows past the bound by more than a snapshot or two; the WAL adds
  // at most the checkpoint threshold plus one (trim) transaction.
  EXPECT_LE(static_cast<double>(max_db), 1.05 * static_cast<double>(kBound));
  EXPECT_LE(static_cast<double>(max_file), 1.6 * static_cast<double>(kBound));
  // The space is used, not thrown away: at least ~75 % of the bound holds data.
  EXPECT_GE(static_cast<double>(max_used), 0.75 * static_cast<double>(kBound));
  EXPECT_GT(st->snapshot_count, 300u);
  EXPECT_LT(st->snapshot_count, static_cast<std::uint64_t>(kSnapshots));
  // Newest present, oldest gone, and the kept range is contiguous.
  EXPECT_EQ(st->newest_ms, last);
  EXPECT_GT(st->oldest_ms, kT0);
  EXPECT_EQ(st->newest_ms - st->oldest_ms,
            static_cast<TimeMs>(st->snapshot_count - 1) * 10 * kSecondMs);
  EXPECT_EQ(st->block_record_count, st->snapshot_count * 64u);
  for (int si = 0; si < 2; ++si) {
    auto series = store->blockSeries(si, 31, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
    ASSERT_TRUE(series.ok());
    ASSERT_EQ(series->size(), st->snapshot_count);
    EXPECT_EQ(series->front().time_ms, st->oldest_ms);
    EXPECT_EQ(series->back().time_ms, last);
  }
  auto strings = store->stringSeries(1, StringQuantity::kVoltageV, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ(strings->size(), st->snapshot_count);
  auto room = store->roomSeries(RoomQuantity::kHumidityPct, kMinTime, kMaxTime, 0);
  ASSERT_TRUE(room.ok());
  EXPECT_EQ(room->size(), st->snapshot_count);  // the room's rows go with their snapshots
  auto old = store->blockSeries(0, 0, BlockQuantity::kVoltageV, kT0, st->oldest_ms - 1, 0);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->empty());
  // Events older than the oldest snapshot went with it; recent ones are kept.
  auto ev = store->events(kMinTime, kMaxTime, 0);
  ASSERT_TRUE(ev.ok());
  ASSERT_FALSE(ev->empty());
  EXPECT_GT(ev->front().time_ms, st->oldest_ms - 100 * 10 * kSecondMs);
  EXPECT_GE(ev->front().time_ms, st->oldest_ms);
  EXPECT_EQ(ev->back().message, "event 2900");
  EXPECT_TRUE(store->checkIntegrity().ok());

  // Reopening with the same bound keeps the newest data and keeps bounding.
  store.reset();
  store = openOrDie(path, kBound, {Durability::kNormal});
  ASSERT_TRUE(store);
  for (int i = 0; i < 300; ++i) {
    last += 10 * kSecondMs;
    ASSERT_TRUE(store->append(makeSnapshot(last, 2, 32, static_cast<std::uint32_t>(i))).ok());
  }
  ASSERT_TRUE(store->checkpoint().ok());
  auto st2 = store->stats();
  ASSERT_TRUE(st2.ok());
  EXPECT_LE(st2->used_bytes, kBound);
  EXPECT_LE(static_cast<double>(st2->file_bytes), 1.3 * static_cast<double>(kBound));
  EXPECT_EQ(st2->newest_ms, last);
}

TEST(HistoryStore, EventsAloneAreBoundedToo) {
  TempDir dir;
  constexpr std::uint64_t kBound = 256 * 1024;
  auto store = openOrDie(dir.file("h.db"), kBound, {Durability::kNormal});
  ASSERT_TRUE(store);
  const std::string text(200, 'x');
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(store->appendEvent({kT0 + i, "alarm", text + std::to_string(i)}).ok());
  }
  auto st = store->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->used_bytes, kBound);
  auto ev = store->events(kMinTime, kMaxTime, 0);
  ASSERT_TRUE(ev.ok());
  ASSERT_FALSE(ev->empty());
  EXPECT_LT(ev->size(), 5000u);
  EXPECT_EQ(ev->back().message, text + "4999");
}

// Forks a child that opens the store at `path` (bound `max_bytes`, default durability FULL) and
// appends 64-block snapshots every 10 s of data time from `first_ms` until it is SIGKILLed, which
// happens after it has reported at least `kill_after` commits through a pipe, plus a random
// delay. Returns the index of the last commit the child reported (append() had returned ok).
std::optional<std::int64_t> appendUntilKilled(const std::string& path, std::uint64_t max_bytes,
                                              TimeMs first_ms, std::int64_t kill_after,
                                              std::mt19937& rng) {
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return std::nullopt;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return std::nullopt;
  }
  if (pid == 0) {
    ::close(fds[0]);
    auto r = Store::open(path, max_bytes);
    if (!r.ok()) {
      ::_exit(2);
    }
    for (std::int64_t i = 0;; ++i) {
      if (!(*r)->append(makeSnapshot(first_ms + i * 10 * kSecondMs, 2, 32, 9)).ok()) {
        ::_exit(3);
      }
      if (::write(fds[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) {
        ::_exit(4);
      }
    }
  }
  ::close(fds[1]);
  std::int64_t last_reported = -1;
  std::int64_t v = 0;
  while (last_reported < kill_after && ::read(fds[0], &v, sizeof v) == sizeof v) {
    last_reported = v;
  }
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &v, sizeof v) == sizeof v) {  // reports written before the kill
    last_reported = v;
  }
  ::close(fds[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    ADD_FAILURE() << "waitpid failed";
    return std::nullopt;
  }
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    ADD_FAILURE() << "child was not killed: exit status " << WEXITSTATUS(status);
    return std::nullopt;
  }
  if (last_reported < kill_after) {
    ADD_FAILURE() << "child reported only " << last_reported + 1 << " commits";
    return std::nullopt;
  }
  return last_reported;
}

// kill -9 while appending: the store reopens, passes integrity_check, and holds every snapshot
// whose append() had returned, each complete.
TEST(HistoryStore, SurvivesKill9WhileAppending) {
  TempDir dir;
  const std::string path = dir.file("h.db");
  TimeMs next = kT0;
  std::uint64_t committed_total = 0;
  std::mt19937 rng(42);
  for (int round = 0; round < 3; ++round) {
    const std::int64_t kill_after = 40 + static_cast<std::int64_t>(rng() % 80);
    const auto last = appendUntilKilled(path, 64ull << 20, next, kill_after, rng);
    ASSERT_TRUE(last.has_value());

    auto store = openOrDie(path);
    ASSERT_TRUE(store);
    const Status integrity = store->checkIntegrity();
    ASSERT_TRUE(integrity.ok()) << integrity.error().message;
    auto st = store->stats();
    ASSERT_TRUE(st.ok());
    const std::uint64_t committed = static_cast<std::uint64_t>(*last + 1);
    // Every reported commit is there; at most one more (committed, killed before reporting).
    EXPECT_GE(st->snapshot_count, committed_total + committed);
    EXPECT_LE(st->snapshot_count, committed_total + committed + 1);
    EXPECT_GE(st->newest_ms, next + *last * 10 * kSecondMs);
    // No partial snapshot: every snapshot has all its 64 block rows.
    EXPECT_EQ(st->block_record_count, st->snapshot_count * 64u);
    auto series = store->blockSeries(1, 31, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
    ASSERT_TRUE(series.ok());
    EXPECT_EQ(series->size(), st->snapshot_count);
    committed_total = st->snapshot_count;
    next = st->newest_ms + 10 * kSecondMs;
  }
}

// The same with a small bound, so that the kill can land in a transaction that also deletes
// the oldest snapshots.
TEST(HistoryStore, SurvivesKill9WhileTrimming) {
  TempDir dir;
  const std::string path = dir.file("h.db");
  constexpr std::uint64_t kBound = 512 * 1024;  // ~230 snapshots of 64 blocks
  std::mt19937 rng(7);
  TimeMs next = kT0;
  for (int round = 0; round < 2; ++round) {
    const std::int64_t kill_after = 300 + static_cast<std::int64_t>(rng() % 200);
    const auto last = appendUntilKilled(path, kBound, next, kill_after, rng);
    ASSERT_TRUE(last.has_value());
    auto store = openOrDie(path, kBound);
    ASSERT_TRUE(store);
    const Status integrity = store->checkIntegrity();
    ASSERT_TRUE(integrity.ok()) << integrity.error().message;
    auto st = store->stats();
    ASSERT_TRUE(st.ok());
    EXPECT_LE(st->used_bytes, kBound);
    const TimeMs last_committed = next + *last * 10 * kSecondMs;
    EXPECT_GE(st->newest_ms, last_committed);
    EXPECT_LE(st->newest_ms, last_committed + 10 * kSecondMs);
    EXPECT_GT(st->oldest_ms, kT0);  // trimming did happen
    EXPECT_EQ(st->newest_ms - st->oldest_ms,
              static_cast<TimeMs>(st->snapshot_count - 1) * 10 * kSecondMs);
    EXPECT_EQ(st->block_record_count, st->snapshot_count * 64u);
    auto series = store->blockSeries(0, 0, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
    ASSERT_TRUE(series.ok());
    EXPECT_EQ(series->size(), st->snapshot_count);
    next = st->newest_ms + 10 * kSecondMs;
  }
}

TEST(HistoryStore, ConcurrentReadersAndWriter) {
  TempDir dir;
  auto store = openOrDie(dir.file("h.db"), 64ull << 20, {Durability::kNormal});
  ASSERT_TRUE(store);
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::atomic<int> reads{0};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      if (!store->append(makeSnapshot(kT0 + i * kSecondMs, 2, 32, 5)).ok()) {
        read_errors += 1000;
      }
      if (i % 10 == 0) {
        (void)store->appendEvent({kT0 + i * kSecondMs, "e", "m"});
      }
    }
    done = true;
  });
  auto reader = [&](int block) {
    std::size_t last_size = 0;
    while (!done) {
      auto s = store->blockSeries(1, block, BlockQuantity::kVoltageV, kMinTime, kMaxTime, 0);
      auto st = store->stats();
      auto ev = store->events(kMinTime, kMaxTime, 10);
      if (!s.ok() || !st.ok() || !ev.ok() || s->size() < last_size) {
        ++read_errors;
        continue;
      }
      last_size = s->size();
      if (++reads % 20 == 0) {
        std::size_t rows = 0;
        const Status e = store->exportBlocksCsv(kMinTime, kMaxTime, 0, [&](std::string_view c) {
          rows += static_cast<std::size_t>(std::count(c.begin(), c.end(), '\n'));
          return true;
        });
        if (!e.ok()) {
          ++read_errors;
        }
      }
    }
  };
  std::thread r1(reader, 3);
  std::thread r2(reader, 17);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto st = store->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->snapshot_count, 300u);
}

// Measures the figures quoted in docs/history.md: bytes per block-sample (used pages / block
// rows, including string and snapshot rows and indexes) and append throughput.
TEST(HistoryStore, MeasureBytesPerBlockSampleAndThroughput) {
  TempDir dir;
  constexpr int kSnapshots = 2000;
  double bytes_per_sample = 0.0;
  for (Durability d : {Durability::kNormal, Durability::kFull}) {
    const std::string path = dir.file(d == Durability::kFull ? "full.db" : "normal.db");
    auto store = openOrDie(path, 1ull << 30, {d});
    ASSERT_TRUE(store);
    std::vector<Snapshot> snaps;
    for (int i = 0; i < kSnapshots; ++i) {
      snaps.push_back(makeSnapshot(kT0 + i * 20 * kMinuteMs, 2, 32, static_cast<std::uint32_t>(i)));
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& s : snaps) {
      ASSERT_TRUE(store->append(s).ok());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(store->checkpoint().ok());
    auto st = store->stats();
    ASSERT_TRUE(st.ok());
    bytes_per_sample =
        static_cast<double>(st->used_bytes) / static_cast<double>(st->block_record_count);
    std::cout << "[measure] synchronous=" << (d == Durability::kFull ? "FULL" : "NORMAL") << ": "
              << kSnapshots << " snapshots of 64 blocks in " << secs
              << " s = " << static_cast<double>(kSnapshots) / secs << " snapshots/s; used "
              << st->used_bytes << " B for " << st->block_record_count
              << " block samples = " << bytes_per_sample << " B/block-sample (file "
              << st->file_bytes << " B)\n";
    RecordProperty(d == Durability::kFull ? "snapshots_per_s_full" : "snapshots_per_s_normal",
                   std::to_string(static_cast<double>(kSnapshots) / secs));
    EXPECT_GT(static_cast<double>(kSnapshots) / secs, 20.0);  // ≫ the 0.1/s needed
    // Write volume: WAL frames per snapshot (each frame = one page + 24 B), measured over 10
    // appends after a truncating checkpoint (below the auto-checkpoint threshold).
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(
          store->append(makeSnapshot(kT0 + (kSnapshots + i) * 20 * kMinuteMs, 2, 32, 1)).ok());
    }
    const double frames = static_cast<double>(fs::file_size(path + "-wal") - 32) / (4096 + 24);
    std::cout << "[measure]   WAL: " << frames / 10 << " pages written per snapshot\n";
    ASSERT_TRUE(store->checkpoint().ok());
  }
  RecordProperty("bytes_per_block_sample", std::to_string(bytes_per_sample));
  EXPECT_LT(bytes_per_sample, 40.0);
}

}  // namespace
}  // namespace equalis::history

namespace equalis::history {
namespace {

// A store written by schema v1 (before the equalization-effort column) opens, keeps its data
// and takes the new column.
TEST(HistoryStoreMigration, OpensVersionOneStore) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("equalis-mig-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "h.sqlite").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
      CREATE TABLE snapshot (time_ms INTEGER PRIMARY KEY, reason TEXT NOT NULL,
        string_count INTEGER NOT NULL, block_count INTEGER NOT NULL);
      CREATE TABLE string_sample (time_ms INTEGER NOT NULL, string_idx INTEGER NOT NULL,
        voltage_mv INTEGER, current_ma INTEGER, ac_current_ma INTEGER, charge_avg_pm INTEGER,
        mode INTEGER, quality INTEGER NOT NULL, PRIMARY KEY (time_ms, string_idx)) WITHOUT ROWID;
      CREATE TABLE block_key (string_idx INTEGER NOT NULL, block_idx INTEGER NOT NULL,
        PRIMARY KEY (string_idx, block_idx)) WITHOUT ROWID;
      CREATE TABLE block_sample (string_idx INTEGER NOT NULL, block_idx INTEGER NOT NULL,
        time_ms INTEGER NOT NULL, voltage_mv INTEGER, temperature_dc INTEGER, ri_uohm INTEGER,
        charge_pm INTEGER, equalization_pct INTEGER, quality INTEGER NOT NULL,
        PRIMARY KEY (string_idx, block_idx, time_ms)) WITHOUT ROWID;
      CREATE TABLE event (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,
        message TEXT NOT NULL);
      INSERT INTO snapshot VALUES (1000, 'start', 1, 1);
      INSERT INTO block_key VALUES (0, 0);
      INSERT INTO block_sample VALUES (0, 0, 1000, 13600, 250, 5000, 1000, 0, 0);
      PRAGMA application_id = 1162955848;
      PRAGMA user_version = 1;
    )sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto store = Store::open(path, 64ull << 20);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto v = (*store)->blockSeries(0, 0, BlockQuantity::kVoltageV, 0, 10'000, 10);
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(v->size(), 1u);
    EXPECT_DOUBLE_EQ((*v)[0].value, 13.6);
    Snapshot s;
    s.time_ms = 2000;
    s.reason = "float";
    BlockRecord b{0, 0, 13.61, 25.0, 5.0, 100.0, 10.0, model::Quality::kOk, 12.3};
    s.blocks.push_back(b);
    ASSERT_TRUE((*store)->append(s).ok());
    auto e = (*store)->blockSeries(0, 0, BlockQuantity::kEqualizationWhPerDay, 0, 10'000, 10);
    ASSERT_TRUE(e.ok());
    ASSERT_EQ(e->size(), 2u);
    EXPECT_FALSE(std::isfinite((*e)[0].value));  // not recorded by v1
    EXPECT_NEAR((*e)[1].value, 12.3, 0.05);
    // Schema v4's room table is created on opening; the snapshots before it have no row.
    RoomRecord room;
    room.ambient_temperature_c = 22.5;
    room.ambient_quality = model::Quality::kOk;
    s.time_ms = 3000;
    s.room = room;
    ASSERT_TRUE((*store)->append(s).ok());
    auto a = (*store)->roomSeries(RoomQuantity::kAmbientTemperatureC, 0, 10'000, 10);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ((*a)[0].time_ms, 3000);
    EXPECT_NEAR((*a)[0].value, 22.5, 1e-9);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace equalis::history
