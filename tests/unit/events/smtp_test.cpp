#include "events/smtp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace equalis::events {
namespace {

// Decodes base64 (test helper).
std::string unbase64(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (const char c : in) {
    const auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) {
      continue;
    }
    buf = (buf << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

// The text of a header (unfolded) from a formatted message.
std::string header(const std::string& mail, const std::string& name) {
  const auto start = mail.find(name + ": ");
  if (start == std::string::npos) {
    return {};
  }
  std::string value;
  std::size_t i = start + name.size() + 2;
  while (i < mail.size()) {
    const auto end = mail.find("\r\n", i);
    value += mail.substr(i, end - i);
    i = end + 2;
    if (i >= mail.size() || (mail[i] != ' ' && mail[i] != '\t')) {
      break;
    }
  }
  return value;
}

TEST(Smtp, AsciiSubjectIsKept) {
  EXPECT_EQ(encodeHeader("[Site] alarm: String 1, block 3"), "[Site] alarm: String 1, block 3");
  EXPECT_EQ(encodeHeader("no\r\ninjection"), "noinjection");
}

TEST(Smtp, NonAsciiSubjectIsRfc2047) {
  const std::string subject =
      "Température élevée — String 1, bloc 3 : 45,2 °C au-dessus du seuil d'alarme 45 °C";
  const std::string enc = encodeHeader(subject);
  std::string decoded;
  std::size_t pos = 0;
  int words = 0;
  while ((pos = enc.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const auto end = enc.find("?=", pos + 10);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end + 2 - pos, 75u) << "encoded word longer than 75 characters";
    decoded += unbase64(enc.substr(pos + 10, end - pos - 10));
    pos = end + 2;
    ++words;
  }
  EXPECT_GT(words, 1);
  EXPECT_EQ(decoded, subject);  // no UTF-8 sequence was split between words
  EXPECT_NE(enc.find("?=\r\n =?UTF-8?B?"), std::string::npos);  // folded
}

TEST(Smtp, Rfc5322Date) {
  EXPECT_EQ(rfc5322Date(1'767'225'600'000), "Thu, 01 Jan 2026 00:00:00 +0000");
  EXPECT_EQ(rfc5322Date(1'700'000'000'000), "Tue, 14 Nov 2023 22:13:20 +0000");
}

TEST(Smtp, MessageHasTheRfc5322Headers) {
  MailMessage m;
  m.from = "Equalis <equalis@example.com>";
  m.to = {"ops@example.com", "Night Shift <night@example.com>"};
  m.subject = "[Room 1] alarm: String 1, block 3";
  m.body = "Line one\nValue: 14.5\n";
  const std::string mail = formatMail(m, 1'767'225'600'000, "1.abc@example.com");
  EXPECT_EQ(header(mail, "Date"), "Thu, 01 Jan 2026 00:00:00 +0000");
  EXPECT_EQ(header(mail, "From"), "Equalis <equalis@example.com>");
  EXPECT_EQ(header(mail, "To"), "ops@example.com, Night Shift <night@example.com>");
  EXPECT_EQ(header(mail, "Subject"), m.subject);
  EXPECT_EQ(header(mail, "Message-ID"), "<1.abc@example.com>");
  EXPECT_EQ(header(mail, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(header(mail, "Content-Transfer-Encoding"), "7bit");
  const auto body = mail.substr(mail.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "Line one\r\nValue: 14.5\r\n");
}

TEST(Smtp, Utf8BodyIsBase64) {
  MailMessage m;
  m.from = "a@b.c";
  m.to = {"d@e.f"};
  m.subject = "x";
  m.body = "Température 45 °C\n";
  const std::string mail = formatMail(m, 0, "id@b.c");
  EXPECT_EQ(header(mail, "Content-Transfer-Encoding"), "base64");
  EXPECT_EQ(unbase64(mail.substr(mail.find("\r\n\r\n") + 4)), m.body);
}

TEST(Smtp, MessageIdUsesTheSenderDomain) {
  const auto id = newMessageId("Equalis <equalis@plant.example>", 1234);
  EXPECT_EQ(id.rfind("1234.", 0), 0u);
  EXPECT_NE(id.find("@plant.example"), std::string::npos);
  EXPECT_NE(newMessageId("a@b", 1), newMessageId("a@b", 1));
}

TEST(Smtp, MailboxChecks) {
  EXPECT_EQ(model::mailAddress("Ops Team <ops@example.com>"), "ops@example.com");
  EXPECT_EQ(model::mailAddress(" ops@example.com "), "ops@example.com");
  EXPECT_EQ(model::mailboxProblem("ops@example.com"), "");
  EXPECT_NE(model::mailboxProblem("ops.example.com"), "");
  EXPECT_NE(model::mailboxProblem("ops@"), "");
  EXPECT_NE(model::mailboxProblem("a b@c.d"), "");
  EXPECT_NE(model::mailboxProblem("x@y\r\nBcc: z@w"), "");
}

TEST(Smtp, RefusedConnectionIsAClearError) {
  // A port nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);

  model::SmtpConfig cfg;
  cfg.url = "smtp://127.0.0.1:" + std::to_string(port);
  cfg.from = "a@b.c";
  cfg.timeout_ms = 2000;
  MailMessage m{"a@b.c", {"d@e.f"}, "s", "b"};
  const auto st = sendMail(cfg, m);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("connection refused"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace equalis::events
