// Static web assets (the battery status page) compiled into the binary.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace equalis::web {

struct Asset {
  std::string_view path;  // "/index.html"
  const char* data;
  std::size_t size;
  std::string_view content_type;
};

std::span<const Asset> assets();
// "/" maps to "/index.html"; nullptr when unknown.
const Asset* findAsset(std::string_view path);

}  // namespace equalis::web
