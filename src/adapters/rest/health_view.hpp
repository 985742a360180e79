// GET /api/v1/strings/{n}/health and /api/v1/strings/{n}/blocks/{b}/health (docs/api.md,
// "Health"): each block's state of health with its components, trends, remaining life and
// warning, the string's summary and its replacement list, from the controller's last hourly
// assessment (analysis/health.hpp).
#pragma once

#include <cstddef>
#include <string>

#include "analysis/health.hpp"
#include "core/clock.hpp"

namespace equalis::rest {

// The string's document: summary, replacement list, every block (no weekly history).
std::string healthDocument(const analysis::HealthTracker& h, int string_index, TimeMs now_ms);
// One block with its weekly history (oldest first).
std::string blockHealthDocument(const analysis::HealthTracker& h, int string_index,
                                std::size_t block_index, TimeMs now_ms);

}  // namespace equalis::rest
