// [modbus] write_allowlist: addresses and CIDR prefixes of the clients that may write.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace equalis::config {
namespace {

LoadResult withAllowlist(const std::string& value) {
  return parseConfig("[modbus]\nwrites = true\nwrite_allowlist = " + value + "\n[[string]]\n");
}

TEST(ConfigModbus, WriteAllowlistIsAbsentByDefault) {
  const LoadResult r = parseConfig("[modbus]\nwrites = true\n[[string]]\n");
  ASSERT_TRUE(r.ok()) << r.describe("test.toml");
  EXPECT_TRUE(r.config->protocols.modbus_write_allowlist.empty());
  EXPECT_TRUE(r.config->protocols.modbus_writes);
}

TEST(ConfigModbus, WriteAllowlistTakesAddressesAndPrefixes) {
  const LoadResult r =
      withAllowlist(R"(["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "::ffff:192.168.0.0/112"])");
  ASSERT_TRUE(r.ok()) << r.describe("test.toml");
  EXPECT_EQ(
      r.config->protocols.modbus_write_allowlist,
      (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "192.168.0.0/16"}));
}

TEST(ConfigModbus, BadWriteAllowlistEntriesAreNamed) {
  const LoadResult r =
      withAllowlist(R"(["10.0.0.0/8", "bms.local", "10.0.0.1/8", "10.0.0.0/33", 7, "::1/200"])");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.issues.size(), 5u) << r.describe("test.toml");
  for (const auto& issue : r.issues) {
    EXPECT_EQ(issue.key, "modbus.write_allowlist");
  }
  EXPECT_NE(r.issues[0].message.find("entry 2: \"bms.local\" is not an IP address"),
            std::string::npos)
      << r.issues[0].message;
  EXPECT_NE(r.issues[1].message.find("entry 3: \"10.0.0.1/8\""), std::string::npos)
      << r.issues[1].message;
  EXPECT_NE(r.issues[1].message.find("10.0.0.0/8"), std::string::npos) << r.issues[1].message;
  EXPECT_NE(r.issues[2].message.find("entry 4: \"10.0.0.0/33\": the prefix length must be a "
                                     "number from 0 to 32"),
            std::string::npos)
      << r.issues[2].message;
  EXPECT_NE(r.issues[3].message.find("entry 5: expected a string, got an integer"),
            std::string::npos)
      << r.issues[3].message;
  EXPECT_NE(r.issues[4].message.find("0 to 128"), std::string::npos) << r.issues[4].message;
}

TEST(ConfigModbus, WriteAllowlistMustBeANonEmptyArray) {
  LoadResult r = withAllowlist("\"10.0.0.0/8\"");
  ASSERT_EQ(r.issues.size(), 1u) << r.describe("test.toml");
  EXPECT_EQ(r.issues[0].key, "modbus.write_allowlist");
  EXPECT_NE(r.issues[0].message.find("expected an array"), std::string::npos)
      << r.issues[0].message;
  r = withAllowlist("[]");
  ASSERT_EQ(r.issues.size(), 1u) << r.describe("test.toml");
  EXPECT_EQ(r.issues[0].key, "modbus.write_allowlist");
  EXPECT_NE(r.issues[0].message.find("is empty"), std::string::npos) << r.issues[0].message;
}

}  // namespace
}  // namespace equalis::config
