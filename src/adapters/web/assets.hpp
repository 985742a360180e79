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
// The scenario files of scenarios/, by path "/NAME.toml".
std::span<const Asset> scenarioFiles();
// "/" maps to "/index.html"; nullptr when unknown.
const Asset* findAsset(std::string_view path);

}  // namespace equalis::web
