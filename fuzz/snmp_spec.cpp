// Fuzz target: the --snmp spec "HOST:PORT[?key=value&…]". A first line of the form
// "key=value&key=value" is taken as the [snmp] configuration options it is applied over when the
// input has two lines; otherwise the whole input is the spec.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/snmp/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::pair<std::string, std::string>> base;
  if (const auto nl = text.find('\n'); nl != std::string_view::npos) {
    std::string_view options = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    while (!options.empty()) {
      const auto amp = options.find('&');
      const std::string_view item = options.substr(0, amp);
      const auto eq = item.find('=');
      base.emplace_back(std::string(item.substr(0, eq)), eq == std::string_view::npos
                                                             ? std::string()
                                                             : std::string(item.substr(eq + 1)));
      options = amp == std::string_view::npos ? std::string_view() : options.substr(amp + 1);
    }
  }
  (void)equalis::snmp::parseSpec(text, base);
  return 0;
}
