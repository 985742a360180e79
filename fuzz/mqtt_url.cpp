// Fuzz target: the --mqtt URL mqtt[s]://[user[:password]@]HOST[:PORT][/PREFIX][?option=value&…].
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/mqtt/mqtt_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto settings = equalis::mqtt::parseMqttUrl(text);
  if (settings) {
    (void)equalis::mqtt::redactedUrl(*settings);
    (void)equalis::mqtt::validTopicPrefix(settings->prefix);
  }
  return 0;
}
