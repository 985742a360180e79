// Names of I/O channels changed at run time (the settings page, PUT /api/v1/io/channels/{id}/name):
// kept in <data_dir>/io_names.json as {"version": 1, "names": {"aux1.di3": "Battery room door"}}
// and laid over the names of the configuration file. A channel the configuration no longer has
// keeps its entry (it applies again if the channel comes back) but is not shown.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::model {

inline constexpr std::size_t kChannelNameMaxBytes = 64;

// Why `name` cannot be a channel name, or "": 1 … 64 bytes of UTF-8 after trimming, no control
// characters.
std::string channelNameProblem(std::string_view name);
// The name with spaces trimmed at both ends.
std::string trimmedChannelName(std::string_view name);

// The file's names by channel id; an error naming what is wrong (never a partial map).
Result<std::map<std::string, std::string>> parseChannelNamesFile(const std::string& text);
std::string channelNamesFileText(const std::map<std::string, std::string>& names);

}  // namespace equalis::model
