// Logging facade: one place that owns the sink and the level. Categories are logger names
// ("bus", "history", "rest", ...), so a line always says which part of the daemon wrote it.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace equalis::log {

// Returns the logger for a category, creating it on first use (thread-safe).
std::shared_ptr<spdlog::logger> get(const std::string& category);
// "trace" … "off"; unknown names keep the current level and return false.
bool setLevel(const std::string& level);

}  // namespace equalis::log
