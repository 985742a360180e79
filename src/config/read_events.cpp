#include "config/readers.hpp"

namespace equalis::config::detail {

void readEvents(Context& /*ctx*/, Section& /*top*/, model::PlantConfig& /*plant*/) {}

}  // namespace equalis::config::detail
