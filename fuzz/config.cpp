// Fuzz target: the configuration file reader (TOML text → validated plant configuration).
// Bad input must give issues, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = equalis::config::parseConfig(text, "fuzz.toml");
  if (!result.ok()) {
    (void)result.describe("fuzz.toml");
  }
  return 0;
}
