// Parsing of REST request input that comes from outside: query strings, their parameters and the
// JSON body of an output command. Pure functions (no server, no controller), shared by the REST
// server and the fuzz targets (fuzz/).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.hpp"
#include "history/store.hpp"
#include "model/plant.hpp"

namespace equalis::rest {

// Decoded query parameters, as the server sees them (http::QueryParams).
using QueryParams = std::multimap<std::string, std::string>;

// "kind=alarm&string=1" → {kind: alarm, string: 1}, percent-decoded (http::parseQuery).
QueryParams parseQueryString(std::string_view query);

// A bad request parameter: the HTTP status, the parameter's name and why.
struct ParamError {
  int status;
  std::string parameter;
  std::string message;
};

template <class T>
using Parsed = std::variant<T, ParamError>;

// A 1-based index 1…count ("string", "block"): 400 when not an integer, 404 when out of range.
Parsed<int> parseIndex(const std::string& text, const std::string& name, int count);

inline constexpr std::size_t kDefaultLimit = 10000;
inline constexpr std::size_t kMaxLimit = 200000;
inline constexpr DurationMs kDefaultRangeMs = kDayMs;

struct Range {
  TimeMs from_ms;
  TimeMs to_ms;
  std::size_t limit;
};

// from, to (ISO 8601 UTC or epoch ms; default: the day before now) and limit (1…kMaxLimit).
Parsed<Range> parseRange(const QueryParams& params, TimeMs now_ms);

// max_points of a history series (downsampling, docs/api.md): an integer kMinPoints…kMaxPoints.
// Absent: `fallback` (nullopt = no downsampling).
inline constexpr std::size_t kMinPoints = 2;
inline constexpr std::size_t kMaxPoints = 100000;
Parsed<std::optional<std::size_t>> parseMaxPoints(const QueryParams& params,
                                                  std::optional<std::size_t> fallback);

// The filters of GET /api/v1/events and its CSV export: a range and kind, level, string, block,
// q (a case-insensitive substring of the message, at most kMaxEventTextChars characters) and
// offset (0…kMaxEventOffset). The query is newest first: offset skips the newest matches, limit
// keeps the next ones.
inline constexpr std::size_t kMaxEventTextChars = 200;
inline constexpr std::size_t kMaxEventOffset = 100000000;
Parsed<history::EventQuery> parseEventQuery(const QueryParams& params, TimeMs now_ms,
                                            const model::PlantConfig& plant);

// The body of POST /api/v1/io/outputs/{id}: {"on": true|false} or {"pulse_ms": 1…3600000}.
struct OutputCommand {
  std::optional<bool> on;
  std::optional<DurationMs> pulse_ms;
};
struct OutputCommandError {
  std::string parameter;
  std::string message;
};
std::variant<OutputCommand, OutputCommandError> parseOutputCommand(const std::string& body);

}  // namespace equalis::rest
