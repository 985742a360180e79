#include "events/syslog.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace equalis::events {
namespace {

SyslogMessage sample() {
  SyslogMessage m;
  m.facility = 16;  // local0
  m.severity = 2;   // crit
  m.time_ms = 1'767'225'600'123;
  m.hostname = "bms1";
  m.app_name = "equalisd";
  m.procid = "4242";
  m.msgid = "alarm_raised";
  m.sd_id = "equalis@32473";
  m.sd_params = {{"string", "1"}, {"block", "7"}};
  m.msg = "String 1, block 7: voltage high";
  return m;
}

TEST(Syslog, FormatsRfc5424) {
  EXPECT_EQ(formatRfc5424(sample()),
            "<130>1 2026-01-01T00:00:00.123Z bms1 equalisd 4242 alarm_raised "
            "[equalis@32473 string=\"1\" block=\"7\"] String 1, block 7: voltage high");
}

TEST(Syslog, NilFieldsAndNoMessage) {
  SyslogMessage m;
  m.facility = 1;
  m.severity = 6;
  m.time_ms = 0;
  EXPECT_EQ(formatRfc5424(m), "<14>1 1970-01-01T00:00:00.000Z - - - - -");
}

TEST(Syslog, EscapesSdValuesAndSanitizesHeaderFields) {
  EXPECT_EQ(escapeSdValue(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  SyslogMessage m = sample();
  m.hostname = "my host";  // space is not PRINTUSASCII
  m.sd_params = {{"message", "say \"hi\" [x]"}};
  const std::string out = formatRfc5424(m);
  EXPECT_NE(out.find(" my_host "), std::string::npos) << out;
  EXPECT_NE(out.find(R"(message="say \"hi\" [x\]")"), std::string::npos) << out;
  m.app_name = std::string(60, 'a');
  EXPECT_NE(formatRfc5424(m).find(" " + std::string(48, 'a') + " "), std::string::npos);
}

TEST(Syslog, BomIsOptional) {
  SyslogMessage m = sample();
  m.msg = "Température élevée";
  m.bom = true;
  EXPECT_NE(formatRfc5424(m).find("] \xEF\xBB\xBFTempérature"), std::string::npos);
  m.bom = false;
  EXPECT_NE(formatRfc5424(m).find("] Température"), std::string::npos);
}

TEST(Syslog, OctetCounting) {
  EXPECT_EQ(octetFrame("<13>1 - - - - - -"), "17 <13>1 - - - - - -");
  // Bytes, not characters.
  EXPECT_EQ(octetFrame("é"), "2 é");
}

TEST(Syslog, TargetParsing) {
  model::SyslogConfig c;
  ASSERT_TRUE(model::parseSyslogTarget("tcp://10.0.0.1:6514", c).ok());
  EXPECT_EQ(c.transport, model::SyslogTransport::kTcp);
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 6514);
  ASSERT_TRUE(model::parseSyslogTarget("udp://logs.example.com", c).ok());
  EXPECT_EQ(c.transport, model::SyslogTransport::kUdp);
  EXPECT_EQ(c.port, 514);
  ASSERT_TRUE(model::parseSyslogTarget("udp://[::1]:1514", c).ok());
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 1514);
  EXPECT_FALSE(model::parseSyslogTarget("syslog://x", c).ok());
  EXPECT_FALSE(model::parseSyslogTarget("udp://:514", c).ok());
  EXPECT_FALSE(model::parseSyslogTarget("udp://x:70000", c).ok());
  EXPECT_FALSE(model::parseSyslogTarget("tcp://x:514/path", c).ok());
}

// A loopback socket bound to a free port.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int type) {
    fd = ::socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (type == SOCK_STREAM) {
      ::listen(fd, 4);
    }
  }
  ~Listener() { ::close(fd); }
};

std::string readAvailable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    return {};
  }
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

model::SyslogConfig target(model::SyslogTransport t, int port) {
  model::SyslogConfig c;
  c.transport = t;
  c.host = "127.0.0.1";
  c.port = port;
  c.timeout_ms = 2000;
  c.target = "x";
  return c;
}

TEST(SyslogSender, UdpOneDatagramPerMessage) {
  Listener udp(SOCK_DGRAM);
  SyslogSender s(target(model::SyslogTransport::kUdp, udp.port));
  ASSERT_TRUE(s.send("<13>1 - - - - - - one").ok());
  ASSERT_TRUE(s.send("<13>1 - - - - - - two").ok());
  EXPECT_EQ(readAvailable(udp.fd), "<13>1 - - - - - - one");
  EXPECT_EQ(readAvailable(udp.fd), "<13>1 - - - - - - two");
  EXPECT_EQ(s.describe(), "udp://127.0.0.1:" + std::to_string(udp.port));
}

TEST(SyslogSender, TcpOctetCountingAndReconnect) {
  Listener tcp(SOCK_STREAM);
  SyslogSender s(target(model::SyslogTransport::kTcp, tcp.port));
  ASSERT_TRUE(s.send("<13>1 - - - - - - first").ok());
  int conn = ::accept(tcp.fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  EXPECT_EQ(readAvailable(conn), "23 <13>1 - - - - - - first");
  // The collector drops the connection; the next message goes over a new one.
  ::close(conn);
  ::usleep(50 * 1000);
  ASSERT_TRUE(s.send("<13>1 - - - - - - second").ok());
  conn = ::accept(tcp.fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  EXPECT_EQ(readAvailable(conn), "24 <13>1 - - - - - - second");
  ::close(conn);
}

TEST(SyslogSender, TcpRefusedIsAClearError) {
  int port = 0;
  {
    Listener gone(SOCK_STREAM);
    port = gone.port;
  }
  SyslogSender s(target(model::SyslogTransport::kTcp, port));
  const auto st = s.send("<13>1 - - - - - - x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "connection refused");
}

}  // namespace
}  // namespace equalis::events
