#include "config/config.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace equalis::config {
namespace {

using model::Chemistry;
using model::ModuleType;

const std::string kSamplePath = std::string(EQUALIS_SOURCE_DIR) + "/config/equalis.sample.toml";
const std::string kDocsPath = std::string(EQUALIS_SOURCE_DIR) + "/docs/configuration.md";

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// All issues of a result, one per line, for failure messages.
std::string dump(const LoadResult& r) {
  return r.describe("test.toml");
}

// The single issue of `r` (fails the test if there is not exactly one).
ConfigIssue onlyIssue(const LoadResult& r) {
  EXPECT_EQ(r.issues.size(), 1u) << dump(r);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.config.has_value());
  return r.issues.empty() ? ConfigIssue{"<none>", "<none>"} : r.issues.front();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void expectChargerEq(const model::ChargerConfig& a, const model::ChargerConfig& b) {
  EXPECT_DOUBLE_EQ(a.float_v_per_cell, b.float_v_per_cell);
  EXPECT_DOUBLE_EQ(a.current_limit_a, b.current_limit_a);
  EXPECT_EQ(a.temperature_compensation, b.temperature_compensation);
  EXPECT_DOUBLE_EQ(a.temp_comp_mv_per_k_per_cell, b.temp_comp_mv_per_k_per_cell);
  EXPECT_DOUBLE_EQ(a.temp_comp_min_c, b.temp_comp_min_c);
  EXPECT_DOUBLE_EQ(a.temp_comp_max_c, b.temp_comp_max_c);
}

void expectStringEq(const model::StringConfig& a, const model::StringConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.block_count, b.block_count);
  EXPECT_EQ(a.chemistry, b.chemistry);
  EXPECT_DOUBLE_EQ(a.capacity_ah, b.capacity_ah);
  EXPECT_EQ(a.module_type, b.module_type);
  EXPECT_DOUBLE_EQ(a.age_years, b.age_years);
  expectChargerEq(a.charger, b.charger);
  EXPECT_EQ(a.current_sensor.present, b.current_sensor.present);
  EXPECT_DOUBLE_EQ(a.current_sensor.range_a, b.current_sensor.range_a);
}

// Field-by-field equality of everything but the strings. Extend when PlantConfig grows.
void expectPlantSettingsEq(const model::PlantConfig& a, const model::PlantConfig& b) {
  EXPECT_EQ(a.site.name, b.site.name);
  EXPECT_EQ(a.site.location, b.site.location);
  EXPECT_EQ(a.ambient.sensor_present, b.ambient.sensor_present);
  EXPECT_DOUBLE_EQ(a.ambient.temperature_c, b.ambient.temperature_c);
  EXPECT_DOUBLE_EQ(a.ambient.daily_swing_c, b.ambient.daily_swing_c);
  EXPECT_EQ(a.simulation.seed, b.simulation.seed);
  EXPECT_EQ(a.simulation.ups.outages, b.simulation.ups.outages);
  EXPECT_DOUBLE_EQ(a.simulation.ups.load_kw, b.simulation.ups.load_kw);
  EXPECT_DOUBLE_EQ(a.simulation.ups.outage_mean_interval_h,
                   b.simulation.ups.outage_mean_interval_h);
  EXPECT_DOUBLE_EQ(a.simulation.ups.outage_min_s, b.simulation.ups.outage_min_s);
  EXPECT_DOUBLE_EQ(a.simulation.ups.outage_max_s, b.simulation.ups.outage_max_s);
  EXPECT_EQ(a.bus.sweep_interval_ms, b.bus.sweep_interval_ms);
  EXPECT_EQ(a.bus.stale_after_sweeps, b.bus.stale_after_sweeps);
  EXPECT_EQ(a.bus.comm_lost_after_failures, b.bus.comm_lost_after_failures);
  EXPECT_EQ(a.history.max_bytes, b.history.max_bytes);
  EXPECT_EQ(a.history.float_interval_ms, b.history.float_interval_ms);
  EXPECT_EQ(a.history.fast_interval_ms, b.history.fast_interval_ms);
  EXPECT_EQ(a.history.fast_hold_ms, b.history.fast_hold_ms);
  EXPECT_EQ(a.http.listen, b.http.listen);
  EXPECT_EQ(a.data_dir, b.data_dir);
}

void expectPlantEq(const model::PlantConfig& a, const model::PlantConfig& b) {
  expectPlantSettingsEq(a, b);
  ASSERT_EQ(a.strings.size(), b.strings.size());
  for (std::size_t i = 0; i < a.strings.size(); ++i) {
    SCOPED_TRACE("string " + std::to_string(i));
    expectStringEq(a.strings[i], b.strings[i]);
  }
}

// ---------------------------------------------------------------------------------------------
// Valid files

TEST(ConfigSample, LoadsAndEqualsDemoPlant) {
  const LoadResult r = loadConfigFile(kSamplePath);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.describe(kSamplePath), "");
  expectPlantEq(*r.config, model::demoPlant());
  // Guard against the comparison itself being vacuous.
  EXPECT_EQ(r.config->strings.size(), 2u);
  EXPECT_EQ(r.config->strings[0].name, "String 1");
  EXPECT_DOUBLE_EQ(r.config->strings[0].age_years, 5.0);
  EXPECT_EQ(r.config->moduleCount(), 64);
}

TEST(ConfigSample, MentionsEveryKnownKey) {
  const std::string sample = readText(kSamplePath);
  ASSERT_FALSE(sample.empty());
  const auto keys = knownKeys();
  ASSERT_GT(keys.size(), 40u);
  for (const auto& key : keys) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    const bool is_section = std::find_if(keys.begin(), keys.end(), [&](const std::string& k) {
                              return k.rfind(key + ".", 0) == 0;
                            }) != keys.end();
    const std::string needle = is_section ? key : leaf + " =";
    EXPECT_TRUE(contains(sample, needle)) << "sample does not mention " << key;
  }
}

// docs/configuration.md has one "### `[section]`" heading per section ("### `[[string]]`" for the
// strings, "### Top level" for top-level keys) and lists each key of a section as "`key`" before
// the next heading.
TEST(ConfigDocs, DocumentEveryKnownKey) {
  const std::string docs = readText(kDocsPath);
  ASSERT_FALSE(docs.empty()) << kDocsPath;
  const auto keys = knownKeys();
  // Arrays of tables may be headed either way: "### `[[alarms.rule]]`" or "### `[alarms.rule]`".
  const auto heading = [&docs](const std::string& section) -> std::string {
    if (section.empty()) {
      return "### Top level\n";
    }
    const std::string array = "### `[[" + section + "]]`\n";
    return section == "string" || contains(docs, array) ? array : "### `[" + section + "]`\n";
  };
  for (const auto& key : keys) {
    const bool is_section = std::find_if(keys.begin(), keys.end(), [&](const std::string& k) {
                              return k.rfind(key + ".", 0) == 0;
                            }) != keys.end();
    if (is_section) {
      EXPECT_TRUE(contains(docs, heading(key))) << "no heading " << heading(key);
      continue;
    }
    const auto dot = key.rfind('.');
    const std::string section = dot == std::string::npos ? "" : key.substr(0, dot);
    const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
    const auto start = docs.find(heading(section));
    ASSERT_NE(start, std::string::npos) << "no heading " << heading(section) << " for " << key;
    const auto end = docs.find("\n### ", start + 1);
    const std::string body = docs.substr(start, end == std::string::npos ? end : end - start);
    EXPECT_TRUE(contains(body, "`" + leaf + "`"))
        << key << " not documented under " << heading(section);
  }
}

TEST(ConfigKnownKeys, ListsSectionsAndNestedKeys) {
  const auto keys = knownKeys();
  for (const char* key :
       {"data_dir", "site.name", "http.listen", "ambient.sensor", "charger",
        "charger.float_v_per_cell", "bus.sweep_interval_s", "history.max_size_mb",
        "simulation.seed", "simulation.ups.load_kw", "string", "string.blocks", "string.module",
        "string.charger", "string.charger.temp_comp_max_c", "string.current_sensor.range_a"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "string.block_count"), keys.end());
}

TEST(ConfigParse, OnlyStringTablesTakeAllDefaults) {
  const LoadResult r = parseConfig("[[string]]\n[[string]]\nage_years = 5\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  const model::PlantConfig demo = model::demoPlant();
  expectPlantSettingsEq(*r.config, demo);
  ASSERT_EQ(r.config->strings.size(), 2u);
  // Unnamed strings are called "String N"; otherwise the defaults are the demo plant's.
  model::StringConfig first = demo.strings[1];  // the new one
  first.name = "String 1";
  expectStringEq(r.config->strings[0], first);
  model::StringConfig second = demo.strings[0];
  second.name = "String 2";
  expectStringEq(r.config->strings[1], second);
}

TEST(ConfigParse, ConvertsUnitsToModelFields) {
  const LoadResult r = parseConfig(R"(
[bus]
sweep_interval_s = 2.5
[history]
max_size_mb = 3
float_interval_s = 600
fast_interval_s = 5
fast_hold_s = 0
[simulation]
seed = 9000000000000000000
[[string]]
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->bus.sweep_interval_ms, 2500);
  EXPECT_EQ(r.config->history.max_bytes, 3u * 1024 * 1024);
  EXPECT_EQ(r.config->history.float_interval_ms, 600'000);
  EXPECT_EQ(r.config->history.fast_interval_ms, 5'000);
  EXPECT_EQ(r.config->history.fast_hold_ms, 0);
  EXPECT_EQ(r.config->simulation.seed, 9'000'000'000'000'000'000u);
}

TEST(ConfigParse, ChargerInheritsPlantThenChemistryDefaults) {
  const LoadResult r = parseConfig(R"(
[charger]
current_limit_a = 20
temperature_compensation = false

[[string]]
name = "Lead"
chemistry = "vrla-2v"
module = "c40"          # module types are case-insensitive

[[string]]
name = "Lithium"
chemistry = "LiFePO4"   # so are chemistries
module = "C44"
[string.charger]
current_limit_a = 5.5
float_v_per_cell = 3.45
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& lead = r.config->strings[0];
  EXPECT_EQ(lead.chemistry, Chemistry::kVrla2V);
  EXPECT_EQ(lead.module_type, ModuleType::kC40);
  EXPECT_DOUBLE_EQ(lead.charger.current_limit_a, 20.0);
  EXPECT_FALSE(lead.charger.temperature_compensation);
  EXPECT_DOUBLE_EQ(lead.charger.float_v_per_cell, 2.25);  // vrla-2v default, not 2.27
  EXPECT_DOUBLE_EQ(lead.charger.temp_comp_mv_per_k_per_cell, -3.0);
  const auto& lithium = r.config->strings[1];
  EXPECT_EQ(lithium.chemistry, Chemistry::kLiFePO4);
  EXPECT_DOUBLE_EQ(lithium.charger.current_limit_a, 5.5);
  EXPECT_FALSE(lithium.charger.temperature_compensation);
  EXPECT_DOUBLE_EQ(lithium.charger.float_v_per_cell, 3.45);
  EXPECT_DOUBLE_EQ(lithium.charger.temp_comp_mv_per_k_per_cell, 0.0);  // lifepo4 default
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST(ConfigUnknownKey, TypoInStringSuggestsKnownKey) {
  const LoadResult r = parseConfig("[[string]]\nblokcs = 32\n", "plant.toml");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "strings[1].blokcs");
  EXPECT_TRUE(contains(issue.message, "unknown key")) << issue.message;
  EXPECT_TRUE(contains(issue.message, "did you mean 'blocks'?")) << issue.message;
  EXPECT_EQ(r.describe("plant.toml"),
            "plant.toml: strings[1].blokcs: unknown key, did you mean 'blocks'?\n");
}

TEST(ConfigUnknownKey, CountsStringsFromOne) {
  const LoadResult r = parseConfig("[[string]]\n[[string]]\n[[string]]\nnmae = \"x\"\n");
  EXPECT_EQ(onlyIssue(r).key, "strings[3].nmae");
  EXPECT_TRUE(contains(onlyIssue(r).message, "did you mean 'name'?"));
}

TEST(ConfigUnknownKey, TypoInSectionNameAndNestedTable) {
  const LoadResult r = parseConfig(R"(
[sit]
name = "x"
[simulation.usp]
outages = false
[[strings]]
[[string]]
[string.current_sensr]
)");
  ASSERT_EQ(r.issues.size(), 4u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "sit");
  EXPECT_EQ(r.issues[0].message, "unknown section, did you mean 'site'?");
  EXPECT_EQ(r.issues[1].key, "simulation.usp");
  EXPECT_TRUE(contains(r.issues[1].message, "did you mean 'ups'?")) << r.issues[1].message;
  EXPECT_EQ(r.issues[2].key, "strings");
  EXPECT_TRUE(contains(r.issues[2].message, "did you mean 'string'?")) << r.issues[2].message;
  EXPECT_EQ(r.issues[3].key, "strings[1].current_sensr");
  EXPECT_TRUE(contains(r.issues[3].message, "did you mean 'current_sensor'?"));
}

TEST(ConfigUnknownKey, KeyOfASubsectionPointsThere) {
  const LoadResult r = parseConfig("seed = 3\n[[string]]\nfloat_v_per_cell = 2.25\n");
  ASSERT_EQ(r.issues.size(), 2u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "seed");
  EXPECT_EQ(r.issues[0].message, "unknown key, 'seed' belongs in [simulation]");
  EXPECT_EQ(r.issues[1].key, "strings[1].float_v_per_cell");
  EXPECT_EQ(r.issues[1].message, "unknown key, 'float_v_per_cell' belongs in [string.charger]");
}

TEST(ConfigUnknownKey, FarFromAnyKeyListsKnownKeys) {
  const LoadResult r = parseConfig("[bus]\nbaudrate = 9600\n[[string]]\n");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "bus.baudrate");
  EXPECT_EQ(issue.message,
            "unknown key (known here: sweep_interval_s, stale_after_sweeps, "
            "comm_lost_after_failures, line)");
}

// ---------------------------------------------------------------------------------------------
// Values: ranges and types

TEST(ConfigRange, OutOfRangeNamesRangeAndValue) {
  const LoadResult r = parseConfig("[[string]]\n[[string]]\nblocks = 0\n");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "strings[2].blocks");
  EXPECT_EQ(issue.message, "must be between 1 and 600, got 0");
  EXPECT_EQ(formatIssue("plant.toml", issue),
            "plant.toml: strings[2].blocks: must be between 1 and 600, got 0");
}

TEST(ConfigRange, MessagesCarryUnits) {
  const LoadResult r = parseConfig(R"(
[ambient]
temperature_c = 75
[bus]
stale_after_sweeps = 101
[history]
max_size_mb = 0
[[string]]
age_years = -1
capacity_ah = 1000
[string.current_sensor]
range_a = 10
)");
  ASSERT_EQ(r.issues.size(), 6u) << dump(r);
  EXPECT_EQ(formatIssue("f", r.issues[0]),
            "f: ambient.temperature_c: must be between -20 and 60 °C, got 75");
  EXPECT_EQ(formatIssue("f", r.issues[1]),
            "f: bus.stale_after_sweeps: must be between 1 and 100, got 101");
  EXPECT_EQ(formatIssue("f", r.issues[2]),
            "f: history.max_size_mb: must be between 1 and 65536 MiB, got 0");
  EXPECT_EQ(formatIssue("f", r.issues[3]),
            "f: strings[1].age_years: must be between 0 and 30 years, got -1");
  EXPECT_EQ(formatIssue("f", r.issues[4]),
            "f: strings[1].capacity_ah: must be between 7 and 600 Ah for chemistry 'vrla-12v', "
            "got 1000");
  EXPECT_EQ(formatIssue("f", r.issues[5]),
            "f: strings[1].current_sensor.range_a: must be between 50 and 2000 A, got 10");
}

TEST(ConfigRange, NonFiniteNumbersRejected) {
  const LoadResult r = parseConfig("[ambient]\ntemperature_c = nan\n[[string]]\n");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "ambient.temperature_c");
  EXPECT_EQ(issue.message, "must be a finite number, got nan");
}

TEST(ConfigType, WrongTypeNamesExpectedType) {
  const LoadResult r = parseConfig(R"(
site = "Depot"
[http]
listen = 8080
[[string]]
blocks = "32"
capacity_ah = true
age_years = 2.5
[string.current_sensor]
present = "yes"
)");
  ASSERT_EQ(r.issues.size(), 5u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "site");
  EXPECT_EQ(r.issues[0].message, "expected a table, got a string");
  EXPECT_EQ(r.issues[1].key, "http.listen");
  EXPECT_EQ(r.issues[1].message, "expected a string, got an integer");
  EXPECT_EQ(r.issues[2].key, "strings[1].blocks");
  EXPECT_EQ(r.issues[2].message, "expected an integer, got a string");
  EXPECT_EQ(r.issues[3].key, "strings[1].capacity_ah");
  EXPECT_EQ(r.issues[3].message, "expected a number (Ah), got a boolean");
  EXPECT_EQ(r.issues[4].key, "strings[1].current_sensor.present");
  EXPECT_EQ(r.issues[4].message, "expected a boolean (true or false), got a string");
}

TEST(ConfigType, FractionalBlockCountIsNotAnInteger) {
  const ConfigIssue issue = onlyIssue(parseConfig("[[string]]\nblocks = 32.0\n"));
  EXPECT_EQ(issue.key, "strings[1].blocks");
  EXPECT_EQ(issue.message, "expected an integer, got a floating-point number");
}

TEST(ConfigType, SingleStringTableHintsAtArraySyntax) {
  const ConfigIssue issue = onlyIssue(parseConfig("[string]\nblocks = 4\n"));
  EXPECT_EQ(issue.key, "string");
  EXPECT_EQ(issue.message,
            "expected an array of tables ([[string]]), got a table (write [[string]], not "
            "[string])");
}

TEST(ConfigEnum, UnknownChemistryAndModuleSuggest) {
  const LoadResult r = parseConfig("[[string]]\nchemistry = \"vrla12v\"\nmodule = \"C42\"\n");
  ASSERT_EQ(r.issues.size(), 2u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "strings[1].chemistry");
  EXPECT_EQ(
      r.issues[0].message,
      "unknown chemistry \"vrla12v\" (known: vrla-12v, vrla-2v, vented-2v, lifepo4, nicd), did you "
      "mean 'vrla-12v'?");
  EXPECT_EQ(r.issues[1].key, "strings[1].module");
  EXPECT_TRUE(contains(r.issues[1].message, "unknown module type \"C42\"")) << r.issues[1].message;
  EXPECT_TRUE(contains(r.issues[1].message, "C20, C23, C24, C30, C40, C41, C44"));
}

TEST(ConfigHttp, ListenMustBeHostAndPort) {
  struct Case {
    const char* listen;
    const char* message;  // empty: valid
  };
  const Case cases[] = {
      {"0.0.0.0:80", ""},
      {"localhost:65535", ""},
      {"127.0.0.1:0", "port must be between 1 and 65535, got \"0\""},
      {"127.0.0.1:65536", "port must be between 1 and 65535, got \"65536\""},
      {"127.0.0.1:http", "port must be between 1 and 65535, got \"http\""},
      {"localhost", "must be HOST:PORT (e.g. \"127.0.0.1:8080\"), got \"localhost\""},
      {":8080", "host is missing in \":8080\" (use 0.0.0.0 for all interfaces)"},
      {"http://x:80", "\"http://x\" is not a host name or IP address"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.listen);
    const LoadResult r =
        parseConfig(std::string("[http]\nlisten = \"") + c.listen + "\"\n[[string]]\n");
    if (std::string(c.message).empty()) {
      ASSERT_TRUE(r.ok()) << dump(r);
      EXPECT_EQ(r.config->http.listen, c.listen);
    } else {
      const ConfigIssue issue = onlyIssue(r);
      EXPECT_EQ(issue.key, "http.listen");
      EXPECT_EQ(issue.message, c.message);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cross-checks

TEST(ConfigCrossCheck, ModuleMustMeasureTheBlockFloatVoltage) {
  const LoadResult r =
      parseConfig("[[string]]\nname = \"Main\"\nchemistry = \"vrla-12v\"\nmodule = \"C44\"\n");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "strings[1].module");
  EXPECT_EQ(issue.message,
            "module 'C44' measures 0.7 to 6 V, but a 'vrla-12v' block floats at 13.62 V "
            "(6 cells × 2.27 V/cell); modules that fit: C20, C23, C24");
}

TEST(ConfigCrossCheck, DefaultModuleOnLithiumCellIsNamedAsDefault) {
  const ConfigIssue issue = onlyIssue(parseConfig("[[string]]\nchemistry = \"lifepo4\"\n"));
  EXPECT_EQ(issue.key, "strings[1].module");
  EXPECT_EQ(issue.message,
            "module 'C24' (the default) measures 8 to 17 V, but a 'lifepo4' block floats at "
            "3.4 V (1 cell × 3.4 V/cell); modules that fit: C41, C44");
}

TEST(ConfigCrossCheck, FloatVoltageMustSuitChemistry) {
  const LoadResult r = parseConfig(R"(
[charger]
float_v_per_cell = 2.27
[[string]]
[[string]]
chemistry = "lifepo4"
module = "C44"
[[string]]
[string.charger]
float_v_per_cell = 2.4
)");
  ASSERT_EQ(r.issues.size(), 2u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "strings[2].charger.float_v_per_cell");
  EXPECT_EQ(r.issues[0].message,
            "must be between 3.3 and 3.5 V/cell for chemistry 'lifepo4', got 2.27 (inherited "
            "from [charger])");
  EXPECT_EQ(r.issues[1].key, "strings[3].charger.float_v_per_cell");
  EXPECT_EQ(r.issues[1].message,
            "must be between 2.2 and 2.35 V/cell for chemistry 'vrla-12v', got 2.4");
}

TEST(ConfigCrossCheck, PlantFloatOutsideEveryChemistryReportedOnce) {
  const ConfigIssue issue =
      onlyIssue(parseConfig("[charger]\nfloat_v_per_cell = 5\n[[string]]\n[[string]]\n"));
  EXPECT_EQ(issue.key, "charger.float_v_per_cell");
  EXPECT_EQ(issue.message,
            "must be between 1.38 and 3.5 V/cell (the float range of all chemistries), got 5");
}

TEST(ConfigCrossCheck, OrderedPairs) {
  const LoadResult r = parseConfig(R"(
[charger]
temp_comp_min_c = 40
[history]
float_interval_s = 60
fast_interval_s = 120
[simulation.ups]
outage_min_s = 900
[[string]]
[string.charger]
temp_comp_max_c = 0
)");
  ASSERT_EQ(r.issues.size(), 4u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "charger.temp_comp_min_c");
  EXPECT_EQ(r.issues[0].message, "must be below temp_comp_max_c (40 °C), got 40 °C");
  EXPECT_EQ(r.issues[1].key, "history.fast_interval_s");
  EXPECT_EQ(r.issues[1].message, "fast_interval_s (120 s) must not exceed float_interval_s (60 s)");
  EXPECT_EQ(r.issues[2].key, "simulation.ups.outage_min_s");
  EXPECT_EQ(r.issues[2].message, "outage_min_s (900 s) must not exceed outage_max_s (600 s)");
  EXPECT_EQ(r.issues[3].key, "strings[1].charger.temp_comp_max_c");
  EXPECT_EQ(r.issues[3].message, "must be above temp_comp_min_c (40 °C), got 0 °C");
}

TEST(ConfigStrings, DuplicateNamesRejected) {
  const LoadResult r = parseConfig(R"(
[[string]]
name = "Main"
[[string]]
name = " main "
[[string]]
name = "String 4"
[[string]]
)");
  ASSERT_EQ(r.issues.size(), 2u) << dump(r);
  EXPECT_EQ(r.issues[0].key, "strings[2].name");
  EXPECT_EQ(r.issues[0].message, "duplicate string name \" main \" (already used by strings[1])");
  // The unnamed 4th string is called "String 4" by default, like the 3rd.
  EXPECT_EQ(r.issues[1].key, "strings[4].name");
  EXPECT_EQ(r.issues[1].message, "duplicate string name \"String 4\" (already used by strings[3])");
}

TEST(ConfigStrings, EmptyNameRejected) {
  const ConfigIssue issue = onlyIssue(parseConfig("[[string]]\nname = \"  \"\n"));
  EXPECT_EQ(issue.key, "strings[1].name");
  EXPECT_EQ(issue.message, "must not be empty");
}

TEST(ConfigStrings, EmptyFileHasNoString) {
  for (const char* text : {"", "# nothing\n", "string = []\n", "[site]\nname = \"x\"\n"}) {
    SCOPED_TRACE(text);
    const ConfigIssue issue = onlyIssue(parseConfig(text));
    EXPECT_EQ(issue.key, "strings");
    EXPECT_EQ(issue.message, "no [[string]] defined; at least one battery string is required");
  }
}

TEST(ConfigStrings, ControllerLimits) {
  EXPECT_EQ(kMaxStrings, 64);
  EXPECT_EQ(kMaxModules, 4096);
  EXPECT_EQ(kMaxBlocksPerString, 600);
  std::string many;
  for (int i = 0; i < kMaxStrings + 1; ++i) {
    many += "[[string]]\nblocks = 1\n";
  }
  const ConfigIssue too_many = onlyIssue(parseConfig(many));
  EXPECT_EQ(too_many.key, "strings");
  EXPECT_EQ(too_many.message, "at most 64 [[string]] tables are supported, got 65");

  std::string big;
  for (int i = 0; i < 7; ++i) {
    big += "[[string]]\nblocks = 600\n";
  }
  const ConfigIssue too_big = onlyIssue(parseConfig(big));
  EXPECT_EQ(too_big.key, "strings");
  EXPECT_EQ(too_big.message,
            "at most 4096 modules are supported in total (blocks over all strings), got 4200");

  const ConfigIssue too_long = onlyIssue(parseConfig("[[string]]\nblocks = 601\n"));
  EXPECT_EQ(too_long.key, "strings[1].blocks");
  EXPECT_EQ(too_long.message, "must be between 1 and 600, got 601");

  std::string over;
  for (int i = 0; i < kMaxStrings; ++i) {
    over += "[[string]]\nblocks = " + std::string(i < 8 ? "506" : "1") + "\n";
  }
  EXPECT_EQ(onlyIssue(parseConfig(over)).key, "strings");  // 8 × 506 + 56 = 4104 modules
  std::string square;  // 64 strings × 64 blocks: exactly both limits
  for (int i = 0; i < kMaxStrings; ++i) {
    square += "[[string]]\nblocks = 64\n";
  }
  const LoadResult r = parseConfig(square);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->strings.size(), 64u);
  EXPECT_EQ(r.config->moduleCount(), kMaxModules);
}

TEST(ConfigStrings, LargePlantFileIsValid) {
  const LoadResult r = loadConfigFile(std::string(EQUALIS_SOURCE_DIR) + "/config/large-plant.toml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->strings.size(), 64u);
  EXPECT_EQ(r.config->moduleCount(), 4096);
  EXPECT_EQ(r.config->strings.back().name, "String 64");
}

TEST(ConfigIssues, AllReportedInOnePassInFileOrder) {
  const LoadResult r = parseConfig(R"(data_dir = ""
[bus]
sweep_interval_s = 0
[[string]]
name = "A"
blokcs = 12
chemistry = "nicd"
module = "C24"
[[string]]
name = "A"
capacity_ah = "100"
)",
                                   "site.toml");
  ASSERT_EQ(r.issues.size(), 6u) << dump(r);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.describe("site.toml"),
            "site.toml: data_dir: must not be empty\n"
            "site.toml: bus.sweep_interval_s: must be between 1 and 3600 s, got 0\n"
            "site.toml: strings[1].blokcs: unknown key, did you mean 'blocks'?\n"
            "site.toml: strings[1].module: module 'C24' measures 8 to 17 V, but a 'nicd' block "
            "floats at 1.41 V (1 cell × 1.41 V/cell); modules that fit: C40, C44\n"
            "site.toml: strings[2].name: duplicate string name \"A\" (already used by "
            "strings[1])\n"
            "site.toml: strings[2].capacity_ah: expected a number (Ah), got a string\n");
}

// ---------------------------------------------------------------------------------------------
// Files and syntax

TEST(ConfigSyntax, ParseErrorReportsLineAndColumn) {
  const LoadResult r =
      parseConfig("[site]\nname = \"x\"\n\n[[string]]\nblocks = = 3\n", "bad.toml");
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.key, "");
  EXPECT_EQ(issue.message.rfind("TOML syntax error at line 5, column ", 0), 0u) << issue.message;
  EXPECT_EQ(r.describe("bad.toml").rfind("bad.toml: TOML syntax error at line 5", 0), 0u);
}

TEST(ConfigSyntax, DuplicateKeyAndBinaryGarbageAreSyntaxErrors) {
  const ConfigIssue dup = onlyIssue(parseConfig("[[string]]\nblocks = 1\nblocks = 2\n"));
  EXPECT_TRUE(contains(dup.message, "line 3")) << dup.message;
  const std::string garbage("\xff\xfe\x00\x01[[", 6);
  const ConfigIssue bin = onlyIssue(parseConfig(garbage));
  EXPECT_TRUE(contains(bin.message, "TOML syntax error at line 1")) << bin.message;
}

TEST(ConfigFile, UnreadablePathIsOneIssueNamingIt) {
  const std::string path = "/nonexistent-equalis-dir/plant.toml";
  const LoadResult r = loadConfigFile(path);
  const ConfigIssue issue = onlyIssue(r);
  EXPECT_EQ(issue.message,
            "cannot read configuration file '/nonexistent-equalis-dir/plant.toml': No such file "
            "or directory");
  EXPECT_EQ(r.describe(path), path + ": " + issue.message + "\n");
}

TEST(ConfigFile, DirectoryIsNotAFile) {
  const ConfigIssue issue = onlyIssue(loadConfigFile(EQUALIS_SOURCE_DIR));
  EXPECT_EQ(issue.message, std::string("cannot read configuration file '") + EQUALIS_SOURCE_DIR +
                               "': is a directory");
}

TEST(ConfigFile, IssuesOfAFileAreDescribedWithItsPath) {
  const std::string path = ::testing::TempDir() + "equalis_config_test_bad.toml";
  {
    std::ofstream out(path);
    out << "[[string]]\nblocks = 0\n";
  }
  const LoadResult r = loadConfigFile(path);
  EXPECT_EQ(r.describe(path), path + ": strings[1].blocks: must be between 1 and 600, got 0\n");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace equalis::config

namespace equalis::config {
namespace {

TEST(ConfigEqualization, KeysAndPauseWindows) {
  const auto r = parseConfig(R"(
[equalization]
target_v_per_cell = 2.25
settle_s = 600
response_s = 900
lithium_hold_80pct = true
self_calibration = false
[[equalization.pause]]
from = "2026-03-01T00:00:00Z"
to = "2026-04-01T00:00:00Z"
[[string]]
blocks = 4
)");
  ASSERT_TRUE(r.ok()) << r.describe("t");
  const auto& eq = r.config->equalization;
  EXPECT_DOUBLE_EQ(eq.target_v_per_cell, 2.25);
  EXPECT_EQ(eq.settle_ms, 600'000);
  EXPECT_EQ(eq.response_ms, 900'000);
  EXPECT_TRUE(eq.lithium_hold_80pct);
  EXPECT_FALSE(eq.self_calibration);
  ASSERT_EQ(eq.pauses.size(), 1u);
  EXPECT_EQ(eq.pauses[0].from_ms, 1'772'323'200'000);
  EXPECT_EQ(eq.pauses[0].to_ms - eq.pauses[0].from_ms, 31ll * 24 * 3600 * 1000);
}

TEST(ConfigEqualization, BadPauseWindowsAreNamed) {
  const auto r = parseConfig(R"(
[[equalization.pause]]
from = "yesterday"
to = "2026-04-01T00:00:00Z"
[[equalization.pause]]
from = "2026-05-01T00:00:00Z"
to = "2026-04-01T00:00:00Z"
[[equalization.pause]]
to = "2026-04-01T00:00:00Z"
[[string]]
blocks = 4
)");
  ASSERT_FALSE(r.ok());
  const std::string text = r.describe("t");
  EXPECT_NE(text.find("equalization.pause[1].from: 'yesterday' is not an ISO 8601"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("equalization.pause[2].to: must be later than from"), std::string::npos)
      << text;
  EXPECT_NE(text.find("equalization.pause[3].from: missing"), std::string::npos) << text;
}

}  // namespace
}  // namespace equalis::config

namespace equalis::config {
namespace {

TEST(ConfigAlarms, OverridesPlantWideAndPerString) {
  const LoadResult r = parseConfig(R"(
[[string]]
[[string]]
[alarms]
ri_baseline_samples = 12
ri_baseline_interval_s = 1800
ri_baseline_delay_days = 180
[[alarms.rule]]
id = "block.temperature_high"
warning = 30
[[alarms.rule]]
id = "block.voltage_high"
string = 2
enabled = false
on_delay_s = 120
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& a = r.config->alarms;
  EXPECT_EQ(a.ri_baseline_samples, 12);
  EXPECT_EQ(a.ri_baseline_interval_ms, 1800 * kSecondMs);
  EXPECT_EQ(a.ri_baseline_delay_ms, 180 * kDayMs);
  ASSERT_EQ(a.overrides.size(), 2u);
  EXPECT_EQ(a.overrides[0].rule_id, "block.temperature_high");
  EXPECT_EQ(a.overrides[0].string_number, 0);
  EXPECT_EQ(a.overrides[0].warning, 30.0);
  EXPECT_EQ(a.overrides[1].string_number, 2);
  EXPECT_EQ(a.overrides[1].enabled, false);
  EXPECT_EQ(a.overrides[1].on_delay_ms, 120 * kSecondMs);
}

TEST(ConfigAlarms, ErrorsNameTheRuleKey) {
  auto issue = onlyIssue(parseConfig("[[string]]\n[[alarms.rule]]\nid = \"block.voltage_hihg\"\n"));
  EXPECT_EQ(issue.key, "alarms.rule[1].id");
  EXPECT_TRUE(contains(issue.message, "did you mean 'block.voltage_high'")) << issue.message;

  issue = onlyIssue(
      parseConfig("[[string]]\n[[alarms.rule]]\nid = \"block.voltage_high\"\nwarning = 15\n"));
  EXPECT_EQ(issue.key, "alarms.rule[1].warning");
  EXPECT_TRUE(contains(issue.message, "warning 15 must be ≤ alarm 14.4")) << issue.message;

  issue = onlyIssue(
      parseConfig("[[string]]\n[[alarms.rule]]\nid = \"block.voltage_high\"\nstring = 3\n"));
  EXPECT_EQ(issue.key, "alarms.rule[1].string");

  issue = onlyIssue(parseConfig("[[string]]\n[[alarms.rule]]\nwarning = 1\n"));
  EXPECT_EQ(issue.key, "alarms.rule[1].id");

  issue = onlyIssue(
      parseConfig("[[string]]\n[[alarms.rule]]\nid = \"block.voltage_high\"\nwarnng = 1\n"));
  EXPECT_EQ(issue.key, "alarms.rule[1].warnng");
  EXPECT_TRUE(contains(issue.message, "did you mean 'warning'")) << issue.message;
}

}  // namespace
}  // namespace equalis::config
