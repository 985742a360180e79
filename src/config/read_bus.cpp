// [bus] and [[bus.line]]: sweep settings and the module-bus lines (docs/module-bus.md).
#include <algorithm>
#include <map>

#include "config/readers.hpp"
#include "model/bus_line.hpp"

namespace equalis::config::detail {

namespace {

constexpr double kSweepIntervalMinS = 1.0;
constexpr double kSweepIntervalMaxS = 3600.0;
constexpr std::int64_t kSweepCountMax = 100;
constexpr std::int64_t kLineTimeoutMinMs = 1;
constexpr std::int64_t kLineTimeoutMaxMs = 5000;
constexpr std::int64_t kLineRetriesMax = 5;
constexpr std::size_t kMaxLines = 16;
constexpr std::int64_t kMaxModulesPerLine = 0xEFFF;

// `strings = [1, 2]`: 1-based string numbers, each existing and listed once.
std::optional<std::vector<int>> stringNumbers(Section& s, const model::PlantConfig& plant) {
  const toml::node* node = s.lookup("strings");
  if (node == nullptr) {
    s.issue("strings", "missing: the strings on this line, e.g. strings = [1, 2]");
    return std::nullopt;
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    return s.wrongType("strings", "an array of string numbers (e.g. [1, 2])", *node);
  }
  if (array->empty()) {
    return s.reject("strings", "must list at least one string");
  }
  std::vector<int> out;
  const auto count = static_cast<std::int64_t>(plant.strings.size());
  for (const auto& element : *array) {
    const auto* i = element.as_integer();
    if (i == nullptr) {
      return s.reject("strings", fmt::format("expected string numbers, got an element that is {}",
                                             typeName(element)));
    }
    const std::int64_t v = i->get();
    if (v < 1 || v > count) {
      return s.reject("strings", fmt::format("string {} does not exist (the plant has {} string{})",
                                             v, count, count == 1 ? "" : "s"));
    }
    if (std::find(out.begin(), out.end(), static_cast<int>(v)) != out.end()) {
      return s.reject("strings", fmt::format("string {} is listed twice", v));
    }
    out.push_back(static_cast<int>(v));
  }
  return out;
}

}  // namespace

void readBus(Context& ctx, Section& top, model::PlantConfig& plant) {
  Section s = top.child("bus");
  model::BusConfig& bus = plant.bus;
  if (const auto v = s.number("sweep_interval_s", kSweepIntervalMinS, kSweepIntervalMaxS, "s")) {
    bus.sweep_interval_ms = toMs(*v);
  }
  bus.stale_after_sweeps = static_cast<int>(
      s.integer("stale_after_sweeps", 1, kSweepCountMax).value_or(bus.stale_after_sweeps));
  bus.comm_lost_after_failures =
      static_cast<int>(s.integer("comm_lost_after_failures", 1, kSweepCountMax)
                           .value_or(bus.comm_lost_after_failures));

  std::map<int, int> line_of_string;  // string number → line number (1-based)
  bool lines_ok = true;
  const bool shape_ok = forEachTable(ctx, s, "line", [&](Section& l, int index) {
    model::BusLineConfig line;
    const auto url = l.string("url");
    const auto strings = stringNumbers(l, plant);
    const auto baud = l.integer("baud", 1200, 921600, "baud");
    const auto timeout = l.integer("timeout_ms", kLineTimeoutMinMs, kLineTimeoutMaxMs, "ms");
    const auto retries = l.integer("retries", 0, kLineRetriesMax);
    bool ok = url && strings && !l.rejected("baud") && !l.rejected("timeout_ms") &&
              !l.rejected("retries");
    if (!url && !l.rejected("url")) {
      l.issue("url", "missing: \"serial:/dev/ttyUSB0:115200\" or \"tcp://HOST:PORT\"");
    }
    if (url) {
      const auto parsed = model::parseBusLineUrl(*url);
      if (!parsed) {
        l.issue("url", parsed.error().message);
        ok = false;
      } else {
        line.url = *url;
        if (parsed->kind == model::BusLineUrl::Kind::kSerial) {
          line.baud = static_cast<int>(parsed->baud);
          if (baud && *baud != line.baud) {
            l.issue("baud", fmt::format("the serial line's baud rate is the one in its url ({})",
                                        line.baud));
            ok = false;
          }
        } else if (baud) {
          if (!model::supportedBaud(static_cast<std::uint32_t>(*baud))) {
            l.issue("baud", fmt::format("{} is not a standard baud rate", *baud));
            ok = false;
          }
          line.baud = static_cast<int>(*baud);
        }
      }
    }
    if (strings) {
      std::int64_t modules = 0;
      for (const int number : *strings) {
        modules += plant.strings[static_cast<std::size_t>(number - 1)].block_count;
        const auto [it, inserted] = line_of_string.emplace(number, index);
        if (!inserted) {
          l.issue("strings",
                  fmt::format("string {} is already on bus.line[{}]", number, it->second));
          ok = false;
        }
      }
      if (modules > kMaxModulesPerLine) {
        l.issue("strings",
                fmt::format("{} modules on one line, at most {}", modules, kMaxModulesPerLine));
        ok = false;
      }
      line.strings = *strings;
    }
    line.timeout_ms = timeout.value_or(line.timeout_ms);
    line.retries = static_cast<int>(retries.value_or(line.retries));
    if (index > static_cast<int>(kMaxLines)) {
      l.issue("url", fmt::format("at most {} [[bus.line]] tables are supported", kMaxLines));
      ok = false;
    }
    lines_ok = lines_ok && ok;
    bus.lines.push_back(std::move(line));
  });
  // With lines, every string must hang on one: a string on no line would never be measured.
  if (shape_ok && lines_ok && !bus.lines.empty()) {
    for (std::size_t i = 0; i < plant.strings.size(); ++i) {
      if (line_of_string.count(static_cast<int>(i + 1)) == 0) {
        s.issue("line", fmt::format("string {} (\"{}\") is on no [[bus.line]]", i + 1,
                                    plant.strings[i].name));
      }
    }
  }
  s.finish();
}

}  // namespace equalis::config::detail
