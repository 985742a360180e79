#include "adapters/web/assets.hpp"

namespace equalis::web {

const Asset* findAsset(std::string_view path) {
  if (path == "/" || path.empty()) {
    path = "/index.html";
  }
  for (const auto& a : assets()) {
    if (a.path == path) {
      return &a;
    }
  }
  return nullptr;
}

const Asset* findPage(std::string_view path) {
  if (const auto* a = findAsset(path)) {
    return a;
  }
  const auto slash = path.rfind('/');
  const auto last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (path.empty() || path.front() != '/' || last.find('.') != std::string_view::npos) {
    return nullptr;
  }
  return findAsset("/index.html");
}

}  // namespace equalis::web
