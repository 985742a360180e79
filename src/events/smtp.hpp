// Email notifications over SMTP with libcurl: smtp:// with STARTTLS (required, opportunistic or
// off) or smtps:// (implicit TLS), AUTH with username/password, a CA file or no verification,
// timeouts. Messages are RFC 5322 with an RFC 2047 subject and a UTF-8 text/plain body.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/events.hpp"

namespace equalis::events {

struct MailMessage {
  std::string from;             // "Equalis <equalis@example.com>" or "equalis@example.com"
  std::vector<std::string> to;  // addresses, same forms
  std::string subject;          // UTF-8
  std::string body;             // UTF-8, '\n' line ends
};

// A header value: as is when printable ASCII, else RFC 2047 "=?UTF-8?B?…?=" words (each ≤ 75
// characters, never splitting a UTF-8 sequence), folded with CRLF SP. CR and LF are removed.
std::string encodeHeader(std::string_view value);
// "Thu, 01 Jan 2026 00:00:00 +0000"
std::string rfc5322Date(TimeMs t_ms);
// The whole message (headers and body, CRLF line ends). The body is 7bit when it is ASCII with
// short lines, else base64. `message_id` without the angle brackets.
std::string formatMail(const MailMessage& m, TimeMs date_ms, std::string_view message_id);
// "<ms>.<random>@<domain of from>"
std::string newMessageId(std::string_view from, TimeMs now_ms);

// Sends one message (blocking, bounded by cfg.timeout_ms). `abort` (optional) ends a transfer
// in progress when it becomes true. Errors name the server and what failed, e.g.
// "smtp://mail:587: STARTTLS required but not offered by the server".
Status sendMail(const model::SmtpConfig& cfg, const MailMessage& m,
                const std::atomic<bool>* abort = nullptr);

}  // namespace equalis::events
