#include "adapters/http/checks.hpp"

#include <gtest/gtest.h>

#include "adapters/http/message.hpp"

namespace equalis::http {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(validUtf8(""));
  EXPECT_TRUE(validUtf8("/api/v1/strings"));
  EXPECT_TRUE(validUtf8("Batterieraum Süd – 20 °C 🔋"));
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_FALSE(validUtf8("\xff"));
  EXPECT_FALSE(validUtf8("a\x80"));             // stray continuation byte
  EXPECT_FALSE(validUtf8("\xc3"));              // truncated
  EXPECT_FALSE(validUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(validUtf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  EXPECT_FALSE(validUtf8("\xed\xa0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(validUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(LogText, EscapesControlCharactersAndBadBytes) {
  EXPECT_EQ(escapeForLog("/a\r\n2026-01-01 [error] forged"),
            "/a\\x0d\\x0a2026-01-01 [error] forged");
  EXPECT_EQ(escapeForLog("a\\b"), "a\\x5cb");
  EXPECT_EQ(escapeForLog("\xff°"), "\\xff°");
  EXPECT_EQ(escapeForLog(std::string(300, 'x'), 10), std::string(10, 'x') + "…");
}

TEST(Host, NameWithoutPortAndCase) {
  EXPECT_EQ(hostName("BMS.Example.org:8080"), "bms.example.org");
  EXPECT_EQ(hostName("[::1]:80"), "::1");
  EXPECT_EQ(hostName("localhost."), "localhost");
  EXPECT_EQ(hostName("::1"), "");  // unbracketed IPv6 with a port is ambiguous
  EXPECT_EQ(hostName("[::1"), "");
  EXPECT_EQ(hostName(""), "");
}

TEST(Host, OnlyLiteralsLocalhostAndConfiguredNames) {
  const std::vector<std::string> names{"bms.example.org"};
  EXPECT_TRUE(hostAllowed("127.0.0.1:8080", names));
  EXPECT_TRUE(hostAllowed("10.1.2.3", names));
  EXPECT_TRUE(hostAllowed("[::1]:8080", names));
  EXPECT_TRUE(hostAllowed("localhost:8080", names));
  EXPECT_TRUE(hostAllowed("BMS.example.org", names));
  EXPECT_FALSE(hostAllowed("evil.example:8080", names));
  EXPECT_FALSE(hostAllowed("127.0.0.1.evil.example", names));
  EXPECT_FALSE(hostAllowed("", names));
}

TEST(Host, LoopbackAddressesAndNames) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(isLoopback(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "10.0.0.5", "::", "128.0.0.1", "localhost.example"}) {
    EXPECT_FALSE(isLoopback(host)) << host;
  }
}

TEST(Origin, SameSchemeHostAndPort) {
  EXPECT_TRUE(sameOrigin("http://127.0.0.1:8080", "127.0.0.1:8080", false));
  EXPECT_TRUE(sameOrigin("http://localhost", "localhost:80", false));
  EXPECT_TRUE(sameOrigin("https://bms.example.org", "BMS.example.org:443", true));
  EXPECT_FALSE(sameOrigin("http://127.0.0.1:9999", "127.0.0.1:8080", false));
  EXPECT_FALSE(sameOrigin("http://evil.example", "127.0.0.1:8080", false));
  EXPECT_FALSE(sameOrigin("https://127.0.0.1:8080", "127.0.0.1:8080", false));
  EXPECT_FALSE(sameOrigin("null", "127.0.0.1:8080", false));
  EXPECT_FALSE(sameOrigin("http://127.0.0.1:8080/x", "127.0.0.1:8080", false));
}

Request writeRequest(std::vector<Header> headers) {
  Request r;
  r.method = "POST";
  r.headers = std::move(headers);
  return r;
}

TEST(CrossSite, JsonFromTheSameOriginPasses) {
  EXPECT_EQ(crossSiteWriteRefusal(writeRequest({{"Host", "127.0.0.1:8080"},
                                                {"Origin", "http://127.0.0.1:8080"},
                                                {"Content-Type", "application/json; charset=utf-8"},
                                                {"Sec-Fetch-Site", "same-origin"}}),
                                  "application/json"),
            "");
  // Tools send no Origin.
  EXPECT_EQ(crossSiteWriteRefusal(
                writeRequest({{"Host", "127.0.0.1:8080"}, {"Content-Type", "application/json"}}),
                "application/json"),
            "");
}

TEST(CrossSite, RefusesWhatAPageOfAnotherOriginCanSend) {
  // fetch(url, {method: 'POST', mode: 'no-cors'}) from http://127.0.0.1:9999: a simple request.
  const auto no_cors =
      crossSiteWriteRefusal(writeRequest({{"Host", "127.0.0.1:8080"},
                                          {"Origin", "http://127.0.0.1:9999"},
                                          {"Content-Type", "text/plain;charset=UTF-8"}}),
                            "application/json");
  EXPECT_NE(no_cors.find("another origin"), std::string::npos) << no_cors;
  const auto site = crossSiteWriteRefusal(writeRequest({{"Host", "127.0.0.1:8080"},
                                                        {"Sec-Fetch-Site", "cross-site"},
                                                        {"Content-Type", "application/json"}}),
                                          "application/json");
  EXPECT_NE(site.find("another site"), std::string::npos) << site;
  const auto form =
      crossSiteWriteRefusal(writeRequest({{"Host", "127.0.0.1:8080"},
                                          {"Content-Type", "application/x-www-form-urlencoded"}}),
                            "application/json");
  EXPECT_NE(form.find("Content-Type must be application/json"), std::string::npos) << form;
  EXPECT_NE(crossSiteWriteRefusal(writeRequest({{"Host", "127.0.0.1:8080"}}), "application/json"),
            "");
}

TEST(Cookie, ValueByName) {
  EXPECT_EQ(cookieValue("a=1; equalis_session=xyz; b=2", "equalis_session"), "xyz");
  EXPECT_EQ(cookieValue("equalis_session=xyz", "equalis_session"), "xyz");
  EXPECT_EQ(cookieValue("xequalis_session=1", "equalis_session"), "");
  EXPECT_EQ(cookieValue("", "equalis_session"), "");
  EXPECT_EQ(cookieValue(";;;=;a", "a"), "");
}

TEST(SecurityHeaders, EveryResponseGetsThem) {
  Response r;
  addSecurityHeaders(r, false);
  EXPECT_NE(r.header("Content-Security-Policy").find("frame-ancestors 'none'"),
            std::string_view::npos);
  EXPECT_EQ(r.header("Content-Security-Policy").find("unsafe-inline"), std::string_view::npos);
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.header("Strict-Transport-Security"), "");
  addSecurityHeaders(r, true);
  EXPECT_EQ(r.header("Strict-Transport-Security"), "max-age=31536000");
}

TEST(Query, PercentDecodingAndPlus) {
  const auto q =
      parseQuery("key=block.voltage_high%2F2%2F17&from=2026-01-01T00%3A00%3A00Z&a+b=c+d&&=x&e");
  EXPECT_EQ(q.find("key")->second, "block.voltage_high/2/17");
  EXPECT_EQ(q.find("from")->second, "2026-01-01T00:00:00Z");
  EXPECT_EQ(q.find("a b")->second, "c d");
  EXPECT_EQ(q.find("e")->second, "");
  EXPECT_EQ(q.count(""), 0U);
  EXPECT_EQ(percentDecode("%zz%4", false), "%zz%4");
  EXPECT_EQ(percentDecode("a+b%20", false), "a+b ");
}

}  // namespace
}  // namespace equalis::http
