#include "events/event.hpp"

#include <array>
#include <cmath>
#include <regex>

#include <fmt/format.h>

namespace equalis::events {

namespace {

std::string numberOrEmpty(int n) {
  return n > 0 ? std::to_string(n) : std::string();
}

std::string optionalNumber(const std::optional<double>& v) {
  return v ? formatNumber(*v) : std::string();
}

}  // namespace

Severity severityOf(const Event& e) {
  if (e.level == "alarm") {
    return Severity::kCritical;
  }
  if (e.level == "warning") {
    return Severity::kWarning;
  }
  if (e.level == "cleared") {
    return Severity::kNotice;
  }
  return Severity::kInformational;
}

std::string formatNumber(double v) {
  if (!std::isfinite(v)) {
    return fmt::format("{}", v);
  }
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0') {
    s.pop_back();
  }
  if (!s.empty() && s.back() == '.') {
    s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string expandTemplate(std::string_view tmpl, const Event& e, std::string_view site) {
  auto field = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "site") {
      return std::string(site);
    }
    if (name == "message") {
      return e.message;
    }
    if (name == "level") {
      return e.level;
    }
    if (name == "rule") {
      return e.rule;
    }
    if (name == "string") {
      return numberOrEmpty(e.string_number);
    }
    if (name == "block") {
      return numberOrEmpty(e.block_number);
    }
    if (name == "value") {
      return optionalNumber(e.value);
    }
    if (name == "threshold") {
      return optionalNumber(e.threshold);
    }
    if (name == "time") {
      return formatIso8601(e.time_ms);
    }
    if (name == "event") {
      return e.event;
    }
    if (name == "key") {
      return e.key;
    }
    if (name == "channel") {
      return e.channel;
    }
    return std::nullopt;
  };
  std::string out;
  out.reserve(tmpl.size() + e.message.size());
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '{') {
      const auto close = tmpl.find('}', i + 1);
      if (close != std::string_view::npos) {
        if (const auto v = field(tmpl.substr(i + 1, close - i - 1))) {
          out += *v;
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return out;
}

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point for the last '*' (linear in practice).
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

}  // namespace equalis::events

namespace equalis::events {

std::string redactSecrets(std::string_view text) {
  static const std::regex user_info(R"(([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@)");
  static const std::regex parameter(
      R"(((?:^|[?&;\s,])[A-Za-z0-9_.-]*(?:token|key|secret|password|passwd|pass|pwd|sig|auth)[A-Za-z0-9_.-]*=)[^&;\s,"']+)",
      std::regex::icase);
  static const std::regex bearer(R"((Bearer\s+)[^\s"']+)", std::regex::icase);
  static const std::regex curl_user(R"(((?:-u|--user)\s+[^\s:]+):\S+)");
  std::string out(text);
  out = std::regex_replace(out, user_info, "$1:***@");
  out = std::regex_replace(out, parameter, "$1***");
  out = std::regex_replace(out, bearer, "$1***");
  out = std::regex_replace(out, curl_user, "$1:***");
  return out;
}

}  // namespace equalis::events
