// Linux GPIO character device through libgpiod 1.6 (Debian 12's libgpiod-dev): one chip per
// device, each channel one line offset; digital inputs and relays only. Active-low is applied by
// the hub (the same way for every transport), so the lines are requested without the flag.
#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <gpiod.h>

#include "io/transport.hpp"

namespace equalis::io {

namespace {

constexpr const char* kConsumer = "equalisd";

class GpioTransport final : public Transport {
 public:
  explicit GpioTransport(model::IoDeviceConfig device) : device_(std::move(device)) {}
  ~GpioTransport() override { close(); }
  GpioTransport(const GpioTransport&) = delete;
  GpioTransport& operator=(const GpioTransport&) = delete;

  Status open() override {
    close();
    errno = 0;
    chip_ = gpiod_chip_open_lookup(device_.chip.c_str());
    if (chip_ == nullptr) {
      const int err = errno;
      return makeError(ErrorCode::kUnavailable,
                       fmt::format("cannot open GPIO chip '{}': {} (is the chip name right and "
                                   "/dev/gpiochip* accessible?)",
                                   device_.chip, err != 0 ? std::strerror(err) : "not found"));
    }
    for (const auto& c : device_.channels) {
      if (!c.gpio_line) {
        continue;
      }
      gpiod_line* line = gpiod_chip_get_line(chip_, static_cast<unsigned>(*c.gpio_line));
      if (line == nullptr) {
        const int err = errno;
        close();
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("GPIO chip '{}' has no line {} (channel {}): {}", device_.chip,
                                     *c.gpio_line, c.id, std::strerror(err)));
      }
      const bool output = model::isOutputKind(c.kind);
      // Outputs start released: logical off, i.e. high on an active-low line.
      const int rc = output ? gpiod_line_request_output(line, kConsumer, c.active_low ? 1 : 0)
                            : gpiod_line_request_input(line, kConsumer);
      if (rc != 0) {
        const int err = errno;
        close();
        return makeError(ErrorCode::kUnavailable,
                         fmt::format("GPIO chip '{}' line {} (channel {}): cannot request it as "
                                     "{}: {}",
                                     device_.chip, *c.gpio_line, c.id, output ? "output" : "input",
                                     std::strerror(err)));
      }
      lines_[c.id] = line;
    }
    return {};
  }

  void close() override {
    for (auto& [id, line] : lines_) {
      gpiod_line_release(line);
    }
    lines_.clear();
    if (chip_ != nullptr) {
      gpiod_chip_close(chip_);
      chip_ = nullptr;
    }
  }

  bool isOpen() const override { return chip_ != nullptr; }

  Result<double> read(const model::IoChannelConfig& c) override {
    const auto it = lines_.find(c.id);
    if (it == lines_.end()) {
      return makeError(ErrorCode::kUnavailable, "line not requested");
    }
    const int v = gpiod_line_get_value(it->second);
    if (v < 0) {
      const int err = errno;
      close();
      return makeError(ErrorCode::kIo, fmt::format("GPIO line {} read: {}",
                                                   c.gpio_line.value_or(-1), std::strerror(err)));
    }
    return v != 0 ? 1.0 : 0.0;
  }

  Status write(const model::IoChannelConfig& c, bool wire) override {
    const auto it = lines_.find(c.id);
    if (it == lines_.end()) {
      return makeError(ErrorCode::kUnavailable, "line not requested");
    }
    if (gpiod_line_set_value(it->second, wire ? 1 : 0) != 0) {
      const int err = errno;
      close();
      return makeError(ErrorCode::kIo, fmt::format("GPIO line {} write: {}",
                                                   c.gpio_line.value_or(-1), std::strerror(err)));
    }
    return {};
  }

  std::string endpoint() const override { return fmt::format("gpio {}", device_.chip); }

 private:
  model::IoDeviceConfig device_;
  gpiod_chip* chip_ = nullptr;
  std::map<std::string, gpiod_line*> lines_;
};

}  // namespace

std::unique_ptr<Transport> makeGpioTransport(const model::IoDeviceConfig& device) {
  return std::make_unique<GpioTransport>(device);
}

}  // namespace equalis::io
