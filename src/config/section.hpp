// Internal to the configuration loader: issue collection and the Section reader that every
// part of the file goes through, so that each section reports wrong types, ranges and unknown
// keys (with a did-you-mean) the same way. Not part of the config library's interface.
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/text.hpp"

namespace equalis::config::detail {

using text::closest;
using text::joined;
using text::lower;

inline constexpr int kPortMax = 65535;

// ---------------------------------------------------------------------------------------------
// Small helpers

inline std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Number as the user would write it: shortest round-trip form ("600", "2.27").
inline std::string num(double v) {
  return fmt::format("{}", v);
}

// A computed number, rounded for reading (13.620000000000001 → "13.62").
inline std::string rounded(double v) {
  return fmt::format("{:.6g}", v);
}

inline std::string withUnit(const std::string& value, std::string_view unit) {
  return unit.empty() ? value : fmt::format("{} {}", value, unit);
}

inline std::string typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return node.is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// "unknown chemistry "vrla12v" (known: …), did you mean 'vrla-12v'?"
inline std::string unknownName(std::string_view what, std::string_view value,
                               const std::vector<std::string>& known) {
  const auto guess = closest(value, known);
  return fmt::format("unknown {} \"{}\" (known: {}){}", what, value, joined(known),
                     guess ? fmt::format(", did you mean '{}'?", *guess) : "");
}

// Why a "HOST:PORT" listen address is unusable, or nothing if it is fine.
inline std::optional<std::string> listenProblem(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fmt::format("must be HOST:PORT (e.g. \"127.0.0.1:8080\"), got \"{}\"", text);
  }
  const std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.empty()) {
    return fmt::format("host is missing in \"{}\" (use 0.0.0.0 for all interfaces)", text);
  }
  if (host.find_first_of(" \t/") != std::string_view::npos) {
    return fmt::format("\"{}\" is not a host name or IP address", host);
  }
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  const int value = digits ? std::stoi(std::string(port)) : -1;
  if (value < 1 || value > kPortMax) {
    return fmt::format("port must be between 1 and {}, got \"{}\"", kPortMax, port);
  }
  return std::nullopt;
}

// The contents of a secret file without its trailing line break (CR LF or LF); "" when read,
// else what is wrong. At most 64 KiB.
inline std::string readSecretFile(const std::string& path, std::string& content) {
  constexpr std::size_t kMaxSecretBytes = std::size_t{64} * 1024;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fmt::format("cannot read '{}': {}", path, std::strerror(errno));
  }
  content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return fmt::format("cannot read '{}'", path);
  }
  if (content.size() > kMaxSecretBytes) {
    return fmt::format("'{}' is larger than 64 KiB: not a secret", path);
  }
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') {
      content.pop_back();
    }
  }
  if (content.empty()) {
    return fmt::format("'{}' is empty", path);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Issue collection and table reading

struct Located {
  ConfigIssue issue;
  std::uint32_t line = 0;  // 0: no place in the file (sorted last)
  std::uint32_t column = 0;
};

struct Context {
  std::vector<Located> issues;
  std::vector<std::string>* known = nullptr;  // knownKeys(): records every key looked up

  void add(std::string key, std::string message, const toml::source_region& where) {
    issues.push_back(Located{ConfigIssue{std::move(key), std::move(message)}, where.begin.line,
                             where.begin.column});
  }
  void add(std::string key, std::string message, const toml::node* where) {
    add(std::move(key), std::move(message), where ? where->source() : toml::source_region{});
  }
  void record(std::string path) {
    if (known && std::find(known->begin(), known->end(), path) == known->end()) {
      known->push_back(std::move(path));
    }
  }
};

inline const toml::table& emptyTable() {
  static const toml::table empty;
  return empty;
}

// One TOML table being read. Every key looked up is remembered; finish() reports the keys of the
// table that nobody asked for as unknown, with a suggestion where one is plausible.
class Section {
 public:
  Section(Context& ctx, const toml::table& table, std::string path, std::string schema,
          Section* parent, std::string label, const toml::node* anchor = nullptr)
      : ctx_(ctx),
        table_(table),
        path_(std::move(path)),
        schema_(std::move(schema)),
        parent_(parent),
        label_(std::move(label)),
        anchor_(anchor ? anchor : &table_) {}
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  std::string keyPath(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  // The TOML path without array indices ("string.charger"), as knownKeys() lists it.
  std::string schemaPath(std::string_view key) const {
    return schema_.empty() ? std::string(key) : fmt::format("{}.{}", schema_, key);
  }

  // The node of `key` for issue positions; when the key is absent, the table (or, for a table
  // absent from the file, where it would be: its parent's table).
  const toml::node* where(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node ? node : anchor_;
  }

  void issue(std::string_view key, std::string message) {
    ctx_.add(keyPath(key), std::move(message), where(key));
  }

  // Present but rejected (wrong type or out of range).
  bool rejected(std::string_view key) const {
    return std::find(rejected_.begin(), rejected_.end(), key) != rejected_.end();
  }

  std::optional<std::string> string(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* s = node->as_string()) {
      return s->get();
    }
    return wrongType(key, "a string", *node);
  }

  // A credential (docs/configuration.md, "Secrets"): `KEY = "…"` in this file, or
  // `KEY_file = "/path"` (the file's contents without a trailing line break; keep it readable by
  // the daemon's user only) or `KEY_env = "NAME"` (the daemon's environment variable NAME). At
  // most one of the three; a file that cannot be read or a variable that is not set is an issue
  // on the key that names it.
  std::optional<std::string> secret(std::string_view key) {
    const std::string file_key = fmt::format("{}_file", key);
    const std::string env_key = fmt::format("{}_env", key);
    auto inline_value = string(key);
    const auto file = string(file_key);
    const auto env = string(env_key);
    const int given = (table_.contains(key) ? 1 : 0) + (table_.contains(file_key) ? 1 : 0) +
                      (table_.contains(env_key) ? 1 : 0);
    if (given > 1) {
      return reject(key,
                    fmt::format("give one of {}, {} and {}, not several", key, file_key, env_key));
    }
    if (file) {
      std::string content;
      if (const auto problem = readSecretFile(*file, content); !problem.empty()) {
        rejected_.emplace_back(key);
        return reject(file_key, problem);
      }
      return content;
    }
    if (env) {
      const char* value = std::getenv(env->c_str());  // NOLINT(concurrency-mt-unsafe): at start
      if (env->empty() || value == nullptr) {
        rejected_.emplace_back(key);
        return reject(env_key, fmt::format("environment variable '{}' is not set", *env));
      }
      return std::string(value);
    }
    return inline_value;
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* b = node->as_boolean()) {
      return b->get();
    }
    return wrongType(key, "a boolean (true or false)", *node);
  }

  // Any finite number; integers are accepted for numbers ("capacity_ah = 100").
  std::optional<double> number(std::string_view key, std::string_view unit) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    double v = 0.0;
    if (const auto* f = node->as_floating_point()) {
      v = f->get();
    } else if (const auto* i = node->as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      return wrongType(key, unit.empty() ? "a number" : fmt::format("a number ({})", unit), *node);
    }
    if (!std::isfinite(v)) {
      return reject(key, fmt::format("must be a finite number, got {}", num(v)));
    }
    return v;
  }

  std::optional<double> number(std::string_view key, double min, double max,
                               std::string_view unit) {
    const auto v = number(key, unit);
    if (v && !(*v >= min && *v <= max)) {
      return reject(key, fmt::format("must be between {} and {}, got {}", num(min),
                                     withUnit(num(max), unit), num(*v)));
    }
    return v;
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      std::string_view unit = {}) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto* i = node->as_integer();
    if (i == nullptr) {
      return wrongType(key, unit.empty() ? "an integer" : fmt::format("an integer ({})", unit),
                       *node);
    }
    const std::int64_t v = i->get();
    if (v < min || v > max) {
      return reject(key, fmt::format("must be between {} and {}, got {}", min,
                                     withUnit(std::to_string(max), unit), v));
    }
    return v;
  }

  // A sub-table [path.key]; when absent (or not a table) it reads as empty, so that every key
  // gets its default.
  Section child(std::string_view key) {
    const toml::node* node = lookup(key);
    const toml::table* table = node ? node->as_table() : nullptr;
    if (node != nullptr && table == nullptr) {
      wrongType(key, "a table", *node);
    }
    const std::string schema =
        schema_.empty() ? std::string(key) : fmt::format("{}.{}", schema_, key);
    return Section(ctx_, table ? *table : emptyTable(), keyPath(key), schema, this,
                   fmt::format("[{}]", schema), table ? table : where(key));
  }

  // Looks up a key without reading it (the caller handles its type); remembers it as known.
  const toml::node* lookup(std::string_view key) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      known_.emplace_back(key);
    }
    ctx_.record(schema_.empty() ? std::string(key) : fmt::format("{}.{}", schema_, key));
    return table_.get(key);
  }

  std::nullopt_t wrongType(std::string_view key, std::string_view expected, const toml::node& got) {
    return reject(key, fmt::format("expected {}, got {}", expected, typeName(got)));
  }

  std::nullopt_t reject(std::string_view key, std::string message) {
    rejected_.emplace_back(key);
    issue(key, std::move(message));
    return std::nullopt;
  }

  // Reports the keys nobody looked up. Call after all reads, children first.
  void finish() {
    for (auto&& [key, node] : table_) {
      const std::string_view name = key.str();
      if (std::find(known_.begin(), known_.end(), name) != known_.end()) {
        continue;
      }
      ctx_.add(keyPath(name), unknownMessage(name, node), key.source());
    }
    if (parent_ != nullptr) {
      auto& siblings = parent_->children_;
      const bool listed = std::any_of(siblings.begin(), siblings.end(),
                                      [&](const auto& c) { return c.first == label_; });
      if (!listed) {
        siblings.emplace_back(label_, known_);
      }
    }
  }

 private:
  std::string unknownMessage(std::string_view name, const toml::node& node) const {
    const std::string what = node.is_table() ? "unknown section" : "unknown key";
    if (const auto here = closest(name, known_)) {
      return fmt::format("{}, did you mean '{}'?", what, *here);
    }
    for (const auto& [label, keys] : children_) {
      if (const auto there = closest(name, keys)) {
        if (lower(*there) == lower(name)) {
          return fmt::format("{}, '{}' belongs in {}", what, *there, label);
        }
        return fmt::format("{}, did you mean '{}' in {}?", what, *there, label);
      }
    }
    return fmt::format("{} (known here: {})", what, joined(known_));
  }

  Context& ctx_;
  const toml::table& table_;
  std::string path_;    // issue path: "strings[2].charger"
  std::string schema_;  // TOML path without indices: "string.charger"
  Section* parent_;
  std::string label_;         // how the user writes the section header: "[string.charger]"
  const toml::node* anchor_;  // issue position of absent keys
  std::vector<std::string> known_;
  std::vector<std::string> rejected_;
  std::vector<std::pair<std::string, std::vector<std::string>>> children_;
};

inline DurationMs toMs(double seconds) {
  return static_cast<DurationMs>(std::llround(seconds * 1000.0));
}

// Reads an array of tables [[path.key]] element by element: `read` gets a Section for each table
// and its 1-based index (issues name "path.key[N]"). Anything else than an array of tables is
// reported once. Returns false when the key is present but unusable.
inline bool forEachTable(Context& ctx, Section& parent, std::string_view key,
                         const std::function<void(Section&, int)>& read) {
  const toml::node* node = parent.lookup(key);
  if (node == nullptr) {
    return true;
  }
  const std::string path = parent.keyPath(key);
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    parent.reject(
        key, fmt::format("expected an array of tables ([[{}]]), got {}", path, typeName(*node)));
    return false;
  }
  int index = 0;
  bool ok = true;
  for (const toml::node& element : *array) {
    ++index;
    const std::string element_path = fmt::format("{}[{}]", path, index);
    const toml::table* table = element.as_table();
    if (table == nullptr) {
      ctx.add(element_path, fmt::format("expected a table, got {}", typeName(element)), &element);
      ok = false;
      continue;
    }
    Section s(ctx, *table, element_path, parent.schemaPath(key), &parent,
              fmt::format("[[{}]]", parent.schemaPath(key)));
    read(s, index);
    s.finish();
  }
  return ok;
}

}  // namespace equalis::config::detail
