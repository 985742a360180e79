#include "model/quality.hpp"

#include <array>

namespace equalis::model {

namespace {
constexpr std::array<std::string_view, 5> kNames = {"ok", "stale", "comm_lost", "invalid",
                                                    "not_present"};
}

std::string_view qualityName(Quality q) {
  return kNames.at(static_cast<std::size_t>(q));
}

std::optional<Quality> parseQuality(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<Quality>(i);
    }
  }
  return std::nullopt;
}

}  // namespace equalis::model
