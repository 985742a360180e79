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

}  // namespace equalis::web
