// RADIUS logins: the role named by an Access-Accept's attribute, server entries, the settings'
// limits, and what the authenticator does without a server (no answer, refused input, too many
// logins at once). The client on the wire against a fake server: radius_client_test.cpp; accept
// and reject against a real one: tests/integration/radius_test.py.
#include "auth/radius.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

using namespace std::string_literals;

TEST(AuthRadiusRole, ValuesNameARoleOptionallyPrefixedIgnoringCase) {
  EXPECT_EQ(roleFromAttributeValue("viewer"), Role::kViewer);
  EXPECT_EQ(roleFromAttributeValue("operator"), Role::kOperator);
  EXPECT_EQ(roleFromAttributeValue("admin"), Role::kAdmin);
  EXPECT_EQ(roleFromAttributeValue("equalis-operator"), Role::kOperator);
  EXPECT_EQ(roleFromAttributeValue("EQUALIS-ADMIN"), Role::kAdmin);
  EXPECT_EQ(roleFromAttributeValue("Equalis-Viewer"), Role::kViewer);
  EXPECT_EQ(roleFromAttributeValue("Admin"), Role::kAdmin);
  // Surrounding spaces and the trailing NUL some servers send.
  EXPECT_EQ(roleFromAttributeValue(" operator "), Role::kOperator);
  EXPECT_EQ(roleFromAttributeValue("equalis-admin\0"s), Role::kAdmin);
}

TEST(AuthRadiusRole, OtherValuesNameNoRole) {
  for (const std::string& value :
       {""s, "equalis-"s, "root"s, "administrator"s, "equalisadmin"s, "equalis_admin"s,
        "equalis-equalis-admin"s, "other-admin"s, "admin2"s, "ad\0min"s, "\xff\xfe"s}) {
    EXPECT_EQ(roleFromAttributeValue(value), std::nullopt) << value;
  }
}

TEST(AuthRadiusRole, TheAcceptsRoleIsTheOneItsValuesName) {
  const auto filter = RoleAttribute::kFilterId;
  auto r = roleFromAccept({"equalis-operator"}, filter, std::nullopt);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, Role::kOperator);
  // Values that name no role (another use of Class, say) are ignored; the same role twice is fine.
  r = roleFromAccept({"\x01\x02session", "admin", "equalis-ADMIN"}, RoleAttribute::kClass,
                     std::nullopt);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, Role::kAdmin);
  // A named role wins over the default role.
  r = roleFromAccept({"viewer"}, filter, Role::kAdmin);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Role::kViewer);
}

TEST(AuthRadiusRole, WithoutARoleTheDefaultRoleOrARefusalThatSaysWhy) {
  auto r = roleFromAccept({}, RoleAttribute::kFilterId, Role::kViewer);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Role::kViewer);
  r = roleFromAccept({"guest"}, RoleAttribute::kClass, Role::kOperator);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Role::kOperator);

  r = roleFromAccept({}, RoleAttribute::kFilterId, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message,
            "the Access-Accept has no Filter-Id attribute (viewer, operator or admin) and "
            "[radius] default_role is not set");
  r = roleFromAccept({"guest", "ro\nle"}, RoleAttribute::kClass, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "no Class value of the Access-Accept names a role (\"guest\", \"ro\\x0ale\"; "
            "expected viewer, operator or admin, optionally prefixed equalis-) and [radius] "
            "default_role is not set");
}

TEST(AuthRadiusRole, DifferentRolesAreRefusedEvenWithADefault) {
  const auto r =
      roleFromAccept({"viewer", "equalis-admin"}, RoleAttribute::kFilterId, Role::kViewer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "the Access-Accept's Filter-Id attributes name different roles (viewer and admin)");
}

TEST(AuthRadiusRole, RoleAttributeNames) {
  EXPECT_EQ(parseRoleAttribute("Filter-Id"), RoleAttribute::kFilterId);
  EXPECT_EQ(parseRoleAttribute("filter-id"), RoleAttribute::kFilterId);
  EXPECT_EQ(parseRoleAttribute("Class"), RoleAttribute::kClass);
  EXPECT_EQ(parseRoleAttribute("CLASS"), RoleAttribute::kClass);
  EXPECT_EQ(parseRoleAttribute("Reply-Message"), std::nullopt);
  EXPECT_EQ(parseRoleAttribute(""), std::nullopt);
  EXPECT_EQ(roleAttributeName(RoleAttribute::kFilterId), "Filter-Id");
  EXPECT_EQ(roleAttributeName(RoleAttribute::kClass), "Class");
}

TEST(AuthRadiusServer, HostAndPortWithDefaultPortAndIpv6InBrackets) {
  auto s = parseRadiusServer("127.0.0.1:1812");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->host, "127.0.0.1");
  EXPECT_EQ(s->port, 1812);
  s = parseRadiusServer("radius.example.org");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "radius.example.org");
  EXPECT_EQ(s->port, 1812);
  s = parseRadiusServer("[2001:db8::1]:11812");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "2001:db8::1");
  EXPECT_EQ(s->port, 11812);
  EXPECT_EQ(formatRadiusServer(*s), "[2001:db8::1]:11812");
  s = parseRadiusServer("[::1]");
  ASSERT_TRUE(s);
  EXPECT_EQ(formatRadiusServer(*s), "[::1]:1812");
  EXPECT_EQ(formatRadiusServer({"10.0.0.5", 1645}), "10.0.0.5:1645");
}

TEST(AuthRadiusServer, BadEntriesSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "the host is missing"},
      {":1812", "the host is missing"},
      {"host:", "the port is missing"},
      {"host:0", "the port must be 1 to 65535"},
      {"host:65536", "the port must be 1 to 65535"},
      {"host:18x", "the port must be 1 to 65535"},
      {"::1:1812", "write an IPv6 address in brackets"},
      {"[::1", "needs its closing ']'"},
      {"[::1]1812", "expected [IPV6]:PORT"},
      {"[::1]:", "expected [IPV6]:PORT"},
      {"[host]:1812", "brackets are for IPv6 addresses only"},
      {"a b:1812", "is not a host name or IP address"},
      {"a,b:1812", "is not a host name or IP address"},
  };
  for (const auto& [text, expected] : cases) {
    const auto s = parseRadiusServer(text);
    ASSERT_FALSE(s) << text;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find(expected), std::string::npos)
        << text << ": " << s.error().message;
  }
}

RadiusSettings validSettings() {
  RadiusSettings s;
  s.servers = {{"127.0.0.1", 1812}, {"radius2.example.org", 1812}};
  s.secret = "s3cret:with-colon";
  return s;
}

TEST(AuthRadiusSettings, ValidSettingsPass) {
  EXPECT_TRUE(validateRadiusSettings(validSettings()));
  auto s = validSettings();
  s.timeout_ms = 60'000;
  s.retries = 0;
  s.secret = std::string(96, 'x');
  s.servers.resize(8, {"10.0.0.1", 1812});
  EXPECT_TRUE(validateRadiusSettings(s));
  s.timeout_ms = 100;  // any number of milliseconds from 100
  EXPECT_TRUE(validateRadiusSettings(s));
  s.timeout_ms = 1234;
  EXPECT_TRUE(validateRadiusSettings(s));
}

TEST(AuthRadiusSettings, EachLimitIsNamedAndTheSecretNeverShown) {
  struct Case {
    void (*change)(RadiusSettings&);
    const char* expected;
  };
  const Case cases[] = {
      {[](RadiusSettings& s) { s.servers.clear(); }, "servers: give 1 to 8 RADIUS servers, got 0"},
      {[](RadiusSettings& s) {
         s.servers.resize(9, {"10.0.0.1", 1812});
       },
       "servers: give 1 to 8 RADIUS servers, got 9"},
      {[](RadiusSettings& s) { s.servers[0].port = 0; }, "servers: "},
      {[](RadiusSettings& s) { s.servers[0].host = "bad host"; }, "servers: "},
      {[](RadiusSettings& s) { s.secret.clear(); }, "secret: must be 1 to 96 bytes long, got 0"},
      {[](RadiusSettings& s) { s.secret = std::string(97, 'x'); },
       "secret: must be 1 to 96 bytes long, got 97"},
      {[](RadiusSettings& s) { s.secret = "my secret"; }, "secret: only printable ASCII"},
      {[](RadiusSettings& s) { s.secret = "my,secret"; }, "secret: only printable ASCII"},
      {[](RadiusSettings& s) { s.secret = "my[secret]"; }, "secret: only printable ASCII"},
      {[](RadiusSettings& s) { s.secret = "my\x01secret"; }, "secret: only printable ASCII"},
      {[](RadiusSettings& s) { s.timeout_ms = 99; }, "timeout_ms: must be 100 to 60000 ms, got 99"},
      {[](RadiusSettings& s) { s.timeout_ms = 0; }, "timeout_ms: must be 100 to 60000 ms, got 0"},
      {[](RadiusSettings& s) { s.timeout_ms = 61'000; },
       "timeout_ms: must be 100 to 60000 ms, got 61000"},
      {[](RadiusSettings& s) { s.retries = -1; }, "retries: must be 0 to 10, got -1"},
      {[](RadiusSettings& s) { s.retries = 11; }, "retries: must be 0 to 10, got 11"},
      {[](RadiusSettings& s) { s.nas_identifier.clear(); }, "nas_identifier: must be 1 to 64"},
      {[](RadiusSettings& s) { s.nas_identifier = std::string(65, 'n'); },
       "nas_identifier: must be 1 to 64"},
      {[](RadiusSettings& s) { s.nas_identifier = "nas\n"; }, "nas_identifier: must be 1 to 64"},
      {[](RadiusSettings& s) { s.max_concurrent = 0; }, "max_concurrent: must be 1 to 64"},
  };
  for (const auto& c : cases) {
    auto s = validSettings();
    c.change(s);
    const auto st = validateRadiusSettings(s);
    ASSERT_FALSE(st) << c.expected;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(st.error().message.rfind(c.expected, 0), 0U) << st.error().message;
    if (!s.secret.empty()) {
      EXPECT_EQ(st.error().message.find(s.secret), std::string::npos) << st.error().message;
    }
  }
}

TEST(AuthRadiusAuthenticator, CreateChecksTheSettings) {
  auto a = RadiusAuthenticator::create(validSettings());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ((*a)->serversText(), "127.0.0.1:1812, radius2.example.org:1812");

  auto s = validSettings();
  s.retries = 99;
  a = RadiusAuthenticator::create(s);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
}

// A UDP port on loopback where nobody answers: bound and never read, for as long as it lives.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t length = sizeof addr;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    port_ = ntohs(addr.sin_port);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

RadiusSettings silentSettings(const SilentServer& server, std::size_t max_concurrent = 2) {
  RadiusSettings s;
  s.servers = {{"127.0.0.1", server.port()}};
  s.secret = "testing123";
  s.timeout_ms = 1000;
  s.retries = 0;
  s.max_concurrent = max_concurrent;
  return s;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(AuthRadiusAuthenticator, NoAnswerIsUnavailableAfterTheTimeout) {
  const SilentServer server;
  auto a = RadiusAuthenticator::create(silentSettings(server));
  ASSERT_TRUE(a) << a.error().message;
  const auto start = std::chrono::steady_clock::now();
  const auto r = (*a)->authenticate("alice", "alice's password", "192.0.2.7");
  const double elapsed = secondsSince(start);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message, "RADIUS server not reachable");
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 10.0);
}

TEST(AuthRadiusAuthenticator, NamesAndPasswordsPapCannotCarryAreRefusedWithoutAsking) {
  const SilentServer server;
  auto a = RadiusAuthenticator::create(silentSettings(server));
  ASSERT_TRUE(a) << a.error().message;
  const auto start = std::chrono::steady_clock::now();
  const std::pair<std::string, std::string> cases[] = {
      {"", "password"},
      {"bad name", "password"},
      {"DOMAIN\\alice", "password"},
      {std::string(65, 'a'), "password"},
      {"alice", ""},
      {"alice", std::string(129, 'p')},
      {"alice", "pass\0word"s},
  };
  for (const auto& [user, password] : cases) {
    const auto r = (*a)->authenticate(user, password, "192.0.2.7");
    ASSERT_FALSE(r) << user;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << user;
    EXPECT_EQ(r.error().message, "unknown user or wrong password");
  }
  // None of them waited for the (silent) server.
  EXPECT_LT(secondsSince(start), 0.5);
}

TEST(AuthRadiusAuthenticator, LoginsBeyondMaxConcurrentAreRefusedAtOnce) {
  const SilentServer server;
  auto a = RadiusAuthenticator::create(silentSettings(server, 1));
  ASSERT_TRUE(a) << a.error().message;
  RadiusAuthenticator& authenticator = **a;
  auto first = std::async(std::launch::async, [&] {
    return authenticator.authenticate("alice", "alice's password", "192.0.2.7");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  const auto second = authenticator.authenticate("bob", "bob's password", "192.0.2.8");
  EXPECT_LT(secondsSince(start), 0.5);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(second.error().message, "too many RADIUS logins in progress; try again in a moment");
  const auto r = first.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "RADIUS server not reachable");
}

}  // namespace
}  // namespace equalis::auth
