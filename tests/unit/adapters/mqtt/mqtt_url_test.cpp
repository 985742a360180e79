#include "adapters/mqtt/mqtt_url.hpp"

#include <gtest/gtest.h>

namespace equalis::mqtt {
namespace {

TEST(MqttUrl, HostOnlyUsesDefaults) {
  auto s = parseMqttUrl("mqtt://broker.local");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(s->tls);
  EXPECT_EQ(s->host, "broker.local");
  EXPECT_EQ(s->port, 1883);
  EXPECT_TRUE(s->username.empty());
  EXPECT_FALSE(s->has_password);
  EXPECT_TRUE(s->prefix.empty());
  EXPECT_EQ(s->keepalive_s, 30);
  EXPECT_EQ(s->interval_s, 10);
  EXPECT_EQ(s->discovery, DiscoveryMode::kAll);
  EXPECT_EQ(s->discovery_prefix, "homeassistant");
}

TEST(MqttUrl, FullForm) {
  auto s = parseMqttUrl("mqtt://equalis:s%40cret:x@127.0.0.1:18830/plant/room-1/");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->username, "equalis");
  EXPECT_TRUE(s->has_password);
  EXPECT_EQ(s->password, "s@cret:x");
  EXPECT_EQ(s->host, "127.0.0.1");
  EXPECT_EQ(s->port, 18830);
  EXPECT_EQ(s->prefix, "plant/room-1");
  EXPECT_EQ(redactedUrl(*s), "mqtt://equalis@127.0.0.1:18830");
}

TEST(MqttUrl, UserWithoutPassword) {
  auto s = parseMqttUrl("mqtt://reader@host");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->username, "reader");
  EXPECT_FALSE(s->has_password);
}

TEST(MqttUrl, TlsDefaultsAndCafile) {
  auto s = parseMqttUrl("mqtts://broker:8884?cafile=/etc/ca%20file.pem&keepalive=60");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->tls);
  EXPECT_EQ(s->port, 8884);
  EXPECT_EQ(s->cafile, "/etc/ca file.pem");
  EXPECT_EQ(s->keepalive_s, 60);
  auto d = parseMqttUrl("mqtts://broker");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 8883);
  EXPECT_TRUE(d->cafile.empty());
  EXPECT_FALSE(d->insecure);  // the host name is checked unless insecure=true
  auto c = parseMqttUrl(
      "mqtts://u:p@127.0.0.1:8883?cafile=/ca.pem&certfile=/c.pem&keyfile=/k.pem"
      "&insecure=true");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->certfile, "/c.pem");
  EXPECT_EQ(c->keyfile, "/k.pem");
  EXPECT_TRUE(c->insecure);
}

TEST(MqttUrl, Ipv6Host) {
  auto s = parseMqttUrl("mqtt://[::1]:1884/x");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 1884);
  EXPECT_EQ(redactedUrl(*s), "mqtt://[::1]:1884");
}

TEST(MqttUrl, Options) {
  auto s =
      parseMqttUrl("mqtt://h/p?interval=0&client_id=abc&discovery=strings&discovery_prefix=ha");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->interval_s, 0);
  EXPECT_EQ(s->client_id, "abc");
  EXPECT_EQ(s->discovery, DiscoveryMode::kStrings);
  EXPECT_EQ(s->discovery_prefix, "ha");
  auto off = parseMqttUrl("mqtt://h?discovery=off");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->discovery, DiscoveryMode::kOff);
}

// Every malformed URL is an error that names the problem.
TEST(MqttUrl, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "mqtt://"},
      {"127.0.0.1:1883", "mqtt://"},
      {"http://host", "unknown scheme 'http'"},
      {"mqtt://", "missing host"},
      {"mqtt://:1883", "missing host"},
      {"mqtt://host:", "empty port"},
      {"mqtt://host:0", "port must be"},
      {"mqtt://host:65536", "port must be"},
      {"mqtt://host:12ab", "port must be"},
      {"mqtt://ho st", "invalid host"},
      {"mqtt://@host", "empty user name"},
      {"mqtt://u:p%zz@host", "percent escape in password"},
      {"mqtt://host/a/+/b", "invalid topic prefix"},
      {"mqtt://host/a//b", "invalid topic prefix"},
      {"mqtt://host/$SYS", "invalid topic prefix"},
      {"mqtt://host/a#", "'#' is not allowed"},
      {"mqtt://host?cafile=/x.pem", "need mqtts://"},
      {"mqtt://host?insecure=true", "need mqtts://"},
      {"mqtts://host?insecure=maybe", "insecure must be true or false"},
      {"mqtts://host?certfile=/c.pem", "needs both certfile and keyfile"},
      {"mqtts://host?keyfile=", "keyfile needs a file name"},
      {"mqtts://host?cafile=", "cafile needs a file name"},
      {"mqtt://host?keepalive=1", "keepalive (seconds) must be"},
      {"mqtt://host?interval=-1", "interval (seconds) must be"},
      {"mqtt://host?discovery=maybe", "discovery must be all, strings or off"},
      {"mqtt://host?colour=blue", "unknown option 'colour'"},
      {"mqtt://host?keepalive", "needs a value"},
      {"mqtt://[::1", "unterminated '['"},
      {"mqtt://[::1]x", "unexpected 'x'"},
  };
  for (const auto& [url, expected] : cases) {
    auto s = parseMqttUrl(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_NE(s.error().message.find(expected), std::string::npos)
        << url << " -> " << s.error().message;
  }
}

TEST(MqttUrl, TopicPrefixRule) {
  EXPECT_TRUE(validTopicPrefix("equalis/site-1"));
  EXPECT_FALSE(validTopicPrefix(""));
  EXPECT_FALSE(validTopicPrefix("/abs"));
  EXPECT_FALSE(validTopicPrefix("a/"));
  EXPECT_FALSE(validTopicPrefix("a/#"));
}

}  // namespace
}  // namespace equalis::mqtt
