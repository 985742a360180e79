// Plant configuration from a TOML file: parsing, defaults and validation.
//
// The file format is described in docs/configuration.md; config/equalis.sample.toml spells out
// every key for the built-in demo plant. Missing keys take the defaults of model::PlantConfig /
// model::demoPlant(). Every problem found is reported (not just the first) as a ConfigIssue that
// names the full dotted key, e.g. "strings[2].blocks: must be between 1 and 600, got 0".
// Nothing here throws: expected failures (unreadable file, bad syntax, bad values) are values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/plant.hpp"

namespace equalis::config {

// Limits of one controller (documented in docs/configuration.md).
inline constexpr int kMaxStrings = 64;             // [[string]] tables per file
inline constexpr int kMaxBlocksPerString = 600;    // blocks (= measuring modules) per string
inline constexpr int kMaxModules = 4096;           // blocks summed over all strings
inline constexpr std::size_t kMaxNameLength = 64;  // string and site names, in bytes
inline constexpr std::size_t kMaxFileBytes = std::size_t{4} * 1024 * 1024;

struct ConfigIssue {
  // Full dotted path of the offending key, e.g. "strings[2].charger.float_v_per_cell"
  // (strings[N] is the N-th [[string]] table, counted from 1). Empty for problems that concern
  // the file as a whole (unreadable, TOML syntax error).
  std::string key;
  std::string message;  // why, e.g. "must be between 1 and 600, got 0"
};

struct LoadResult {
  std::optional<model::PlantConfig> config;  // set only when there are no issues
  std::vector<ConfigIssue> issues;           // in file order, all of them

  bool ok() const { return config.has_value() && issues.empty(); }
  // One line per issue ("FILE: key: message\n"); empty when ok().
  std::string describe(std::string_view origin) const;
  // The issues as "key: message" lines, without a trailing line break; empty when there are none.
  std::string issueLines() const;
};

// Parses and validates a configuration document. `origin` names it in parse errors.
LoadResult parseConfig(std::string_view toml_text, std::string_view origin = "<config>");

// Reads `path` and parses it; an unreadable file gives one issue naming the path.
LoadResult loadConfigFile(const std::string& path);

// "FILE: strings[2].blocks: must be between 1 and 600, got 0" ("FILE: message" without key).
std::string formatIssue(std::string_view origin, const ConfigIssue& issue);

// Every key the loader accepts, as TOML paths with the array of tables written "string",
// e.g. "bus.sweep_interval_s", "string.blocks", "string.charger.float_v_per_cell".
// Sections themselves are listed too ("site", "string.charger"). For docs and tests.
std::vector<std::string> knownKeys();

}  // namespace equalis::config
