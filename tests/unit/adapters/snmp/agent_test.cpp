// The embedded agent in-process: start, the one-agent rule, stop. net-snmp can be initialized
// only once per process, so the whole lifecycle is one test.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "adapters/snmp/snmp_agent.hpp"
#include "model/plant.hpp"

namespace equalis::snmp {
namespace {

// A free UDP port on 127.0.0.1, chosen by the OS.
int freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(SnmpAgent, LifecycleInOneProcess) {
  model::PlantConfig plant = model::demoPlant();
  const auto dir = std::filesystem::temp_directory_path() / "equalis-snmp-unit";
  plant.data_dir = dir.string();
  SimulatedClock clock;
  state::StateStore store{{4, 4}, 30'000};
  const adapters::Context ctx{plant, store, clock, "test", {}, {}};
  const int port = freeUdpPort();
  const std::string spec = "127.0.0.1:" + std::to_string(port);

  EXPECT_EQ(sendTrap({}).error().code, ErrorCode::kUnavailable);  // nothing running
  auto bad = start(ctx, spec + "?nonsense=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);

  auto agent = start(ctx, spec + "?trap=127.0.0.1:9");
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  EXPECT_NE((*agent)->describe().find("udp 127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_NE((*agent)->describe().find("traps to 127.0.0.1:9"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_directory(dir / "snmp"));

  auto second = start(ctx, "127.0.0.1:" + std::to_string(freeUdpPort()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);

  Notification alarm;
  alarm.kind = Notification::Kind::kAlarmRaised;
  alarm.alarm_id = 7;
  alarm.code = "block_voltage_high";
  alarm.severity = 2;
  alarm.string_number = 1;
  alarm.block_number = 3;
  alarm.text = "test";
  EXPECT_TRUE(sendTrap(alarm).ok());

  (*agent)->stop();
  (*agent)->stop();  // twice is fine
  EXPECT_EQ(sendTrap(alarm).error().code, ErrorCode::kUnavailable);
  // net-snmp cannot be initialized twice in one process: a clear error, not a crash.
  auto again = start(ctx, spec);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
  agent.value().reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace equalis::snmp
