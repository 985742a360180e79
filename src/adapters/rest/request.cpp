#include "adapters/rest/request.hpp"

#include "adapters/http/message.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace equalis::rest {

namespace {

constexpr DurationMs kMaxPulseMs = kHourMs;

bool has(const QueryParams& params, const std::string& key) {
  return params.count(key) != 0;
}

// The first value of `key` (as httplib::Request::get_param_value), empty when absent.
std::string value(const QueryParams& params, const std::string& key) {
  const auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

}  // namespace

QueryParams parseQueryString(std::string_view query) {
  return http::parseQuery(query);
}

Parsed<int> parseIndex(const std::string& text, const std::string& name, int count) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return ParamError{400, name,
                      fmt::format("{} must be a positive integer, got '{}'", name, text)};
  }
  if (v < 1 || v > count) {
    return ParamError{404, name, fmt::format("{} {} does not exist (1…{})", name, v, count)};
  }
  return v;
}

Parsed<Range> parseRange(const QueryParams& params, TimeMs now_ms) {
  Range r{now_ms - kDefaultRangeMs, now_ms, kDefaultLimit};
  if (has(params, "to") && !parseTime(value(params, "to"), r.to_ms)) {
    return ParamError{400, "to",
                      "to must be an ISO 8601 UTC time (2026-01-01T00:00:00Z) or epoch "
                      "milliseconds, got '" +
                          value(params, "to") + "'"};
  }
  if (has(params, "from")) {
    if (!parseTime(value(params, "from"), r.from_ms)) {
      return ParamError{400, "from",
                        "from must be an ISO 8601 UTC time (2026-01-01T00:00:00Z) or epoch "
                        "milliseconds, got '" +
                            value(params, "from") + "'"};
    }
  } else {
    r.from_ms = r.to_ms - kDefaultRangeMs;
  }
  if (r.from_ms > r.to_ms) {
    return ParamError{400, "from", "from must not be later than to"};
  }
  if (has(params, "limit")) {
    const auto text = value(params, "limit");
    std::size_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v < 1 || v > kMaxLimit) {
      return ParamError{400, "limit",
                        fmt::format("limit must be an integer 1…{}, got '{}'", kMaxLimit, text)};
    }
    r.limit = v;
  }
  return r;
}

Parsed<std::optional<std::size_t>> parseMaxPoints(const QueryParams& params,
                                                  std::optional<std::size_t> fallback) {
  if (!has(params, "max_points")) {
    return fallback;
  }
  const auto text = value(params, "max_points");
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < kMinPoints || v > kMaxPoints) {
    return ParamError{
        400, "max_points",
        fmt::format("max_points must be an integer {}…{}, got '{}'", kMinPoints, kMaxPoints, text)};
  }
  return std::optional<std::size_t>(v);
}

Parsed<history::EventQuery> parseEventQuery(const QueryParams& params, TimeMs now_ms,
                                            const model::PlantConfig& plant) {
  const auto range = parseRange(params, now_ms);
  if (const auto* e = std::get_if<ParamError>(&range)) {
    return *e;
  }
  const auto& rg = std::get<Range>(range);
  history::EventQuery q;
  q.from_ms = rg.from_ms;
  q.to_ms = rg.to_ms;
  q.limit = rg.limit;
  if (has(params, "kind")) {
    q.kind = value(params, "kind");
    const bool word = !q.kind.empty() && q.kind.size() <= 32 &&
                      std::all_of(q.kind.begin(), q.kind.end(), [](unsigned char c) {
                        return std::islower(c) != 0 || c == '_' || c == '-';
                      });
    if (!word) {
      return ParamError{400, "kind",
                        fmt::format("kind must be an event kind such as alarm, protection, mode, "
                                    "system, scenario, io, delivery; got '{}'",
                                    q.kind)};
    }
  }
  if (has(params, "level")) {
    q.level = value(params, "level");
    if (q.level != "warning" && q.level != "alarm" && q.level != "none") {
      return ParamError{400, "level",
                        fmt::format("level must be warning, alarm or none, got '{}'", q.level)};
    }
  }
  const int string_count = static_cast<int>(plant.strings.size());
  if (has(params, "string")) {
    const auto si = parseIndex(value(params, "string"), "string", string_count);
    if (const auto* e = std::get_if<ParamError>(&si)) {
      return *e;
    }
    q.string_number = std::get<int>(si);
  }
  if (has(params, "block")) {
    if (q.string_number == 0) {
      return ParamError{400, "block", "block needs string (blocks are numbered per string)"};
    }
    const auto bi =
        parseIndex(value(params, "block"), "block",
                   plant.strings[static_cast<std::size_t>(q.string_number - 1)].block_count);
    if (const auto* e = std::get_if<ParamError>(&bi)) {
      return *e;
    }
    q.block_number = std::get<int>(bi);
  }
  if (has(params, "q")) {
    q.text = value(params, "q");
    // Characters, not bytes (the query is UTF-8: the server refuses anything else).
    const auto chars =
        static_cast<std::size_t>(std::count_if(q.text.begin(), q.text.end(), [](char c) {
          return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
    if (chars > kMaxEventTextChars) {
      return ParamError{
          400, "q",
          fmt::format("q must be at most {} characters, got {}", kMaxEventTextChars, chars)};
    }
  }
  if (has(params, "offset")) {
    const auto text = value(params, "offset");
    std::size_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v > kMaxEventOffset) {
      return ParamError{
          400, "offset",
          fmt::format("offset must be an integer 0…{}, got '{}'", kMaxEventOffset, text)};
    }
    q.offset = v;
  }
  q.newest_first = true;
  return q;
}

std::variant<OutputCommand, OutputCommandError> parseOutputCommand(const std::string& body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return OutputCommandError{"body",
                              "body must be a JSON object: {\"on\": true} or {\"pulse_ms\": 500}"};
  }
  OutputCommand cmd;
  for (const auto& [key, value] : parsed.items()) {
    if (key == "on") {
      if (!value.is_boolean()) {
        return OutputCommandError{"on",
                                  fmt::format("on must be true or false, got {}", value.dump())};
      }
      cmd.on = value.get<bool>();
    } else if (key == "pulse_ms") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > kMaxPulseMs) {
        return OutputCommandError{
            "pulse_ms",
            fmt::format("pulse_ms must be an integer 1…{}, got {}", kMaxPulseMs, value.dump())};
      }
      cmd.pulse_ms = value.get<std::int64_t>();
    } else {
      return OutputCommandError{
          key, fmt::format("unknown parameter '{}' (use \"on\" or \"pulse_ms\")", key)};
    }
  }
  if (cmd.on && cmd.pulse_ms) {
    return OutputCommandError{"pulse_ms", "give either on or pulse_ms, not both"};
  }
  if (!cmd.on && !cmd.pulse_ms) {
    return OutputCommandError{"on", "on (true/false) or pulse_ms (1…3600000) is required"};
  }
  return cmd;
}

}  // namespace equalis::rest
