#include "adapters/http/message.hpp"

#include <algorithm>
#include <cctype>

#include "core/text.hpp"

namespace equalis::http {

std::string percentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = equalis::text::hexDigit(text[i + 1]);
      const int lo = equalis::text::hexDigit(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

QueryParams parseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    const auto eq = part.find('=');
    std::string key = percentDecode(part.substr(0, eq), true);
    if (key.empty()) {
      continue;
    }
    std::string value =
        eq == std::string_view::npos ? std::string() : percentDecode(part.substr(eq + 1), true);
    params.emplace(std::move(key), std::move(value));
  }
  return params;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (equalsIgnoreCase(h.name, name)) {
      return h.value;
    }
  }
  return {};
}

bool Request::hasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const Header& h) { return equalsIgnoreCase(h.name, name); });
}

bool Request::hasParam(const std::string& key) const {
  return params.count(key) != 0;
}

std::string Request::param(const std::string& key) const {
  const auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

void Response::setHeader(std::string name, std::string value) {
  for (auto& h : headers) {
    if (equalsIgnoreCase(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
}

void Response::setContent(std::string text, std::string type) {
  body = std::move(text);
  shared_body.reset();
  content_type = std::move(type);
}

void Response::setShared(std::shared_ptr<const std::string> bytes, std::string type) {
  shared_body = std::move(bytes);
  body.clear();
  content_type = std::move(type);
}

std::string_view Response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (equalsIgnoreCase(h.name, name)) {
      return h.value;
    }
  }
  return {};
}

}  // namespace equalis::http
