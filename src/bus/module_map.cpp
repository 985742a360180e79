#include "bus/module_map.hpp"

#include <nlohmann/json.hpp>

#include "bus/commissioning.hpp"

namespace equalis::bus {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "equalis-modules 1";

Result<std::uint8_t> parseFirmwarePart(const std::string& text, std::size_t& pos) {
  std::size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(text.substr(pos), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || v > 255) {
    return makeError(ErrorCode::kInvalidArgument, "firmware '" + text + "' is not X.Y.Z");
  }
  pos += used;
  return static_cast<std::uint8_t>(v);
}

Status parseFirmware(const std::string& text, ModuleIdentity& m) {
  std::size_t pos = 0;
  std::uint8_t* parts[] = {&m.firmware_major, &m.firmware_minor, &m.firmware_patch};
  for (std::size_t k = 0; k < 3; ++k) {
    if (k > 0) {
      if (pos >= text.size() || text[pos] != '.') {
        return makeError(ErrorCode::kInvalidArgument, "firmware '" + text + "' is not X.Y.Z");
      }
      ++pos;
    }
    auto v = parseFirmwarePart(text, pos);
    if (!v) {
      return v.error();
    }
    *parts[k] = *v;
  }
  if (pos != text.size()) {
    return makeError(ErrorCode::kInvalidArgument, "firmware '" + text + "' is not X.Y.Z");
  }
  return {};
}

}  // namespace

const char* changeKindName(ModuleMap::Change::Kind kind) {
  switch (kind) {
    case ModuleMap::Change::Kind::kNew:
      return "new";
    case ModuleMap::Change::Kind::kSame:
      return "same";
    case ModuleMap::Change::Kind::kFirmware:
      return "firmware";
    case ModuleMap::Change::Kind::kReplaced:
      return "replaced";
    case ModuleMap::Change::Kind::kMoved:
      return "moved";
  }
  return "?";
}

ModuleMap::ModuleMap(const std::vector<std::size_t>& blocks_per_string) {
  modules_.reserve(blocks_per_string.size());
  for (const auto n : blocks_per_string) {
    modules_.emplace_back(n);
  }
}

ModuleMap::Change ModuleMap::update(const ModuleIdentity& read) {
  Change c;
  c.now = read;
  if (read.string_index >= modules_.size() ||
      read.block_index >= modules_[read.string_index].size()) {
    c.kind = Change::Kind::kSame;
    return c;
  }
  auto& slot = modules_[read.string_index][read.block_index];
  c.before = slot;
  if (!slot) {
    c.kind = Change::Kind::kNew;
  } else if (slot->address != read.address) {
    c.kind = Change::Kind::kMoved;
  } else if (slot->serial != read.serial) {
    c.kind = Change::Kind::kReplaced;
  } else {
    c.now.since_ms = slot->since_ms;
    const bool same_firmware = slot->firmware_major == read.firmware_major &&
                               slot->firmware_minor == read.firmware_minor &&
                               slot->firmware_patch == read.firmware_patch;
    c.kind = same_firmware && slot->device_type == read.device_type ? Change::Kind::kSame
                                                                    : Change::Kind::kFirmware;
  }
  slot = c.now;
  return c;
}

const std::optional<ModuleIdentity>& ModuleMap::at(std::size_t string_index,
                                                   std::size_t block_index) const {
  static const std::optional<ModuleIdentity> none;
  if (string_index >= modules_.size() || block_index >= modules_[string_index].size()) {
    return none;
  }
  return modules_[string_index][block_index];
}

std::vector<ModuleIdentity> ModuleMap::entries() const {
  std::vector<ModuleIdentity> out;
  for (const auto& string : modules_) {
    for (const auto& m : string) {
      if (m) {
        out.push_back(*m);
      }
    }
  }
  return out;
}

std::size_t ModuleMap::known() const {
  std::size_t n = 0;
  for (const auto& string : modules_) {
    for (const auto& m : string) {
      n += m ? 1 : 0;
    }
  }
  return n;
}

std::string ModuleMap::serialize() const {
  json list = json::array();
  for (const auto& m : entries()) {
    list.push_back(json{{"string", m.string_index + 1},
                        {"block", m.block_index + 1},
                        {"address", m.address},
                        {"serial", formatSerial(m.serial)},
                        {"firmware", m.firmware()},
                        {"device_type", m.device_type},
                        {"line", m.line},
                        {"since_ms", m.since_ms}});
  }
  return json{{"format", kFormat}, {"modules", std::move(list)}}.dump(1) + "\n";
}

Result<ModuleMap> ModuleMap::parse(const std::string& text,
                                   const std::vector<std::size_t>& blocks_per_string) {
  const auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != kFormat || !j.contains("modules") ||
      !j["modules"].is_array()) {
    return makeError(ErrorCode::kProtocol, std::string("not a module map (") + kFormat + ")");
  }
  ModuleMap map(blocks_per_string);
  std::size_t k = 0;
  for (const auto& e : j["modules"]) {
    ++k;
    const auto bad = [k](const std::string& why) {
      return makeError(ErrorCode::kProtocol, "module map entry " + std::to_string(k) + ": " + why);
    };
    if (!e.is_object() || !e.contains("string") || !e["string"].is_number_unsigned() ||
        !e.contains("block") || !e["block"].is_number_unsigned() || !e.contains("address") ||
        !e["address"].is_number_unsigned() || !e.contains("serial") || !e["serial"].is_string()) {
      return bad("needs string, block, address (numbers) and serial (text)");
    }
    ModuleIdentity m;
    const auto string_no = e["string"].get<std::uint64_t>();
    const auto block_no = e["block"].get<std::uint64_t>();
    const auto address = e["address"].get<std::uint64_t>();
    if (string_no < 1 || block_no < 1 || address < 1 || address > 0xFFFD) {
      return bad("string, block and address start at 1 (address ≤ 0xFFFD)");
    }
    m.string_index = static_cast<std::size_t>(string_no - 1);
    m.block_index = static_cast<std::size_t>(block_no - 1);
    m.address = static_cast<std::uint16_t>(address);
    auto serial = parseSerial(e["serial"].get<std::string>());
    if (!serial) {
      return bad(serial.error().message);
    }
    m.serial = *serial;
    if (e.contains("firmware") && e["firmware"].is_string()) {
      if (auto st = parseFirmware(e["firmware"].get<std::string>(), m); !st) {
        return bad(st.error().message);
      }
    }
    if (e.contains("device_type") && e["device_type"].is_number_unsigned()) {
      m.device_type = static_cast<std::uint8_t>(e["device_type"].get<std::uint64_t>() & 0xFF);
    }
    if (e.contains("line") && e["line"].is_string()) {
      m.line = e["line"].get<std::string>();
    }
    if (e.contains("since_ms") && e["since_ms"].is_number_integer()) {
      m.since_ms = e["since_ms"].get<TimeMs>();
    }
    if (m.string_index < map.modules_.size() &&
        m.block_index < map.modules_[m.string_index].size()) {
      map.modules_[m.string_index][m.block_index] = m;
    }
  }
  return map;
}

}  // namespace equalis::bus
