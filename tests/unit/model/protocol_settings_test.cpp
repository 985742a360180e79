// Protocol specs changed at run time: what a spec may hold, secrets masked for display and kept
// when a masked spec comes back, and protocols.json read back exactly as written.
#include "model/protocol_settings.hpp"

#include <gtest/gtest.h>

namespace equalis::model {
namespace {

TEST(ProtocolSettings, KindsByKey) {
  ASSERT_NE(protocolKind("snmp"), nullptr);
  EXPECT_EQ(protocolKind("snmp")->flag, "--snmp");
  EXPECT_EQ(protocolKind("modbus_rtu")->config, "[modbus] rtu");
  EXPECT_EQ(protocolKind("bacnet"), nullptr);
}

TEST(ProtocolSettings, SpecProblems) {
  EXPECT_EQ(protocolSpecProblem("127.0.0.1:1502"), "");
  EXPECT_EQ(protocolSpecProblem(""), "");
  EXPECT_EQ(protocolSpecProblem("127.0.0.1: 1502"), "the spec holds a space");
  EXPECT_NE(protocolSpecProblem("a\nb"), "");
  EXPECT_NE(protocolSpecProblem("h\xC3\xA9te:1"), "");
  EXPECT_NE(protocolSpecProblem(std::string(kProtocolSpecMaxBytes + 1, 'a')), "");
}

TEST(ProtocolSettings, MqttPasswordMasked) {
  EXPECT_EQ(redactedProtocolSpec("mqtt", "mqtt://ops:s3cret@broker:1883/site?interval=5"),
            "mqtt://ops:********@broker:1883/site?interval=5");
  // The user part ends at the last '@' before the prefix, as the URL parser splits it.
  EXPECT_EQ(redactedProtocolSpec("mqtt", "mqtts://ops:p@ss@broker/eq"),
            "mqtts://ops:********@broker/eq");
  EXPECT_EQ(redactedProtocolSpec("mqtt", "mqtt://ops@broker/eq"), "mqtt://ops@broker/eq");
  EXPECT_EQ(redactedProtocolSpec("mqtt", "mqtt://broker/a@b"), "mqtt://broker/a@b");
  EXPECT_EQ(redactedProtocolSpec("mqtt", "mqtt://ops:@broker"), "mqtt://ops:@broker");
}

TEST(ProtocolSettings, SnmpSecretsMasked) {
  EXPECT_EQ(redactedProtocolSpec("snmp",
                                 "0.0.0.0:161?community=pub&v3user=ops&auth=a1234567&"
                                 "priv=p1234567&trap=10.0.0.1:162&trapcommunity=t"),
            "0.0.0.0:161?community=********&v3user=ops&auth=********&priv=********&"
            "trap=10.0.0.1:162&trapcommunity=********");
  // community= (empty) turns v1/v2c off: nothing to hide.
  EXPECT_EQ(redactedProtocolSpec("snmp", "0.0.0.0:161?community="), "0.0.0.0:161?community=");
  EXPECT_EQ(redactedProtocolSpec("modbus_tcp", "0.0.0.0:502"), "0.0.0.0:502");
}

TEST(ProtocolSettings, MaskedSecretsAreKept) {
  const std::string current = "mqtt://ops:s3cret@broker:1883/site";
  EXPECT_EQ(protocolSpecKeepingSecrets("mqtt", "mqtt://ops:********@broker:8883/site", current),
            "mqtt://ops:s3cret@broker:8883/site");
  EXPECT_EQ(protocolSpecKeepingSecrets("mqtt", "mqtt://ops:new@broker/site", current),
            "mqtt://ops:new@broker/site");
  // No secret in force: the mask stays what it is.
  EXPECT_EQ(protocolSpecKeepingSecrets("mqtt", "mqtt://ops:********@b", "mqtt://b"),
            "mqtt://ops:********@b");
  EXPECT_EQ(protocolSpecKeepingSecrets("snmp", "127.0.0.1:1161?auth=********&community=x",
                                       "127.0.0.1:161?community=c&auth=authpass1"),
            "127.0.0.1:1161?auth=authpass1&community=x");
}

TEST(ProtocolSettings, FileRoundTrip) {
  const std::map<std::string, std::string> specs{{"modbus_tcp", "127.0.0.1:1502"}, {"snmp", ""}};
  const auto text = protocolsFileText(specs);
  const auto back = parseProtocolsFile(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, specs);
}

TEST(ProtocolSettings, DamagedFilesNameTheProblem) {
  EXPECT_FALSE(parseProtocolsFile("").ok());
  EXPECT_FALSE(parseProtocolsFile(R"({"version": 1})").ok());
  const auto unknown = parseProtocolsFile(R"({"version": 1, "protocols": {"bacnet": "x"}})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown protocol 'bacnet'"), std::string::npos);
  const auto number = parseProtocolsFile(R"({"version": 1, "protocols": {"snmp": 161}})");
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.error().message.find("'snmp' is not a string"), std::string::npos);
  EXPECT_FALSE(parseProtocolsFile(R"({"protocols": {"snmp": "a b"}})").ok());
}

}  // namespace
}  // namespace equalis::model
