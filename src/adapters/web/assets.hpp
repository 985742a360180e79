// Static web assets (the web application's build) compiled into the binary.
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
// What GET `path` serves outside the API: the asset of that path, else, for a path of the web
// application (one whose last segment has no '.', e.g. /strings/1/blocks/7), index.html, whose
// script shows the page (or "not found"); nullptr for any other path.
const Asset* findPage(std::string_view path);

}  // namespace equalis::web
