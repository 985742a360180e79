// [radius]: defaults, every key read, the secret from a file, and each bad value named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "config/config.hpp"
#include "config/diff.hpp"

namespace equalis::config {
namespace {

namespace fs = std::filesystem;

const std::string kPlant = "[[string]]\nblocks = 4\n";

TEST(ConfigRadius, OffByDefault) {
  const auto r = parseConfig(kPlant);
  ASSERT_TRUE(r.ok()) << r.issueLines();
  const auto& radius = r.config->radius;
  EXPECT_FALSE(radius.enabled);
  EXPECT_EQ(radius.servers, std::vector<std::string>{"127.0.0.1:1812"});
  EXPECT_EQ(radius.secret, "");
  EXPECT_EQ(radius.timeout_ms, 3000);
  EXPECT_EQ(radius.retries, 1);
  EXPECT_EQ(radius.nas_identifier, "equalis");
  EXPECT_EQ(radius.role_attribute, "Filter-Id");
  EXPECT_EQ(radius.default_role, "");
  // Keys given while it is off are still checked, but no secret is needed.
  EXPECT_TRUE(parseConfig(kPlant + "[radius]\nenabled = false\ntimeout_ms = 2000\n").ok());
}

TEST(ConfigRadius, EveryKeyIsRead) {
  const auto r = parseConfig(kPlant +
                             "[radius]\nenabled = true\n"
                             "servers = [\"10.0.0.5:1812\", \"[2001:db8::7]:11812\", "
                             "\"radius.example.org\"]\n"
                             "secret = \"s3cret:x\"\ntimeout_ms = 2000\nretries = 0\n"
                             "nas_identifier = \"bms-room-1\"\nrole_attribute = \"class\"\n"
                             "default_role = \"viewer\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  const auto& radius = r.config->radius;
  EXPECT_TRUE(radius.enabled);
  EXPECT_EQ(radius.servers, (std::vector<std::string>{"10.0.0.5:1812", "[2001:db8::7]:11812",
                                                      "radius.example.org"}));
  EXPECT_EQ(radius.secret, "s3cret:x");
  EXPECT_EQ(radius.secret_file, "");
  EXPECT_EQ(radius.timeout_ms, 2000);
  EXPECT_EQ(radius.retries, 0);
  EXPECT_EQ(radius.nas_identifier, "bms-room-1");
  EXPECT_EQ(radius.role_attribute, "Class");
  EXPECT_EQ(radius.default_role, "viewer");
}

TEST(ConfigRadius, TheTimeoutIsAnyNumberOfMillisecondsFrom100) {
  for (const int ms : {100, 250, 1500, 60'000}) {
    const auto r = parseConfig(kPlant + "[radius]\ntimeout_ms = " + std::to_string(ms) + "\n");
    ASSERT_TRUE(r.ok()) << ms << ": " << r.issueLines();
    EXPECT_EQ(r.config->radius.timeout_ms, ms);
  }
}

TEST(ConfigRadius, TheSecretFromAFileRemembersThePath) {
  const auto path =
      (fs::temp_directory_path() / ("equalis-radius-" + std::to_string(::getpid()))).string();
  std::ofstream(path, std::ios::binary) << "from-file\n";
  const auto r = parseConfig(kPlant + "[radius]\nenabled = true\nsecret_file = \"" + path + "\"\n");
  fs::remove(path);
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->radius.secret, "from-file");
  EXPECT_EQ(r.config->radius.secret_file, path);
}

TEST(ConfigRadius, EnabledNeedsASecret) {
  const auto r = parseConfig(kPlant + "[radius]\nenabled = true\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.issueLines(),
            "radius.secret: missing: the secret shared with the RADIUS servers (secret, "
            "secret_file or secret_env) is needed when enabled = true");
}

TEST(ConfigRadius, BadValuesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"servers = []", "radius.servers: give 1 to 8 RADIUS servers, got 0"},
      {"servers = \"127.0.0.1:1812\"", "radius.servers: expected an array of"},
      {"servers = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\"]",
       "radius.servers: give 1 to 8 RADIUS servers, got 9"},
      {"servers = [\"127.0.0.1:0\"]", "radius.servers: entry 1: \"127.0.0.1:0\": the port must"},
      {"servers = [\"ok:1812\", \"::1:1812\"]",
       "radius.servers: entry 2: \"::1:1812\": write an IPv6 address in brackets"},
      {"servers = [1812]", "radius.servers: entry 1: expected a string, got an integer"},
      {"secret = \"two words\"", "radius.secret: only printable ASCII characters"},
      {"secret = \"a,b\"", "radius.secret: only printable ASCII characters"},
      {"secret = \"\"", "radius.secret: must be 1 to 96 bytes long, got 0"},
      {"timeout_ms = 99", "radius.timeout_ms: must be between 100 and 60000 ms, got 99"},
      {"timeout_ms = 0", "radius.timeout_ms: must be between 100 and 60000 ms, got 0"},
      {"timeout_ms = 60001", "radius.timeout_ms: must be between 100 and 60000 ms, got 60001"},
      {"retries = 11", "radius.retries: must be between 0 and 10, got 11"},
      {"nas_identifier = \"\"", "radius.nas_identifier: must be 1 to 64 printable ASCII"},
      {"role_attribute = \"Reply-Message\"",
       "radius.role_attribute: must be \"Filter-Id\" or \"Class\", got \"Reply-Message\""},
      {"default_role = \"root\"",
       "radius.default_role: must be \"viewer\", \"operator\" or \"admin\", got \"root\""},
      {"enable = true", "radius.enable: unknown key, did you mean 'enabled'?"},
  };
  for (const auto& [line, expected] : cases) {
    const auto r = parseConfig(kPlant + "[radius]\n" + line + "\n");
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.issueLines().rfind(expected, 0), 0U) << line << " → " << r.issueLines();
  }
}

TEST(ConfigRadius, AChangeNeedsARestartAndTheSecretIsNotShown) {
  auto before = parseConfig(kPlant + "[radius]\nenabled = true\nsecret = \"old-secret\"\n");
  auto after = parseConfig(kPlant + "[radius]\nenabled = true\nsecret = \"new-secret\"\n");
  ASSERT_TRUE(before.ok() && after.ok());
  const auto changes = diffConfig(*before.config, *after.config);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].key, "radius");
  EXPECT_FALSE(changes[0].live);
  EXPECT_EQ(changes[0].from.find("secret"), std::string::npos);
  EXPECT_EQ(changes[0].to.find("secret"), std::string::npos);
  EXPECT_EQ(changes[0].to, "on: 127.0.0.1:1812");
}

}  // namespace
}  // namespace equalis::config
