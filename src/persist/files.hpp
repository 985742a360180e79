// What the controller keeps in its data directory besides the history store — alarm-rule
// changes made at run time, module self-calibration, Ri baselines and the module map — and how
// it is written:
// a temporary file, fsync, rename over the old one, fsync of the directory. A crash or power cut
// leaves either the old or the new file, never a torn one.
#pragma once

#include <optional>
#include <string>

#include "core/result.hpp"
#include "model/plant.hpp"

namespace equalis::persist {

// Replaces `path` durably (temporary file + fsync + rename + directory fsync).
Status writeFileDurably(const std::string& path, const std::string& text);

// The whole file, std::nullopt when it does not exist; an error when it exists but cannot be read.
Result<std::optional<std::string>> readFile(const std::string& path);

// Where each piece lives in plant.data_dir.
std::string historyPath(const model::PlantConfig& plant);
std::string alarmRulesPath(const model::PlantConfig& plant);
std::string calibrationPath(const model::PlantConfig& plant, std::size_t string_index);
std::string riBaselinePath(const model::PlantConfig& plant, std::size_t string_index);
// The capacity estimates of a string's blocks (analysis/block_capacity.hpp).
std::string capacityPath(const model::PlantConfig& plant, std::size_t string_index);
// The reports of a string's last discharges (analysis/discharge_record.hpp).
std::string dischargeReportsPath(const model::PlantConfig& plant, std::size_t string_index);
// The blocks' hours in band and life used (analysis/hours_in_band.hpp).
std::string bandHoursPath(const model::PlantConfig& plant, std::size_t string_index);
// The blocks' health: Ri at 25 °C, weekly history, capacity, warnings (analysis/health.hpp).
std::string healthPath(const model::PlantConfig& plant, std::size_t string_index);
// The address ↔ serial map of the modules on the bus lines (bus/module_map.hpp).
std::string modulesPath(const model::PlantConfig& plant);
// The names of I/O channels given at run time (model/io_names.hpp).
std::string ioNamesPath(const model::PlantConfig& plant);
// The protocol adapter settings changed at run time (model/protocol_settings.hpp).
std::string protocolsPath(const model::PlantConfig& plant);

}  // namespace equalis::persist
