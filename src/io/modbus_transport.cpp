// Modbus TCP/RTU client with libmodbus: one context per device, response timeout from the
// configuration, closed on any link error and reopened by the poll loop (hub.cpp).
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <modbus.h>

#include "io/convert.hpp"
#include "io/transport.hpp"

namespace equalis::io {

namespace {

// Exception responses (the device is there but refuses this request): the channel's problem.
bool isExceptionErrno(int err) {
  return err >= EMBXILFUN && err <= EMBXGTAR;
}

class ModbusTransport final : public Transport {
 public:
  explicit ModbusTransport(model::IoDeviceConfig device) : device_(std::move(device)) {}
  ~ModbusTransport() override { close(); }
  ModbusTransport(const ModbusTransport&) = delete;
  ModbusTransport& operator=(const ModbusTransport&) = delete;

  Status open() override {
    close();
    if (device_.transport == model::IoTransport::kModbusTcp) {
      const auto colon = device_.address.rfind(':');
      const std::string host = device_.address.substr(0, colon);
      const std::string port = device_.address.substr(colon + 1);
      ctx_ = modbus_new_tcp_pi(host.c_str(), port.c_str());
    } else {
      ctx_ = modbus_new_rtu(device_.address.c_str(), device_.baud, device_.parity, 8, 1);
    }
    if (ctx_ == nullptr) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: cannot create the Modbus context: {}", endpoint(),
                                   modbus_strerror(errno)));
    }
    const auto timeout_ms = static_cast<std::uint32_t>(device_.timeout_ms);
    modbus_set_response_timeout(ctx_, timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    modbus_set_byte_timeout(ctx_, timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    modbus_set_slave(ctx_, device_.unit_id);
    if (modbus_connect(ctx_) != 0) {
      const int err = errno;
      close();
      return makeError(ErrorCode::kUnavailable,
                       fmt::format("{}: cannot connect: {}", endpoint(), modbus_strerror(err)));
    }
    return {};
  }

  void close() override {
    if (ctx_ != nullptr) {
      modbus_close(ctx_);
      modbus_free(ctx_);
      ctx_ = nullptr;
    }
  }

  bool isOpen() const override { return ctx_ != nullptr; }

  Result<double> read(const model::IoChannelConfig& c) override {
    if (ctx_ == nullptr || !c.reg) {
      return makeError(ErrorCode::kUnavailable, "not connected");
    }
    const auto& r = *c.reg;
    int rc = -1;
    double value = 0.0;
    switch (r.table) {
      case model::RegisterTable::kCoil:
      case model::RegisterTable::kDiscrete: {
        std::uint8_t bit = 0;
        rc = r.table == model::RegisterTable::kCoil
                 ? modbus_read_bits(ctx_, r.address, 1, &bit)
                 : modbus_read_input_bits(ctx_, r.address, 1, &bit);
        value = bit != 0 ? 1.0 : 0.0;
        break;
      }
      case model::RegisterTable::kHolding:
      case model::RegisterTable::kInput: {
        std::uint16_t words[2] = {0, 0};
        rc = r.table == model::RegisterTable::kHolding
                 ? modbus_read_registers(ctx_, r.address, r.words, words)
                 : modbus_read_input_registers(ctx_, r.address, r.words, words);
        value = decodeRegisters(r, std::span<const std::uint16_t>(words, 2));
        break;
      }
    }
    if (rc < 0) {
      return failure(fmt::format("read {} {}", model::registerTableName(r.table), r.address));
    }
    return value;
  }

  Status write(const model::IoChannelConfig& c, bool wire) override {
    if (ctx_ == nullptr || !c.reg) {
      return makeError(ErrorCode::kUnavailable, "not connected");
    }
    const auto& r = *c.reg;
    const int rc = r.table == model::RegisterTable::kCoil
                       ? modbus_write_bit(ctx_, r.address, wire ? 1 : 0)
                       : modbus_write_register(ctx_, r.address, wire ? 1 : 0);
    if (rc < 0) {
      return failure(fmt::format("write {} {}", model::registerTableName(r.table), r.address))
          .error();
    }
    return {};
  }

  std::string endpoint() const override {
    if (device_.transport == model::IoTransport::kModbusTcp) {
      return fmt::format("modbus_tcp {} unit {}", device_.address, device_.unit_id);
    }
    return fmt::format("modbus_rtu {} {} {} unit {}", device_.address, device_.baud, device_.parity,
                       device_.unit_id);
  }

 private:
  Result<double> failure(const std::string& what) {
    const int err = errno;
    if (isExceptionErrno(err)) {
      return makeError(ErrorCode::kProtocol, fmt::format("{}: {}", what, modbus_strerror(err)));
    }
    // Timeout, reset, bad frame: the link is no longer trustworthy.
    const std::string message = fmt::format("{}: {}", what, modbus_strerror(err));
    close();
    return makeError(err == ETIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kIo, message);
  }

  model::IoDeviceConfig device_;
  modbus_t* ctx_ = nullptr;
};

}  // namespace

std::unique_ptr<Transport> makeModbusTransport(const model::IoDeviceConfig& device) {
  return std::make_unique<ModbusTransport>(device);
}

}  // namespace equalis::io
