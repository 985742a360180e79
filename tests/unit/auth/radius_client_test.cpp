// The RADIUS client on the wire: PAP password hiding (RFC 2865 §5.2), the Access-Request and its
// Message-Authenticator (RFC 3579 §3.2), the checks of every reply (RFC 2865 §3), and logins
// against a fake RADIUS server on loopback that answers correctly, wrongly or not at all. The
// expected bytes are computed here with OpenSSL, independently of the client's own code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "auth/radius.hpp"

namespace equalis::auth {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr const char* kSecret = "testing123";

Bytes bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

Bytes hex(std::string_view text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(
        static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

RadiusVector vectorOf(const Bytes& b) {
  RadiusVector v{};
  std::copy_n(b.begin(), v.size(), v.begin());
  return v;
}

// MD5 and HMAC-MD5 straight from OpenSSL, for the expected values.
Bytes md5Of(const Bytes& data) {
  Bytes out(16);
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_md5(), nullptr), 1);
  return out;
}

Bytes hmacMd5Of(std::string_view key, const Bytes& data) {
  Bytes out(16);
  unsigned int length = 0;
  EXPECT_NE(HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
                 out.data(), &length),
            nullptr);
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// RFC 2865 §5.2 written out once more: c(i) = p(i) XOR MD5(S + c(i-1)), c(0) = RA.
Bytes expectedHidden(std::string_view password, std::string_view secret, const Bytes& ra) {
  Bytes padded = bytes(password);
  padded.resize(std::max<std::size_t>(16, (padded.size() + 15) / 16 * 16), 0);
  Bytes out;
  Bytes previous = ra;
  for (std::size_t i = 0; i < padded.size(); i += 16) {
    const Bytes b = md5Of(concat({bytes(secret), previous}));
    Bytes c(16);
    for (std::size_t j = 0; j < 16; ++j) {
      c[j] = padded[i + j] ^ b[j];
    }
    out.insert(out.end(), c.begin(), c.end());
    previous = c;
  }
  return out;
}

// The inverse: p(i) = c(i) XOR MD5(S + c(i-1)), trailing NULs removed.
std::string unhide(const Bytes& hidden, std::string_view secret, const Bytes& ra) {
  std::string out;
  Bytes previous = ra;
  for (std::size_t i = 0; i + 16 <= hidden.size(); i += 16) {
    const Bytes b = md5Of(concat({bytes(secret), previous}));
    for (std::size_t j = 0; j < 16; ++j) {
      out += static_cast<char>(hidden[i + j] ^ b[j]);
    }
    previous.assign(hidden.begin() + static_cast<std::ptrdiff_t>(i),
                    hidden.begin() + static_cast<std::ptrdiff_t>(i + 16));
  }
  while (!out.empty() && out.back() == '\0') {
    out.pop_back();
  }
  return out;
}

// A reply as a server builds it (RFC 2865 §3, RFC 3579 §3.2), with knobs to make it wrong.
struct ReplySpec {
  std::uint8_t code = 2;
  std::vector<std::pair<std::uint8_t, Bytes>> attributes;
  bool message_authenticator = true;
  std::string secret = kSecret;     // signs the Response Authenticator
  bool zero_authenticator = false;  // all-zero Response Authenticator
  bool bad_message_authenticator = false;
  int identifier_offset = 0;  // added to the request's identifier
};

Bytes buildReply(const ReplySpec& spec, std::uint8_t identifier, const Bytes& request_auth) {
  Bytes packet = {spec.code, static_cast<std::uint8_t>(identifier + spec.identifier_offset), 0, 0};
  packet.insert(packet.end(), request_auth.begin(), request_auth.end());
  for (const auto& [type, value] : spec.attributes) {
    packet.push_back(type);
    packet.push_back(static_cast<std::uint8_t>(value.size() + 2));
    packet.insert(packet.end(), value.begin(), value.end());
  }
  std::size_t ma_at = 0;
  if (spec.message_authenticator) {
    packet.push_back(80);
    packet.push_back(18);
    ma_at = packet.size();
    packet.resize(packet.size() + 16, 0);
  }
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size());
  if (ma_at != 0) {
    Bytes ma = hmacMd5Of(spec.secret, packet);  // the Request Authenticator is in place here
    if (spec.bad_message_authenticator) {
      ma[0] ^= 1;
    }
    std::copy(ma.begin(), ma.end(), packet.begin() + static_cast<std::ptrdiff_t>(ma_at));
  }
  const Bytes response_auth =
      spec.zero_authenticator ? Bytes(16, 0) : md5Of(concat({packet, bytes(spec.secret)}));
  std::copy(response_auth.begin(), response_auth.end(), packet.begin() + 4);
  return packet;
}

// Recomputes the Response Authenticator of `packet` (after the test changed its attributes).
void resign(Bytes& packet, const Bytes& request_auth, std::string_view secret) {
  Bytes copy = packet;
  std::copy(request_auth.begin(), request_auth.end(), copy.begin() + 4);
  const Bytes response_auth = md5Of(concat({copy, bytes(secret)}));
  std::copy(response_auth.begin(), response_auth.end(), packet.begin() + 4);
}

// An Access-Request as the fake server saw it.
struct SeenRequest {
  Bytes packet;
  std::uint8_t identifier = 0;
  Bytes authenticator;
  std::map<std::uint8_t, Bytes> attributes;  // the last of each type
  bool message_authenticator_ok = false;
};

SeenRequest readRequest(const Bytes& packet) {
  SeenRequest r;
  r.packet = packet;
  if (packet.size() < 20 || packet[0] != 1 ||
      ((std::size_t{packet[2]} << 8) | packet[3]) != packet.size()) {
    return r;
  }
  r.identifier = packet[1];
  r.authenticator.assign(packet.begin() + 4, packet.begin() + 20);
  std::size_t ma_at = 0;
  for (std::size_t at = 20; at + 2 <= packet.size() && packet[at + 1] >= 2;) {
    const std::size_t size = packet[at + 1];
    if (at + size > packet.size()) {
      break;
    }
    r.attributes[packet[at]].assign(packet.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                    packet.begin() + static_cast<std::ptrdiff_t>(at + size));
    if (packet[at] == 80 && size == 18) {
      ma_at = at + 2;
    }
    at += size;
  }
  if (ma_at != 0) {
    Bytes zeroed = packet;
    std::fill_n(zeroed.begin() + static_cast<std::ptrdiff_t>(ma_at), 16, 0);
    r.message_authenticator_ok = hmacMd5Of(kSecret, zeroed) == r.attributes[80];
  }
  return r;
}

struct Datagram {
  Bytes bytes;
  bool from_other_port = false;  // sent from another socket than the one the request went to
};

// What the fake server sends back for a request: the number of the request (0 for the first) and
// the request itself.
using Responder = std::function<std::vector<Datagram>(int, const SeenRequest&)>;

int boundUdpSocket() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

int portOf(int fd) {
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  return ntohs(addr.sin_port);
}

// A RADIUS server on a free loopback port, on a thread of its own; `responder` says what it
// sends back (nothing: it stays silent).
class FakeRadius {
 public:
  explicit FakeRadius(Responder responder)
      : responder_(std::move(responder)),
        fd_(boundUdpSocket()),
        other_fd_(boundUdpSocket()),
        thread_([this] { run(); }) {}
  FakeRadius(const FakeRadius&) = delete;
  FakeRadius& operator=(const FakeRadius&) = delete;
  ~FakeRadius() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    ::close(other_fd_);
  }
  int port() const { return portOf(fd_); }
  std::vector<SeenRequest> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    std::array<std::uint8_t, 8192> buffer{};
    while (!stop_) {
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, 20) <= 0) {
        continue;
      }
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n <= 0) {
        continue;
      }
      const SeenRequest request =
          readRequest(Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n)));
      int index = 0;
      {
        const std::lock_guard lock(mutex_);
        index = static_cast<int>(requests_.size());
        requests_.push_back(request);
      }
      for (const auto& d : responder_(index, request)) {
        ::sendto(d.from_other_port ? other_fd_ : fd_, d.bytes.data(), d.bytes.size(), 0,
                 reinterpret_cast<sockaddr*>(&from), from_length);
      }
    }
  }

  Responder responder_;
  int fd_;
  int other_fd_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  std::thread thread_;
};

// A server that answers every request with `specs`, in order.
Responder answering(std::vector<ReplySpec> specs) {
  return [specs = std::move(specs)](int, const SeenRequest& r) {
    std::vector<Datagram> out;
    for (const auto& spec : specs) {
      out.push_back({buildReply(spec, r.identifier, r.authenticator)});
    }
    return out;
  };
}

ReplySpec acceptWith(std::string_view filter_id) {
  ReplySpec spec;
  spec.attributes = {{11, bytes(filter_id)}};
  return spec;
}

constexpr DurationMs kShortTimeoutMs = 250;

RadiusSettings settingsFor(std::vector<int> ports, DurationMs timeout_ms = kShortTimeoutMs,
                           int retries = 0) {
  RadiusSettings s;
  for (const int port : ports) {
    s.servers.push_back({"127.0.0.1", port});
  }
  s.secret = kSecret;
  s.timeout_ms = timeout_ms;
  s.retries = retries;
  s.nas_identifier = "equalis-test";
  return s;
}

std::unique_ptr<RadiusAuthenticator> authenticatorFor(const RadiusSettings& s) {
  auto a = RadiusAuthenticator::create(s);
  EXPECT_TRUE(a) << a.error().message;
  return a ? std::move(*a) : nullptr;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// RFC 2865 §7.1: user nemo, password "arctangent", secret "xyzzy5461".
const Bytes kRfcRequestAuthenticator = hex("0f403f9473978057bd83d5cb98f4227a");
const Bytes kRfcAccept =
    hex("02000026"
        "86fe220e7624ba2a1005f6bf9b55e0b2"
        "060600000001"
        "0f0600000000"
        "0e06c0a80103");

TEST(AuthRadiusWire, PasswordHidingMatchesTheRfcExample) {
  const auto hidden =
      hideRadiusPassword("arctangent", "xyzzy5461", vectorOf(kRfcRequestAuthenticator));
  EXPECT_EQ(hidden, hex("0dbe708d93d413ce3196e43f782a0aee"));
}

TEST(AuthRadiusWire, PasswordHidingChainsBlocksAndRoundTrips) {
  const Bytes ra = hex("00112233445566778899aabbccddeeff");
  for (const std::string& password :
       {std::string("x"), std::string(16, 'a'), std::string(17, 'b'),
        std::string("a pass phrase longer than two blocks of sixteen"), std::string(128, 'z')}) {
    const auto hidden = hideRadiusPassword(password, kSecret, vectorOf(ra));
    EXPECT_EQ(hidden.size(), std::max<std::size_t>(16, (password.size() + 15) / 16 * 16));
    EXPECT_EQ(hidden, expectedHidden(password, kSecret, ra)) << password;
    EXPECT_EQ(unhide(hidden, kSecret, ra), password);
    EXPECT_NE(unhide(hidden, "another-secret", ra), password);
  }
  EXPECT_TRUE(hideRadiusPassword(std::string(129, 'z'), kSecret, vectorOf(ra)).empty());
}

TEST(AuthRadiusWire, TheAccessRequestCarriesTheAttributesAndAValidMessageAuthenticator) {
  const RadiusRequest request{"nemo", "arctangent", "equalis", "192.0.2.7"};
  const auto packet =
      buildRadiusAccessRequest(request, 7, vectorOf(kRfcRequestAuthenticator), "xyzzy5461");
  ASSERT_GE(packet.size(), 20U);
  EXPECT_EQ(packet[0], 1);
  EXPECT_EQ(packet[1], 7);
  EXPECT_EQ((std::size_t{packet[2]} << 8) | packet[3], packet.size());
  EXPECT_EQ(Bytes(packet.begin() + 4, packet.begin() + 20), kRfcRequestAuthenticator);
  // User-Name and User-Password exactly as in RFC 2865 §7.1.
  EXPECT_EQ(Bytes(packet.begin() + 20, packet.begin() + 44),
            hex("01066e656d6f02120dbe708d93d413ce3196e43f782a0aee"));
  const std::string tail(packet.begin() + 44, packet.end());
  EXPECT_NE(tail.find(std::string("\x20\x09"
                                  "equalis")),
            std::string::npos);  // NAS-Identifier
  EXPECT_NE(tail.find(std::string("\x06\x06\x00\x00\x00\x01", 6)), std::string::npos);
  EXPECT_NE(tail.find(std::string("\x1f\x0b"
                                  "192.0.2.7")),
            std::string::npos);
  // Message-Authenticator: last, HMAC-MD5 over the packet with its value zeroed.
  ASSERT_EQ(packet[packet.size() - 18], 80);
  ASSERT_EQ(packet[packet.size() - 17], 18);
  Bytes zeroed(packet.begin(), packet.end());
  std::fill(zeroed.end() - 16, zeroed.end(), 0);
  EXPECT_EQ(Bytes(packet.end() - 16, packet.end()), hmacMd5Of("xyzzy5461", zeroed));

  // No Calling-Station-Id when there is no client address; nothing when a value does not fit.
  const auto without = buildRadiusAccessRequest({"nemo", "arctangent", "equalis", ""}, 7,
                                                vectorOf(kRfcRequestAuthenticator), "xyzzy5461");
  EXPECT_EQ(without.size(), packet.size() - 11);
  EXPECT_TRUE(buildRadiusAccessRequest({std::string(254, 'n'), "pw", "equalis", ""}, 7,
                                       vectorOf(kRfcRequestAuthenticator), "xyzzy5461")
                  .empty());
}

TEST(AuthRadiusWire, TheRfcAccessAcceptVerifies) {
  const auto r = parseRadiusReply(kRfcAccept, 0, vectorOf(kRfcRequestAuthenticator), "xyzzy5461");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->code, RadiusCode::kAccessAccept);
  EXPECT_FALSE(r->message_authenticator);
  ASSERT_EQ(r->attributes.size(), 3U);
  EXPECT_EQ(r->attributes[0].type, 6);
  EXPECT_EQ(r->attributes[0].value, std::string("\0\0\0\1", 4));
  EXPECT_EQ(r->attributes[2].type, 14);
  // Bytes beyond the Length field are padding (RFC 2865 §3).
  Bytes padded = kRfcAccept;
  padded.resize(padded.size() + 5, 0xee);
  EXPECT_TRUE(parseRadiusReply(padded, 0, vectorOf(kRfcRequestAuthenticator), "xyzzy5461"));
}

TEST(AuthRadiusWire, RepliesThatFailACheckAreRefusedWithTheReason) {
  const auto ra = vectorOf(kRfcRequestAuthenticator);
  const auto refused = [&](const Bytes& packet, std::uint8_t id, std::string_view secret,
                           std::string_view expected) {
    const auto r = parseRadiusReply(packet, id, ra, secret);
    ASSERT_FALSE(r) << expected;
    EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << r.error().message;
  };
  refused(kRfcAccept, 0, "another-secret", "Response Authenticator is wrong");
  refused(kRfcAccept, 1, "xyzzy5461", "identifier 0, the request's is 1");
  Bytes changed = kRfcAccept;
  changed.back() ^= 1;  // one bit of an attribute
  refused(changed, 0, "xyzzy5461", "Response Authenticator is wrong");
  changed = kRfcAccept;
  std::fill(changed.begin() + 4, changed.begin() + 20, 0);
  refused(changed, 0, "xyzzy5461", "Response Authenticator is wrong");
  changed = kRfcAccept;
  changed[0] = 4;  // Accounting-Request
  refused(changed, 0, "xyzzy5461", "code 4 does not answer an Access-Request");
  refused(Bytes(kRfcAccept.begin(), kRfcAccept.begin() + 19), 0, "xyzzy5461",
          "a datagram of 19 bytes");
  refused(Bytes(kRfcAccept.begin(), kRfcAccept.end() - 1), 0, "xyzzy5461",
          "its Length field says 38 bytes, the datagram has 37");
  changed = kRfcAccept;
  changed[3] = 19;
  refused(changed, 0, "xyzzy5461", "its Length field says 19 bytes");
  refused(Bytes(4097, 0), 0, "xyzzy5461", "a datagram of 4097 bytes");
  // Attribute lengths that overrun the packet, or are below 2: refused even when signed right.
  for (const auto& [length, expected] :
       std::vector<std::pair<std::uint8_t, std::string>>{{0x07, "has length 7, 6 bytes are left"},
                                                         {0xff, "has length 255"},
                                                         {0x01, "has length 1"},
                                                         {0x00, "has length 0"}}) {
    changed = kRfcAccept;
    changed[changed.size() - 5] = length;  // Login-IP-Host's length
    resign(changed, kRfcRequestAuthenticator, "xyzzy5461");
    refused(changed, 0, "xyzzy5461", expected);
  }
  changed = kRfcAccept;
  changed.push_back(0x12);  // one byte of a next attribute
  changed[3] = static_cast<std::uint8_t>(changed.size());
  resign(changed, kRfcRequestAuthenticator, "xyzzy5461");
  refused(changed, 0, "xyzzy5461", "the attribute at byte 38 is cut off");
}

TEST(AuthRadiusWire, AMessageAuthenticatorIsCheckedWhenThereIsOne) {
  const Bytes ra = hex("00112233445566778899aabbccddeeff");
  ReplySpec spec = acceptWith("admin");
  auto r = parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->message_authenticator);
  ASSERT_EQ(r->attributes.size(), 1U);  // the Message-Authenticator is not listed
  EXPECT_EQ(r->attributes[0].value, "admin");

  spec.bad_message_authenticator = true;  // the Response Authenticator is right
  r = parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the Message-Authenticator is wrong");

  spec = acceptWith("admin");
  spec.attributes.push_back({80, Bytes(16, 0)});  // a second one
  r = parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "a Message-Authenticator of the wrong length, or two of them");
  spec = acceptWith("admin");
  spec.message_authenticator = false;
  spec.attributes.push_back({80, Bytes(15, 0)});
  r = parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret);
  ASSERT_FALSE(r);

  // Without one, the Response Authenticator alone decides: FreeRADIUS 3.2.1 of Debian 12 sends
  // none, not even in reply to a request that has one. Such a reply is used only when its
  // Response Authenticator is right.
  spec = acceptWith("admin");
  spec.message_authenticator = false;
  EXPECT_TRUE(parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret));
  spec.secret = "wrong-secret";
  EXPECT_FALSE(parseRadiusReply(buildReply(spec, 9, ra), 9, vectorOf(ra), kSecret));
}

TEST(AuthRadiusClient, AnAcceptWithFilterIdLogsInWithItsRole) {
  const FakeRadius server(answering({acceptWith("equalis-operator")}));
  auto a = authenticatorFor(settingsFor({server.port()}, 2000));
  ASSERT_TRUE(a);
  const auto r = a->authenticate("alice", "alice's password", "192.0.2.7");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->role, Role::kOperator);
  EXPECT_EQ(r->method, "radius");

  // What the server received: a signed Access-Request with every attribute.
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1U);
  auto seen = requests[0];
  EXPECT_TRUE(seen.message_authenticator_ok);
  EXPECT_EQ(seen.attributes[1], bytes("alice"));
  EXPECT_EQ(seen.attributes[2].size(), 16U);  // 16 bytes: one block
  EXPECT_EQ(unhide(seen.attributes[2], kSecret, seen.authenticator), "alice's password");
  EXPECT_EQ(seen.attributes[32], bytes("equalis-test"));
  EXPECT_EQ(seen.attributes[6], hex("00000001"));
  EXPECT_EQ(seen.attributes[31], bytes("192.0.2.7"));
  EXPECT_NE(seen.authenticator, Bytes(16, 0));
}

TEST(AuthRadiusClient, AnAcceptWithoutMessageAuthenticatorButSignedRightIsUsed) {
  ReplySpec spec = acceptWith("Admin");
  spec.message_authenticator = false;
  const FakeRadius server(answering({spec}));
  auto a = authenticatorFor(settingsFor({server.port()}, 2000));
  ASSERT_TRUE(a);
  const auto r = a->authenticate("bob", "bob's password", "192.0.2.8");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->role, Role::kAdmin);
}

// Each of these replies must be ignored: the login then ends with no valid answer.
void expectIgnored(const std::vector<ReplySpec>& specs, const std::string& what) {
  const FakeRadius server(answering(specs));
  auto a = authenticatorFor(settingsFor({server.port()}));
  ASSERT_TRUE(a);
  const auto start = std::chrono::steady_clock::now();
  const auto r = a->authenticate("alice", "alice's password", "192.0.2.7");
  const double elapsed_ms = msSince(start);
  ASSERT_FALSE(r) << what << ": accepted with role " << roleName(r->role);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << what;
  EXPECT_EQ(r.error().message, "RADIUS server not reachable") << what;
  EXPECT_GE(elapsed_ms, kShortTimeoutMs - 10) << what;
  EXPECT_EQ(server.requests().size(), 1U) << what;
}

TEST(AuthRadiusClient, ForgedAndMismatchedRepliesAreIgnored) {
  ReplySpec wrong_secret = acceptWith("admin");
  wrong_secret.secret = "not-the-secret";
  expectIgnored({wrong_secret}, "signed with another secret");
  wrong_secret.message_authenticator = false;
  expectIgnored({wrong_secret}, "signed with another secret, no Message-Authenticator");

  ReplySpec zero = acceptWith("admin");
  zero.zero_authenticator = true;
  expectIgnored({zero}, "all-zero Response Authenticator");
  zero.message_authenticator = false;
  expectIgnored({zero}, "all-zero Response Authenticator, no Message-Authenticator");

  ReplySpec other_id = acceptWith("admin");
  other_id.identifier_offset = 1;
  expectIgnored({other_id}, "another identifier");

  ReplySpec bad_ma = acceptWith("admin");
  bad_ma.bad_message_authenticator = true;
  expectIgnored({bad_ma}, "a wrong Message-Authenticator");
}

TEST(AuthRadiusClient, BrokenDatagramsAreIgnoredAndAGoodReplyAfterThemIsUsed) {
  const FakeRadius server([](int, const SeenRequest& r) {
    Bytes good = buildReply(acceptWith("viewer"), r.identifier, r.authenticator);
    std::vector<Datagram> out;
    out.push_back({Bytes(good.begin(), good.begin() + 10)});  // shorter than a header
    out.push_back({Bytes(good.begin(), good.end() - 1)});     // shorter than its Length
    Bytes overflow = good;
    overflow[21] = 0xff;  // Filter-Id's length overruns the packet
    resign(overflow, r.authenticator, kSecret);
    out.push_back({overflow});
    Bytes zero_length = good;
    zero_length[21] = 0;
    resign(zero_length, r.authenticator, kSecret);
    out.push_back({zero_length});
    out.push_back({Bytes(5000, 0x02)});  // longer than any RADIUS packet
    out.push_back({Bytes{}});            // empty
    ReplySpec forged = acceptWith("admin");
    forged.secret = "guessed";
    out.push_back({buildReply(forged, r.identifier, r.authenticator)});
    out.push_back({good});
    return out;
  });
  auto a = authenticatorFor(settingsFor({server.port()}, 2000));
  ASSERT_TRUE(a);
  const auto start = std::chrono::steady_clock::now();
  const auto r = a->authenticate("alice", "alice's password", "192.0.2.7");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->role, Role::kViewer);  // not the forged admin
  EXPECT_LT(msSince(start), 1500.0);  // within the first attempt
}

TEST(AuthRadiusClient, AReplyFromAnotherPortIsNotEvenReceived) {
  const FakeRadius server([](int, const SeenRequest& r) {
    return std::vector<Datagram>{
        {buildReply(acceptWith("admin"), r.identifier, r.authenticator), true}};
  });
  auto a = authenticatorFor(settingsFor({server.port()}));
  ASSERT_TRUE(a);
  const auto r = a->authenticate("alice", "alice's password", "192.0.2.7");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "RADIUS server not reachable");
}

TEST(AuthRadiusClient, RejectAndChallengeAreAWrongPassword) {
  for (const std::uint8_t code : {3, 11}) {
    ReplySpec spec;
    spec.code = code;
    const FakeRadius server(answering({spec}));
    auto a = authenticatorFor(settingsFor({server.port()}, 2000));
    ASSERT_TRUE(a);
    const auto r = a->authenticate("alice", "wrong", "192.0.2.7");
    ASSERT_FALSE(r) << int{code};
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "unknown user or wrong password");
  }
}

TEST(AuthRadiusClient, AnAcceptWithoutARoleIsAWrongPassword) {
  const FakeRadius server(answering({acceptWith("guest")}));
  auto a = authenticatorFor(settingsFor({server.port()}, 2000));
  ASSERT_TRUE(a);
  const auto r = a->authenticate("carol", "carol's password", "192.0.2.7");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "unknown user or wrong password");
}

TEST(AuthRadiusClient, ARetryResendsTheSamePacket) {
  const FakeRadius server([](int index, const SeenRequest& r) {
    return index == 0 ? std::vector<Datagram>{}
                      : std::vector<Datagram>{
                            {buildReply(acceptWith("operator"), r.identifier, r.authenticator)}};
  });
  auto a = authenticatorFor(settingsFor({server.port()}, kShortTimeoutMs, 1));
  ASSERT_TRUE(a);
  const auto r = a->authenticate("alice", "alice's password", "192.0.2.7");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->role, Role::kOperator);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].packet, requests[1].packet);  // RFC 5080 §2.2.1
}

TEST(AuthRadiusClient, TheNextServerIsAskedWhenOneIsSilent) {
  const FakeRadius silent([](int, const SeenRequest&) { return std::vector<Datagram>{}; });
  const FakeRadius second(answering({acceptWith("admin")}));
  auto a = authenticatorFor(settingsFor({silent.port(), second.port()}, kShortTimeoutMs, 1));
  ASSERT_TRUE(a);
  const auto start = std::chrono::steady_clock::now();
  const auto r = a->authenticate("bob", "bob's password", "192.0.2.8");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->role, Role::kAdmin);
  EXPECT_GE(msSince(start), 2 * kShortTimeoutMs - 10);  // both attempts at the first server
  EXPECT_EQ(silent.requests().size(), 2U);
  ASSERT_EQ(second.requests().size(), 1U);
  EXPECT_TRUE(second.requests()[0].message_authenticator_ok);
  // A new identifier and Request Authenticator for the other server.
  EXPECT_NE(silent.requests()[0].authenticator, second.requests()[0].authenticator);
}

TEST(AuthRadiusClient, EveryLoginHasItsOwnRequestAuthenticator) {
  const FakeRadius server(answering({acceptWith("viewer")}));
  auto a = authenticatorFor(settingsFor({server.port()}, 2000));
  ASSERT_TRUE(a);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a->authenticate("alice", "alice's password", "192.0.2.7"));
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5U);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    for (std::size_t j = i + 1; j < requests.size(); ++j) {
      EXPECT_NE(requests[i].authenticator, requests[j].authenticator);
    }
  }
}

}  // namespace
}  // namespace equalis::auth
