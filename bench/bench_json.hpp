// One benchmark figure as a JSON line on stdout: bench, metric, value, unit and the conditions it
// was measured under — the bench's own, the figure's `extra` ones, the machine and the build.
#pragma once

#include <sys/utsname.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace equalis::bench {

// The size of the plant a figure was measured on.
inline nlohmann::json plantConditions(int strings, int blocks_per_string, int days) {
  return {{"strings", strings}, {"blocks_per_string", blocks_per_string}, {"days", days}};
}

inline void emitFigure(const std::string& bench, const std::string& metric, double value,
                       const std::string& unit, nlohmann::json conditions,
                       const nlohmann::json& extra = nlohmann::json::object()) {
  for (const auto& [k, v] : extra.items()) {
    conditions[k] = v;
  }
  utsname u{};
  uname(&u);
  conditions["machine"] = u.machine;
#ifdef NDEBUG
  conditions["build"] = "release";
#else
  conditions["build"] = "debug";
#endif
  nlohmann::json j{{"bench", bench}, {"metric", metric}, {"value", value}, {"unit", unit}};
  j["conditions"] = std::move(conditions);
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace equalis::bench
