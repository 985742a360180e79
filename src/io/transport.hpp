// A connection to one real I/O device: Modbus TCP, Modbus RTU (libmodbus) or a Linux GPIO chip
// (libgpiod 1.6). Used from the device's own poll thread only (see hub.hpp).
#pragma once

#include <memory>
#include <string>

#include "core/result.hpp"
#include "model/io.hpp"

namespace equalis::io {

class Transport {
 public:
  virtual ~Transport() = default;
  // Connects (Modbus) or requests the lines (GPIO). Errors name the device and the cause.
  virtual Status open() = 0;
  virtual void close() = 0;
  virtual bool isOpen() const = 0;
  // The channel's raw value: the decoded register(s), or the bit on the wire (0/1, before
  // active-low). ErrorCode::kProtocol: the device answered with an exception for this channel
  // (illegal address …), the link is fine; any other error means the link is lost.
  virtual Result<double> read(const model::IoChannelConfig& channel) = 0;
  // Drives an output to `wire` (the level on the wire, after active-low).
  virtual Status write(const model::IoChannelConfig& channel, bool wire) = 0;
  // "modbus_tcp 127.0.0.1:1502 unit 1", "gpio gpiochip0".
  virtual std::string endpoint() const = 0;
};

// For a device whose transport is modbus_tcp or modbus_rtu.
std::unique_ptr<Transport> makeModbusTransport(const model::IoDeviceConfig& device);
// For a device whose transport is gpio.
std::unique_ptr<Transport> makeGpioTransport(const model::IoDeviceConfig& device);

}  // namespace equalis::io
