// Fuzz target: the files equalisd keeps in its data directory and reads back at start (and from
// a restored backup): modules.json, ri_baseline_N.json, calibration_N.json, capacity_N.json,
// discharges-string-N.json, alarm_rules.json,
// users.json, io_names.json, protocols.json. A damaged file must give an error, never a crash.
// The first byte picks the reader (modulo 5, ordered so that the seeds written for modulo 4 keep
// their reader; 200–209: health-string-N.json, 210–219: hours-in-band-string-N.json, 220–229:
// discharges-string-N.json, 230–239: capacity-string-N.json for 4 blocks of 100 Ah, 240–249:
// protocols.json, 250 and above: io_names.json).
#include <cstddef>
#include <cstdint>
#include <string>

#include "alarms/rules_json.hpp"
#include "analysis/block_capacity.hpp"
#include "analysis/calibration.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/health.hpp"
#include "analysis/hours_in_band.hpp"
#include "analysis/ri_baseline.hpp"
#include "auth/users_file.hpp"
#include "bus/module_map.hpp"
#include "model/io_names.hpp"
#include "model/plant.hpp"
#include "model/protocol_settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] >= 250) {
    const auto names = equalis::model::parseChannelNamesFile(text);
    if (names) {
      const auto again =
          equalis::model::parseChannelNamesFile(equalis::model::channelNamesFileText(*names));
      if (!again || *again != *names) {
        __builtin_trap();  // what was written must read back the same
      }
    }
    return 0;
  }
  if (data[0] >= 200 && data[0] < 210) {
    using equalis::analysis::HealthTracker;
    const auto health = HealthTracker::deserialize(text);
    if (health) {
      const std::string written = health->serialize(0);
      const auto again = HealthTracker::deserialize(written);
      if (!again || again->serialize(0) != written) {
        __builtin_trap();  // what was written must read back the same
      }
    }
    return 0;
  }
  if (data[0] >= 210 && data[0] < 220) {
    using equalis::analysis::BandHours;
    const auto bands = BandHours::deserialize(text);
    if (bands) {
      const std::string written = bands->serialize(0);
      const auto again = BandHours::deserialize(written);
      if (!again || again->serialize(0) != written) {
        __builtin_trap();  // what was written must read back the same
      }
    }
    return 0;
  }
  if (data[0] >= 220 && data[0] < 230) {
    const auto records = equalis::analysis::recordsFromJson(text);
    if (records) {
      const std::string written = equalis::analysis::recordsToJson(*records);
      const auto again = equalis::analysis::recordsFromJson(written);
      if (!again || equalis::analysis::recordsToJson(*again) != written) {
        __builtin_trap();  // what was written must read back the same
      }
    }
    return 0;
  }
  if (data[0] >= 230 && data[0] < 240) {
    using equalis::analysis::StringCapacityEstimator;
    const auto est = StringCapacityEstimator::deserialize(text, 4, 100.0);
    if (est) {
      const std::string written = est->serialize();
      const auto again = StringCapacityEstimator::deserialize(written, 4, 100.0);
      if (!again || again->serialize() != written) {
        __builtin_trap();  // what was written must read back the same
      }
    }
    return 0;
  }
  if (data[0] >= 240) {
    const auto specs = equalis::model::parseProtocolsFile(text);
    if (specs) {
      const auto again =
          equalis::model::parseProtocolsFile(equalis::model::protocolsFileText(*specs));
      if (!again || *again != *specs) {
        __builtin_trap();  // what was written must read back the same
      }
      for (const auto& [key, spec] : *specs) {
        // A masked spec keeps its secrets from the one in force, and masks again the same way.
        const auto masked = equalis::model::redactedProtocolSpec(key, spec);
        const auto kept = equalis::model::protocolSpecKeepingSecrets(key, masked, spec);
        if (equalis::model::redactedProtocolSpec(key, kept) != masked) {
          __builtin_trap();
        }
      }
    }
    return 0;
  }
  switch (data[0] % 5) {
    case 2: {
      const auto map = equalis::bus::ModuleMap::parse(text, {60, 24, 1});
      if (map) {
        (void)map->serialize();
      }
      break;
    }
    case 1: {
      static const equalis::model::AlarmsConfig cfg{};
      const auto baseline = equalis::analysis::RiBaseline::deserialize(text, cfg);
      if (baseline) {
        (void)baseline->serialize();
      }
      break;
    }
    case 0: {
      const auto estimator = equalis::analysis::OffsetEstimator::deserialize(text);
      if (estimator) {
        (void)estimator->serialize();
      }
      break;
    }
    case 3:
      (void)equalis::alarms::parseOverridesFile(text);
      break;
    default: {
      const auto users = equalis::auth::parseUsersFile(text, "users.json");
      if (users) {
        (void)equalis::auth::serializeUsersFile(*users);
      }
      break;
    }
  }
  return 0;
}
