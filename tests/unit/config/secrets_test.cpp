// Credentials given in the file, from a secret file or from the environment (Section::secret,
// docs/configuration.md "Secrets").
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "config/config.hpp"

namespace equalis::config {
namespace {

namespace fs = std::filesystem;

const std::string kPlant = "[[string]]\nblocks = 4\n";
const std::string kSmtp =
    "[events.smtp]\nurl = \"smtp://mail.example.com:587\"\nfrom = \"a@example.com\"\n"
    "username = \"equalis\"\n";

class ConfigSecrets : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("equalis-secrets-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ::unsetenv("EQUALIS_TEST_SECRET");
  }
  std::string write(const std::string& name, const std::string& content) const {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  fs::path dir_;
};

TEST_F(ConfigSecrets, InlineValueAsBefore) {
  const auto r = parseConfig(kPlant + kSmtp + "password = \"in-file\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->events.smtp.password, "in-file");
}

TEST_F(ConfigSecrets, FromAFileWithoutItsLineBreak) {
  const auto lf = write("lf", "from-file\n");
  const auto crlf = write("crlf", "from-crlf\r\n");
  const auto inner = write("inner", "two\nlines\n");
  auto r = parseConfig(kPlant + kSmtp + "password_file = \"" + lf + "\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->events.smtp.password, "from-file");
  r = parseConfig(kPlant + kSmtp + "password_file = \"" + crlf + "\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->events.smtp.password, "from-crlf");
  r = parseConfig(kPlant + kSmtp + "password_file = \"" + inner + "\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->events.smtp.password, "two\nlines");
}

TEST_F(ConfigSecrets, FromTheEnvironment) {
  ::setenv("EQUALIS_TEST_SECRET", "from-env", 1);
  const auto r = parseConfig(kPlant + "[mqtt]\nurl_env = \"EQUALIS_TEST_SECRET\"\n" +
                             "[events.webhook]\nbearer_token_env = \"EQUALIS_TEST_SECRET\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->events.webhook.bearer_token, "from-env");
  EXPECT_EQ(r.config->protocols.mqtt, "from-env");
}

TEST_F(ConfigSecrets, SnmpCommunitiesFromFiles) {
  const auto community = write("community", "c0mmunity\n");
  const auto r = parseConfig(kPlant + "[snmp]\nlisten = \"127.0.0.1:1161\"\ncommunity_file = \"" +
                             community + "\"\n");
  ASSERT_TRUE(r.ok()) << r.issueLines();
  bool found = false;
  for (const auto& [option, value] : r.config->protocols.snmp_options) {
    if (option == "community") {
      EXPECT_EQ(value, "c0mmunity");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ConfigSecrets, ProblemsNameTheKey) {
  const auto missing = (dir_ / "missing").string();
  const auto empty = write("empty", "\n");
  auto r = parseConfig(kPlant + kSmtp + "password_file = \"" + missing + "\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.issueLines(),
            "events.smtp.password_file: cannot read '" + missing + "': No such file or directory");
  r = parseConfig(kPlant + kSmtp + "password_file = \"" + empty + "\"\n");
  EXPECT_EQ(r.issueLines(), "events.smtp.password_file: '" + empty + "' is empty");
  r = parseConfig(kPlant + kSmtp + "password_env = \"EQUALIS_TEST_SECRET\"\n");
  EXPECT_EQ(r.issueLines(),
            "events.smtp.password_env: environment variable 'EQUALIS_TEST_SECRET' is not set");
  r = parseConfig(kPlant + kSmtp + "password = \"x\"\npassword_env = \"EQUALIS_TEST_SECRET\"\n");
  EXPECT_EQ(r.issueLines(),
            "events.smtp.password: give one of password, password_file and password_env, not "
            "several");
  const auto big = write("big", std::string(70 * 1024, 'x'));
  r = parseConfig(kPlant + kSmtp + "password_file = \"" + big + "\"\n");
  EXPECT_EQ(r.issueLines(), "events.smtp.password_file: '" + big +
                                "' is larger than 64 KiB: not a "
                                "secret");
}

}  // namespace
}  // namespace equalis::config
