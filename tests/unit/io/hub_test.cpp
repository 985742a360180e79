#include "io/hub.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "io/plant_site.hpp"
#include "io/transport.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::io {
namespace {

using model::Quality;

struct Fixture {
  SimulatedClock clock;
  model::PlantConfig plant = [] {
    auto p = model::demoPlant();
    p.simulation.ups.outages = false;
    return p;
  }();
  sim::PlantSim sim{plant, clock.nowMs()};
  PlantSite site{sim};
  Hub hub{plant, clock, &site};

  void step(DurationMs d_ms = 10 * kSecondMs) {
    clock.advance(d_ms);
    sim.advanceTo(clock.nowMs());
    hub.poll(clock.nowMs());
  }
  ChannelSnapshot get(const std::string& id) {
    auto c = hub.channel(id, clock.nowMs());
    EXPECT_TRUE(c.has_value()) << id;
    return c.value_or(ChannelSnapshot{});
  }
};

TEST(IoHub, SimulatedDemoDevicesReadThePlant) {
  Fixture f;
  EXPECT_EQ(f.get("aux1.di1").quality, Quality::kNotPresent);  // before the first poll
  f.step();
  EXPECT_EQ(f.hub.devices().size(), 5u);
  const auto di1 = f.get("aux1.di1");
  EXPECT_EQ(di1.quality, Quality::kOk);
  EXPECT_EQ(di1.value, 1.0);  // breaker closed
  EXPECT_EQ(di1.role, model::ChannelRole::kBreakerStatus);
  EXPECT_NEAR(f.get("room.temperature").value, f.sim.ambientTemperatureC(), 0.05);
  EXPECT_NEAR(f.get("room.humidity").value, f.sim.roomHumidityPct(), 0.05);
  EXPECT_EQ(f.get("els1.level").value, 0.0);  // good
  // Every sensor point is fed, with the plant's value.
  bool humidity = false;
  bool hydrogen = false;
  bool level = false;
  for (const auto& p : f.hub.pointSamples(f.clock.nowMs())) {
    EXPECT_EQ(p.quality, Quality::kOk);
    EXPECT_EQ(p.time_ms, f.clock.nowMs());
    humidity |= p.id == model::PointId::kSystemHumidityPct;
    hydrogen |= p.id == model::PointId::kSystemHydrogenPct && p.value == f.sim.roomHydrogenPct();
    level |= p.id == model::PointId::kStringElectrolyteLevel && p.string_index == 0;
  }
  EXPECT_TRUE(humidity && hydrogen && level);
}

TEST(IoHub, DigitalInputChangesAreRecorded) {
  Fixture f;
  f.step();
  EXPECT_TRUE(f.hub.drainChanges().empty());  // the first read is no change
  f.sim.setContact("aux1.di3", true);
  f.step();
  auto changes = f.hub.drainChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].channel_id, "aux1.di3");
  EXPECT_EQ(changes[0].name, "Door contact");
  EXPECT_TRUE(changes[0].value);
  EXPECT_EQ(changes[0].time_ms, f.clock.nowMs());
  EXPECT_TRUE(f.get("aux1.di3").active());
  f.step();
  EXPECT_TRUE(f.hub.drainChanges().empty());  // no change, no record
}

TEST(IoHub, BreakerTripRelayOpensTheSimulatedBreaker) {
  Fixture f;
  f.step();
  ASSERT_EQ(f.hub.breakerTripRelay(0), std::optional<std::string>("aux1.relay1"));
  ASSERT_TRUE(f.hub.setOutput("aux1.relay1", true).ok());
  EXPECT_TRUE(f.get("aux1.relay1").pending);
  EXPECT_TRUE(f.sim.breakerClosed(0));  // written by the next poll (control thread)
  f.step();
  EXPECT_FALSE(f.sim.breakerClosed(0));
  EXPECT_TRUE(f.sim.breakerClosed(1));
  EXPECT_EQ(f.get("aux1.relay1").value, 1.0);
  EXPECT_FALSE(f.get("aux1.relay1").pending);
  EXPECT_EQ(f.get("aux1.di1").value, 0.0);  // the status input follows the breaker
  const auto changes = f.hub.drainChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].channel_id, "aux1.di1");
  EXPECT_FALSE(changes[0].value);
  // Releasing the relay does not close a tripped breaker.
  ASSERT_TRUE(f.hub.setOutput("aux1.relay1", false).ok());
  f.step();
  EXPECT_EQ(f.get("aux1.relay1").value, 0.0);
  EXPECT_FALSE(f.sim.breakerClosed(0));
}

TEST(IoHub, PulseSwitchesOnThenOff) {
  Fixture f;
  f.step();
  ASSERT_TRUE(f.hub.pulseOutput("panel.buzzer", 500).ok());
  f.step(200);
  EXPECT_EQ(f.get("panel.buzzer").value, 1.0);
  EXPECT_GT(f.get("panel.buzzer").pulse_end_ms, 0);
  f.step(400);  // past the end: off at this poll
  f.step(100);
  EXPECT_EQ(f.get("panel.buzzer").value, 0.0);
  EXPECT_EQ(f.get("panel.buzzer").pulse_end_ms, 0);
  // A pulse shorter than the poll period is still seen on for one poll.
  ASSERT_TRUE(f.hub.pulseOutput("panel.led", 1).ok());
  f.step();
  EXPECT_EQ(f.get("panel.led").value, 1.0);
  f.step();
  EXPECT_EQ(f.get("panel.led").value, 0.0);
}

TEST(IoHub, CommandErrorsNameTheProblem) {
  Fixture f;
  auto st = f.hub.setOutput("aux1.relay9", true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
  EXPECT_NE(st.error().message.find("aux1.relay1"), std::string::npos) << st.error().message;
  st = f.hub.setOutput("aux1.di1", true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find("not an output"), std::string::npos);
  st = f.hub.pulseOutput("panel.buzzer", 0);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kOutOfRange);
}

TEST(IoHub, ElectrolyteDropShowsWarningThenAlarm) {
  Fixture f;
  ASSERT_TRUE(f.sim.setElectrolyteLevel(0, 0, 20.0).ok());
  f.step();
  EXPECT_EQ(f.get("els1.level").value, 1.0);  // warning
  ASSERT_TRUE(f.sim.setElectrolyteLevel(0, 0, 5.0).ok());
  f.step();
  EXPECT_EQ(f.get("els1.level").value, 2.0);  // alarm
  EXPECT_FALSE(f.sim.setElectrolyteLevel(0, 0, 120.0).ok());
  EXPECT_FALSE(f.sim.setElectrolyteLevel(5, 0, 50.0).ok());
}

TEST(IoHub, NoSensorNoPoint) {
  SimulatedClock clock;
  auto plant = model::demoPlant();
  plant.io = {};
  sim::PlantSim sim(plant, clock.nowMs());
  PlantSite site(sim);
  Hub hub(plant, clock, &site);
  hub.poll(clock.nowMs());
  EXPECT_TRUE(hub.empty());
  EXPECT_TRUE(hub.pointSamples(clock.nowMs()).empty());
  EXPECT_FALSE(hub.breakerTripRelay(0).has_value());
}

// A real device on its own thread, with a wall clock: waits until `done` or 10 s.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

model::IoDeviceConfig gpioDevice(const std::string& chip) {
  model::IoDeviceConfig d;
  d.id = "gpio1";
  d.type = model::IoDeviceType::kGxRAux;
  d.transport = model::IoTransport::kGpio;
  d.chip = chip;
  d.poll_interval_ms = 50;
  model::IoChannelConfig di;
  di.id = "di1";
  di.kind = model::ChannelKind::kDigitalInput;
  di.gpio_line = 4;
  d.channels.push_back(di);
  return d;
}

// This container has no GPIO chips (no gpio-sim): opening one fails with the chip's name.
TEST(IoGpio, MissingChipIsAClearError) {
  auto t = makeGpioTransport(gpioDevice("gpiochip-missing"));
  const Status st = t->open();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot open GPIO chip 'gpiochip-missing'"), std::string::npos)
      << st.error().message;
  EXPECT_FALSE(t->isOpen());
}

TEST(IoGpio, DeviceWithMissingChipGoesCommLost) {
  RealClock clock;
  model::PlantConfig plant = model::demoPlant();
  plant.io = {};
  plant.io.devices.push_back(gpioDevice("gpiochip-missing"));
  Hub hub(plant, clock, nullptr);
  hub.start();
  ASSERT_TRUE(eventually([&] { return hub.devices()[0].state == "comm_lost"; }));
  const auto d = hub.devices()[0];
  EXPECT_NE(d.error.find("gpiochip-missing"), std::string::npos) << d.error;
  EXPECT_EQ(hub.channel("gpio1.di1", clock.nowMs())->quality, Quality::kCommLost);
  // Outputs can still be commanded (written once the device is back); unknown ones cannot.
  EXPECT_FALSE(hub.setOutput("gpio1.relay1", true).ok());
  hub.stop();
}

TEST(IoModbus, UnreachableDeviceGoesCommLostWithoutBlockingPoll) {
  RealClock clock;
  model::PlantConfig plant = model::demoPlant();
  plant.io = {};
  model::IoDeviceConfig d;
  d.id = "site";
  d.type = model::IoDeviceType::kSiteManager;
  d.transport = model::IoTransport::kModbusTcp;
  d.address = "127.0.0.1:1";  // nothing listens on port 1
  d.poll_interval_ms = 50;
  d.timeout_ms = 100;
  model::IoChannelConfig di;
  di.id = "di1";
  di.kind = model::ChannelKind::kDigitalInput;
  di.reg = model::RegisterMap{model::RegisterTable::kDiscrete, 0, 1, false, 1.0, 0.0};
  d.channels.push_back(di);
  plant.io.devices.push_back(d);
  Hub hub(plant, clock, nullptr);
  hub.start();
  hub.poll(clock.nowMs());  // real devices are not polled here
  ASSERT_TRUE(eventually([&] { return hub.devices()[0].state == "comm_lost"; }));
  EXPECT_NE(hub.devices()[0].error.find("cannot connect"), std::string::npos)
      << hub.devices()[0].error;
  EXPECT_EQ(hub.devices()[0].endpoint, "modbus_tcp 127.0.0.1:1 unit 1");
  EXPECT_EQ(hub.channel("site.di1", clock.nowMs())->quality, Quality::kCommLost);
  hub.stop();
}

}  // namespace
}  // namespace equalis::io
