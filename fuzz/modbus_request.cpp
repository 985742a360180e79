// Fuzz target: the Modbus TCP request path. The input (after its first byte) is the byte stream a
// client sends; it goes through TcpFramer, as in the server (in pieces of the sizes the first
// byte picks, as recv() may return them), and every complete request is answered by
// RequestHandler::handle() from the register map of a 32 + 32 block plant with live values,
// replies going out on a non-blocking socket pair. The first byte's low bit turns on [modbus]
// writes (the alarm-acknowledge register, with one active alarm), its second bit makes the
// client one that the write allowlist refuses.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "adapters/modbus/server_internal.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace {

using namespace equalis;  // NOLINT(google-build-using-namespace): a fuzz target's own file

constexpr std::size_t kMaxStream = 16 * 1024;

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
  const modbus::Requester from{"192.0.2.1", (data[0] & 2) == 0};
  const std::size_t piece = 1 + (data[0] >> 2);  // 1…64 bytes per recv()
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    return 0;
  }
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);  // as the server's client sockets: a full buffer fails
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", 502);
  modbus_set_socket(ctx, fds[1]);
  modbus::TcpFramer framer;
  modbus::TcpFramer::Buffer frame{};
  bool connected = true;
  for (std::size_t at = 1; connected && at < size && framer.problem().empty(); at += piece) {
    framer.feed(data + at, std::min(piece, size - at));
    while (const std::size_t n = framer.next(frame)) {
      if (handler.handle(ctx, frame.data(), static_cast<int>(n), from) < 0) {
        connected = false;  // the server closes the connection
        break;
      }
    }
  }
  modbus_set_socket(ctx, -1);
  modbus_free(ctx);
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
