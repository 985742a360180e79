#include "config/readers.hpp"

namespace equalis::config::detail {

void readIo(Context& /*ctx*/, Section& /*top*/, model::PlantConfig& /*plant*/) {}

}  // namespace equalis::config::detail
