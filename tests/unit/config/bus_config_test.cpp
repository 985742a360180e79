// [[bus.line]]: module-bus lines mapped to strings.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace equalis::config {
namespace {

std::string dump(const LoadResult& r) {
  return r.describe("test.toml");
}

const char* kTwoStrings = "[[string]]\nname = \"A\"\n[[string]]\nname = \"B\"\n";

TEST(ConfigBusLine, NoLinesMeansTheSimulator) {
  const LoadResult r = parseConfig(kTwoStrings);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.config->bus.lines.empty());
}

TEST(ConfigBusLine, ReadsSerialAndTcpLines) {
  const LoadResult r = parseConfig(std::string(kTwoStrings) + R"(
[bus]
sweep_interval_s = 5
[[bus.line]]
url = "serial:/dev/ttyUSB0:57600"
strings = [2]
retries = 2
[[bus.line]]
url = "tcp://127.0.0.1:4001"
strings = [1]
baud = 230400
timeout_ms = 40
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& lines = r.config->bus.lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].url, "serial:/dev/ttyUSB0:57600");
  EXPECT_EQ(lines[0].strings, std::vector<int>{2});
  EXPECT_EQ(lines[0].baud, 57600);
  EXPECT_EQ(lines[0].retries, 2);
  EXPECT_EQ(lines[0].timeout_ms, 10);
  EXPECT_EQ(lines[1].url, "tcp://127.0.0.1:4001");
  EXPECT_EQ(lines[1].baud, 230400);
  EXPECT_EQ(lines[1].timeout_ms, 40);
  EXPECT_EQ(r.config->bus.sweep_interval_ms, 5000);
}

struct Bad {
  const char* toml;
  const char* key;
  const char* message_part;
};

TEST(ConfigBusLine, ProblemsNameTheKey) {
  const Bad cases[] = {
      {"[[bus.line]]\nurl = \"serial:/dev/ttyUSB0:12345\"\nstrings = [1, 2]\n", "bus.line[1].url",
       "not supported"},
      {"[[bus.line]]\nurl = \"rs485://x\"\nstrings = [1, 2]\n", "bus.line[1].url", "unknown line"},
      {"[[bus.line]]\nurl = \"tcp://host:99999\"\nstrings = [1, 2]\n", "bus.line[1].url",
       "port must be between 1 and 65535"},
      {"[[bus.line]]\nstrings = [1, 2]\n", "bus.line[1].url", "missing"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\n", "bus.line[1].strings", "missing"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 3]\n", "bus.line[1].strings",
       "string 3 does not exist"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 1, 2]\n", "bus.line[1].strings",
       "listed twice"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = []\n", "bus.line[1].strings", "at least one"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1]\n[[bus.line]]\nurl = \"tcp://h:2\"\n"
       "strings = [1, 2]\n",
       "bus.line[2].strings", "already on bus.line[1]"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1]\n", "bus.line",
       "string 2 (\"B\") is on no [[bus.line]]"},
      {"[[bus.line]]\nurl = \"serial:/dev/ttyS0:9600\"\nstrings = [1, 2]\nbaud = 19200\n",
       "bus.line[1].baud", "the one in its url"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 2]\nbaud = 12345\n", "bus.line[1].baud",
       "not a standard baud rate"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 2]\ntimeout_ms = 0\n",
       "bus.line[1].timeout_ms", "between 1 and 5000"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 2]\nretries = 9\n", "bus.line[1].retries",
       "between 0 and 5"},
      {"[[bus.line]]\nurl = \"tcp://h:1\"\nstrings = [1, 2]\nadress = 3\n", "bus.line[1].adress",
       "unknown key"},
      {"[bus]\nline = 3\n", "bus.line", "array of tables"},
  };
  for (const auto& c : cases) {
    const LoadResult r = parseConfig(std::string(kTwoStrings) + c.toml);
    ASSERT_FALSE(r.ok()) << c.toml;
    bool found = false;
    for (const auto& issue : r.issues) {
      if (issue.key == c.key && issue.message.find(c.message_part) != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << c.toml << "\n→ " << dump(r);
  }
}

TEST(ConfigBusLine, KnownKeysListTheLineKeys) {
  const auto keys = knownKeys();
  for (const char* key : {"bus.line", "bus.line.url", "bus.line.strings", "bus.line.baud",
                          "bus.line.timeout_ms", "bus.line.retries"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
}

}  // namespace
}  // namespace equalis::config
