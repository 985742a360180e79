// The address ↔ serial map of a plant's modules (docs/module-bus.md §11.2): what each block's
// module said it is the last time it was read (READ_INFO), kept by equalisd in modules.json in
// its data directory. Comparing a fresh read with the stored entry tells a replaced module (same
// place, another serial) from a firmware update or a configuration that moved the block to
// another address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "core/result.hpp"

namespace equalis::bus {

class ModuleMap {
 public:
  // The plant's layout: blocks per string.
  explicit ModuleMap(const std::vector<std::size_t>& blocks_per_string);

  struct Change {
    enum class Kind {
      kNew,       // nothing stored for this block yet
      kSame,      // same address and serial (firmware unchanged)
      kFirmware,  // same module, another firmware version
      kReplaced,  // same address, another serial: the module was swapped
      kMoved,     // another address (the configuration changed): recorded, not a replacement
    };
    Kind kind = Kind::kNew;
    std::optional<ModuleIdentity> before;
    ModuleIdentity now;
  };

  // Records a module read on the bus and says what changed against the stored entry. The
  // entry keeps since_ms of the stored one while the module is the same. Blocks outside the
  // layout are ignored (kSame, nothing stored).
  Change update(const ModuleIdentity& read);
  const std::optional<ModuleIdentity>& at(std::size_t string_index, std::size_t block_index) const;
  // Every known entry, string by string, block by block.
  std::vector<ModuleIdentity> entries() const;
  std::size_t known() const;

  // JSON text of modules.json ({"format": "equalis-modules 1", "modules": [...]}).
  std::string serialize() const;
  // Reads modules.json; entries of blocks outside the layout are dropped (the configuration
  // changed). An error for text that is not such a file.
  static Result<ModuleMap> parse(const std::string& text,
                                 const std::vector<std::size_t>& blocks_per_string);

 private:
  std::vector<std::vector<std::optional<ModuleIdentity>>> modules_;  // [string][block]
};

const char* changeKindName(ModuleMap::Change::Kind kind);

}  // namespace equalis::bus
