// Fuzz target: the Modbus TCP request path. The input (after its first byte) is the byte stream a
// client sends; it goes through libmodbus' modbus_receive() on a socket pair, as in the server,
// and every request received is answered by RequestHandler::handle() from the register map of a
// 32 + 32 block plant with live values. The first byte's low bit turns on [modbus] writes (the
// alarm-acknowledge register, with one active alarm).
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "adapters/modbus/server_internal.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace {

using namespace equalis;  // NOLINT(google-build-using-namespace): a fuzz target's own file

constexpr std::size_t kMaxStream = 16 * 1024;  // well below a socket pair's buffer

struct Plant {
  model::PlantConfig config = model::demoPlant();
  state::StateStore store{{32, 32}, 30'000};
  SimulatedClock clock;
  adapters::Context read_only{config, store, clock, "fuzz", {}, {}};
  model::PlantConfig writable_config = [] {
    auto c = model::demoPlant();
    c.protocols.modbus_writes = true;
    return c;
  }();
  adapters::Context writable{
      writable_config,
      store,
      clock,
      "fuzz",
      [] {
        alarms::ActiveAlarm a;
        a.key = "block.voltage_high/1/3";
        a.rule_id = "block.voltage_high";
        a.id = 7;
        a.level = alarms::Level::kWarning;
        a.string_number = 1;
        a.block_number = 3;
        return std::vector<alarms::ActiveAlarm>{a};
      },
      [](const std::string&, const command::Origin&) -> Result<alarms::AlarmEvent> {
        return alarms::AlarmEvent{};
      }};
  modbus::RequestHandler reader{read_only};
  modbus::RequestHandler writer{writable};

  Plant() {
    state::StateStore::Writer w(store);
    const TimeMs now = clock.nowMs();
    for (std::size_t s = 0; s < 2; ++s) {
      for (std::size_t b = 0; b < 32; ++b) {
        w.set(model::PointId::kBlockVoltageV, s, b,
              {13.6 + 0.01 * static_cast<double>(b), now, model::Quality::kOk});
        w.set(model::PointId::kBlockTemperatureC, s, b, {25.0, now, model::Quality::kOk});
        w.set(model::PointId::kBlockRiMohm, s, b, {4.1, now, model::Quality::kOk});
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Plant plant;
  if (size < 1 || size > kMaxStream) {
    return 0;
  }
  modbus::RequestHandler& handler = (data[0] & 1) != 0 ? plant.writer : plant.reader;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    return 0;
  }
  // The client's bytes, then end of stream: modbus_receive() never waits for more.
  if (size > 1) {
    (void)::send(fds[0], data + 1, size - 1, MSG_NOSIGNAL);
  }
  ::shutdown(fds[0], SHUT_WR);
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", 502);
  modbus_set_socket(ctx, fds[1]);
  std::vector<std::uint8_t> request(MODBUS_TCP_MAX_ADU_LENGTH);
  for (int rc = modbus_receive(ctx, request.data()); rc > 0;
       rc = modbus_receive(ctx, request.data())) {
    if (handler.handle(ctx, request.data(), rc) < 0) {
      break;
    }
  }
  modbus_free(ctx);
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
