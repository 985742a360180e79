// The protocol adapters as one set the settings page changes: where a spec comes from, a change
// that does not start leaving the old adapter serving and nothing stored, the command line coming
// first, and an adapter that runs once per process taking its change at the next start. The
// adapters here are stand-ins that only record start and stop (the real adapters are changed from
// the settings page in tests/web/settings.test.mjs and checked with mbpoll).
#include "adapters/rest/protocol_set.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../../../functional/temp_dir.hpp"
#include "model/protocol_settings.hpp"
#include "persist/files.hpp"

namespace equalis::rest {
namespace {

// What the stand-in adapters did, in order: "start modbus_tcp A", "stop modbus_tcp A".
struct Journal {
  std::vector<std::string> lines;
  std::map<std::string, int> running;  // key → adapters of it serving now
};

class StandIn : public adapters::Service {
 public:
  StandIn(Journal& j, std::string key, std::string spec)
      : j_(j), key_(std::move(key)), spec_(std::move(spec)) {
    j_.lines.push_back("start " + key_ + " " + spec_);
    ++j_.running[key_];
  }
  ~StandIn() override { stop(); }
  void stop() override {
    if (!stopped_) {
      stopped_ = true;
      j_.lines.push_back("stop " + key_ + " " + spec_);
      --j_.running[key_];
    }
  }
  std::string describe() const override { return key_ + " on " + spec_; }

 private:
  Journal& j_;
  std::string key_;
  std::string spec_;
  bool stopped_ = false;
};

struct ProtocolSetTest : ::testing::Test {
  test::TempDir dir;
  std::string file = dir.str() + "/protocols.json";
  Journal journal;
  bool snmp_ran = false;

  ProtocolSet::Hooks hooks() {
    ProtocolSet::Hooks h;
    // A spec starting with "bad" does not start; SNMP starts once per process.
    h.start = [this](const model::ProtocolKind& kind,
                     const std::string& spec) -> Result<adapters::ServicePtr> {
      if (spec.rfind("bad", 0) == 0) {
        return makeError(ErrorCode::kInvalidArgument, "cannot listen on " + spec);
      }
      if (kind.key == "snmp") {
        if (snmp_ran) {
          return makeError(ErrorCode::kUnavailable, "once per process");
        }
        snmp_ran = true;
      }
      return adapters::ServicePtr(std::make_unique<StandIn>(journal, std::string(kind.key), spec));
    };
    h.built = [](const model::ProtocolKind& kind) { return kind.key != "modbus_rtu"; };
    h.once_per_process = [](const model::ProtocolKind& kind) { return kind.key == "snmp"; };
    h.check = [](const model::ProtocolKind&, const std::string& spec) -> Status {
      if (spec.rfind("bad", 0) == 0) {
        return makeError(ErrorCode::kInvalidArgument, "bad spec " + spec);
      }
      return {};
    };
    return h;
  }

  static const ProtocolStatus& of(const std::vector<ProtocolStatus>& list, std::string_view key) {
    for (const auto& p : list) {
      if (p.kind->key == key) {
        return p;
      }
    }
    throw std::runtime_error("no " + std::string(key));
  }

  std::map<std::string, std::string> stored() const {
    auto text = persist::readFile(file);
    if (!text || !text->has_value()) {
      return {};
    }
    return model::parseProtocolsFile(**text).value();
  }
};

TEST_F(ProtocolSetTest, SourcesInOrderFlagThenChangedThenConfig) {
  ProtocolSet set(hooks(), file);
  model::ProtocolConfig cfg;
  cfg.modbus_tcp = "cfg-tcp";
  cfg.snmp = "cfg-snmp";
  cfg.mqtt = "cfg-mqtt";
  ASSERT_TRUE(set.startAll(cfg, {{"mqtt", "flag-mqtt"}}, {{"snmp", "here-snmp"}}).ok());
  const auto list = set.list();
  EXPECT_EQ(of(list, "modbus_tcp").spec, "cfg-tcp");
  EXPECT_EQ(of(list, "modbus_tcp").source, ProtocolSource::kConfig);
  EXPECT_EQ(of(list, "snmp").spec, "here-snmp");
  EXPECT_EQ(of(list, "snmp").source, ProtocolSource::kChangedHere);
  EXPECT_EQ(of(list, "snmp").config_spec, "cfg-snmp");
  EXPECT_EQ(of(list, "mqtt").spec, "flag-mqtt");
  EXPECT_EQ(of(list, "mqtt").source, ProtocolSource::kCommandLine);
  EXPECT_TRUE(of(list, "mqtt").running);
  EXPECT_FALSE(of(list, "modbus_rtu").built);
  EXPECT_FALSE(of(list, "modbus_rtu").running);
  set.stopAll();
  EXPECT_EQ(journal.running["modbus_tcp"] + journal.running["snmp"] + journal.running["mqtt"], 0);
}

TEST_F(ProtocolSetTest, ConfiguredSpecThatFailsStopsTheStartButAChangedOneDoesNot) {
  {
    ProtocolSet set(hooks(), file);
    model::ProtocolConfig cfg;
    cfg.modbus_tcp = "bad-port";
    const auto st = set.startAll(cfg, {}, {});
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("--modbus-tcp bad-port: cannot listen"), std::string::npos);
  }
  ProtocolSet set(hooks(), file);
  model::ProtocolConfig cfg;
  cfg.mqtt = "cfg-mqtt";
  ASSERT_TRUE(set.startAll(cfg, {}, {{"modbus_tcp", "bad-here"}}).ok());
  const auto list = set.list();
  EXPECT_FALSE(of(list, "modbus_tcp").running);
  EXPECT_EQ(of(list, "modbus_tcp").error, "cannot listen on bad-here");
  EXPECT_TRUE(of(list, "mqtt").running);
}

TEST_F(ProtocolSetTest, ChangeRestartsStoresAndReverts) {
  ProtocolSet set(hooks(), file);
  model::ProtocolConfig cfg;
  cfg.modbus_tcp = "A";
  ASSERT_TRUE(set.startAll(cfg, {}, {}).ok());
  auto out = set.change("modbus_tcp", "B");
  ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(out));
  const auto& done = std::get<ProtocolSet::Changed>(out);
  EXPECT_EQ(done.before.spec, "A");
  EXPECT_EQ(done.after.spec, "B");
  EXPECT_EQ(done.after.source, ProtocolSource::kChangedHere);
  EXPECT_EQ(done.after.description, "modbus_tcp on B");
  EXPECT_EQ(journal.lines, (std::vector<std::string>{"start modbus_tcp A", "stop modbus_tcp A",
                                                     "start modbus_tcp B"}));
  EXPECT_EQ(stored(), (std::map<std::string, std::string>{{"modbus_tcp", "B"}}));

  // Off, then back to the configuration's spec (and out of the file).
  ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(set.change("modbus_tcp", "")));
  EXPECT_EQ(journal.running["modbus_tcp"], 0);
  EXPECT_EQ(stored(), (std::map<std::string, std::string>{{"modbus_tcp", ""}}));
  out = set.revert("modbus_tcp");
  ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(out));
  EXPECT_EQ(std::get<ProtocolSet::Changed>(out).after.spec, "A");
  EXPECT_EQ(std::get<ProtocolSet::Changed>(out).after.source, ProtocolSource::kConfig);
  EXPECT_EQ(journal.running["modbus_tcp"], 1);
  EXPECT_TRUE(stored().empty());
}

TEST_F(ProtocolSetTest, AFailedChangeKeepsTheOldAdapterAndStoresNothing) {
  ProtocolSet set(hooks(), file);
  model::ProtocolConfig cfg;
  cfg.mqtt = "A";
  ASSERT_TRUE(set.startAll(cfg, {}, {}).ok());
  const auto out = set.change("mqtt", "bad-broker");
  ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
  EXPECT_EQ(std::get<ProtocolRefusal>(out).status, 400);
  EXPECT_NE(std::get<ProtocolRefusal>(out).message.find("cannot listen on bad-broker"),
            std::string::npos);
  const auto p = of(set.list(), "mqtt");
  EXPECT_TRUE(p.running);
  EXPECT_EQ(p.spec, "A");
  EXPECT_EQ(p.source, ProtocolSource::kConfig);
  EXPECT_EQ(journal.running["mqtt"], 1);
  EXPECT_TRUE(stored().empty());
}

TEST_F(ProtocolSetTest, RefusalsNameWhy) {
  ProtocolSet set(hooks(), file);
  ASSERT_TRUE(set.startAll({}, {{"modbus_tcp", "F"}}, {}).ok());
  auto out = set.change("modbus_tcp", "G");
  ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
  EXPECT_EQ(std::get<ProtocolRefusal>(out).status, 409);
  EXPECT_NE(std::get<ProtocolRefusal>(out).message.find("command line (--modbus-tcp F)"),
            std::string::npos);
  out = set.change("bacnet", "x");
  ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
  EXPECT_EQ(std::get<ProtocolRefusal>(out).status, 404);
  out = set.change("modbus_rtu", "/dev/ttyUSB0");
  ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
  EXPECT_EQ(std::get<ProtocolRefusal>(out).status, 409);
  EXPECT_NE(std::get<ProtocolRefusal>(out).message.find("built without modbus-rtu"),
            std::string::npos);
  out = set.change("mqtt", "mqtt://a b");
  ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
  EXPECT_EQ(std::get<ProtocolRefusal>(out).message, "the spec holds a space");
  EXPECT_TRUE(stored().empty());
}

TEST_F(ProtocolSetTest, MaskedSecretsKeepTheOnesInForce) {
  ProtocolSet set(hooks(), file);
  model::ProtocolConfig cfg;
  cfg.mqtt = "mqtt://ops:s3cret@broker/site";
  ASSERT_TRUE(set.startAll(cfg, {}, {}).ok());
  const auto out = set.change("mqtt", "mqtt://ops:********@broker:8883/site");
  ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(out));
  EXPECT_EQ(std::get<ProtocolSet::Changed>(out).after.spec, "mqtt://ops:s3cret@broker:8883/site");
  EXPECT_EQ(stored().at("mqtt"), "mqtt://ops:s3cret@broker:8883/site");
}

TEST_F(ProtocolSetTest, OncePerProcessAdapterTakesItsChangeAtTheNextStart) {
  model::ProtocolConfig cfg;
  cfg.snmp = "S1";
  {
    ProtocolSet set(hooks(), file);
    ASSERT_TRUE(set.startAll(cfg, {}, {}).ok());
    auto out = set.change("snmp", "bad-snmp");
    ASSERT_TRUE(std::holds_alternative<ProtocolRefusal>(out));
    EXPECT_NE(std::get<ProtocolRefusal>(out).message.find("bad spec bad-snmp"), std::string::npos);
    out = set.change("snmp", "S2");
    ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(out));
    const auto& after = std::get<ProtocolSet::Changed>(out).after;
    EXPECT_TRUE(after.restart_needed);
    EXPECT_EQ(after.pending_spec, "S2");
    EXPECT_EQ(after.spec, "S1");  // still serving the old one
    EXPECT_TRUE(after.running);
    EXPECT_EQ(stored().at("snmp"), "S2");
    // Back to what runs: nothing pending.
    out = set.revert("snmp");
    ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(out));
    EXPECT_FALSE(std::get<ProtocolSet::Changed>(out).after.restart_needed);
    EXPECT_TRUE(stored().empty());
    ASSERT_TRUE(std::holds_alternative<ProtocolSet::Changed>(set.change("snmp", "S3")));
  }
  // The next process starts on the stored spec.
  snmp_ran = false;
  ProtocolSet next(hooks(), file);
  ASSERT_TRUE(next.startAll(cfg, {}, stored()).ok());
  const auto p = of(next.list(), "snmp");
  EXPECT_EQ(p.spec, "S3");
  EXPECT_TRUE(p.running);
  EXPECT_FALSE(p.restart_needed);
}

}  // namespace
}  // namespace equalis::rest
