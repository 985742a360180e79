// Hours in band (docs/analysis.md, "Hours in band"): per block, the time spent in each temperature
// band and in each band of voltage against the charger's target, and the float life that the
// temperatures have used.
//
//  * Temperature bands (°C): below 10, 10–15, 15–20, 20–25, 25–30, 30–35, 35–40, 40–45, 45 and
//    above (kTemperatureEdgesC).
//  * Voltage bands, the block's voltage per cell against the temperature-compensated target
//    (mV/cell): below −150 (discharged), −150…−50, −50…−20 (under), −20…+20 (on target),
//    +20…+50, +50 and above (over) (kVoltageEdgesMvPerCell). In any mode: a discharge shows as
//    time far below the target.
//  * Life used: the float life at 25 °C halves per kHalvingK of temperature (IEEE 1188's rule of
//    thumb; Battery University BU-806a: a 10-year VRLA lasts 5 years at 33 °C; battery-science.md
//    §2.6), so each second at T counts 2^((T − 25 °C) / 8 K) seconds of life at 25 °C; life used =
//    that sum over the chemistry's design life at 25 °C (designLifeYears). It counts what the
//    controller has seen, from when it began to monitor the block.
// A sweep counts the time since the block's previous reading, at most kMaxGapMs (a gap in the
// readings is not counted in any band).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {

// Design float life at 25 °C, years: 12 V VRLA 10 (BU, battery-science.md §6.4), 2 V VRLA 15 and
// vented 2 V 20 (ibid.: 15–20 y), LiFePO4 15 and NiCd 20 [G].
double designLifeYears(model::Chemistry c);

class BandHours {
 public:
  static constexpr std::array<double, 8> kTemperatureEdgesC{10, 15, 20, 25, 30, 35, 40, 45};
  static constexpr std::array<double, 5> kVoltageEdgesMvPerCell{-150, -50, -20, 20, 50};
  static constexpr std::size_t kTemperatureBands = kTemperatureEdgesC.size() + 1;
  static constexpr std::size_t kVoltageBands = kVoltageEdgesMvPerCell.size() + 1;
  static constexpr double kHalvingK = 8.0;
  static constexpr DurationMs kMaxGapMs = 10 * kMinuteMs;

  struct Block {
    std::array<double, kTemperatureBands> temperature_s{};
    std::array<double, kVoltageBands> voltage_s{};
    double observed_s = 0.0;  // time with a temperature reading
    double life_25c_s = 0.0;  // that time weighted by the Arrhenius factor
    TimeMs last_ms = 0;       // the last reading (0: none yet)
  };

  BandHours(std::size_t blocks, model::Chemistry chemistry);

  // One sweep: each block's voltage and temperature (NaN: no reading) and the target voltage per
  // block (NaN: none; the voltage bands are then not counted).
  void update(TimeMs t_ms, std::span<const double> voltage_v, std::span<const double> temperature_c,
              double target_v_per_block);

  const std::vector<Block>& blocks() const { return blocks_; }
  std::size_t blockCount() const { return blocks_.size(); }
  model::Chemistry chemistry() const { return chemistry_; }
  // % of the design life at 25 °C used by the time observed.
  double lifeUsedPct(std::size_t b) const;
  // The mean ageing rate against 25 °C over the time observed (1: as at 25 °C); NaN before any.
  double ageingFactor(std::size_t b) const;

  // What survives a restart, as JSON: {"format":"equalis-hours-in-band","version":1,
  //  "chemistry":"vrla-12v","time_ms":…,"blocks":[{"t":[…9 s],"v":[…6 s],"observed_s":…,
  //  "life_25c_s":…}]} (time_ms: when it was written).
  std::string serialize(TimeMs as_of_ms) const;
  static Result<BandHours> deserialize(std::string_view text, std::size_t blocks,
                                       model::Chemistry chemistry);
  // The same, taking the block count and chemistry from the text (a backup's check).
  static Result<BandHours> deserialize(std::string_view text);

 private:
  model::Chemistry chemistry_;
  int cells_;
  std::vector<Block> blocks_;
};

}  // namespace equalis::analysis
