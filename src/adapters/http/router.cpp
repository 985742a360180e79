#include "adapters/http/router.hpp"

namespace equalis::http {

namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    const auto slash = path.find('/', i);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > i) {
      out.push_back(path.substr(i, end - i));
    }
    if (slash == std::string_view::npos) {
      break;
    }
    i = slash + 1;
  }
  return out;
}

bool matchSegments(const Route& r, const std::vector<std::string_view>& parts,
                   std::vector<std::string>* captures) {
  std::size_t i = 0;
  for (; i < r.segments.size(); ++i) {
    const auto& seg = r.segments[i];
    if (seg == "**") {
      return true;
    }
    if (i >= parts.size()) {
      return false;
    }
    if (seg == "*") {
      if (captures != nullptr) {
        captures->emplace_back(parts[i]);
      }
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return i == parts.size();
}

}  // namespace

void Router::add(std::string method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  Route r;
  r.method = std::move(method);
  for (auto s : split(pattern)) {
    r.segments.emplace_back(s);
  }
  r.handler = std::move(handler);
  r.options = options;
  routes_.push_back(std::move(r));
}

Router::Match Router::find(std::string_view method, std::string_view path) const {
  Match m;
  const auto parts = split(path);
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  for (const auto& r : routes_) {
    if (r.method != wanted) {
      continue;
    }
    std::vector<std::string> captures{std::string(path)};
    if (matchSegments(r, parts, &captures)) {
      m.route = &r;
      m.matches = std::move(captures);
      return m;
    }
  }
  for (const auto& r : routes_) {
    // A catch-all ("/**") makes every path "exist"; only specific routes count for a 405.
    if (!r.segments.empty() && r.segments.back() == "**") {
      continue;
    }
    if (matchSegments(r, parts, nullptr) && m.allowed.find(r.method) == std::string::npos) {
      m.other_method = true;
      m.allowed += m.allowed.empty() ? r.method : ", " + r.method;
    }
  }
  return m;
}

}  // namespace equalis::http
