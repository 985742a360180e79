// Remote syslog (RFC 5424) over UDP (RFC 5426, one message per datagram) and TCP (RFC 6587
// octet counting), written here on plain sockets (no Debian package offers an RFC 5424 client
// library; the system syslog(3) only talks to the local daemon).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/events.hpp"

namespace equalis::events {

struct SyslogMessage {
  int facility = 16;  // 0 … 23
  int severity = 6;   // 0 … 7
  TimeMs time_ms = 0;
  std::string hostname;  // "" = "-"
  std::string app_name;  // "" = "-"
  std::string procid;    // "" = "-"
  std::string msgid;     // "" = "-"
  std::string sd_id;     // "" = no structured data ("-")
  std::vector<std::pair<std::string, std::string>> sd_params;
  std::string msg;   // UTF-8 text
  bool bom = false;  // put the UTF-8 BOM before MSG (RFC 5424 MSG-UTF8)
};

// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]". Header fields are cut to their
// RFC lengths (255/48/128/32) and to printable US-ASCII ('_' for anything else); the
// timestamp is UTC with milliseconds.
std::string formatRfc5424(const SyslogMessage& m);
// An SD-PARAM value with '"', '\' and ']' escaped by a backslash.
std::string escapeSdValue(std::string_view v);
// RFC 6587 octet counting: "LEN SP MSG".
std::string octetFrame(std::string_view msg);

// Sends frames to one collector. TCP connects on first use, and again after a failure (the
// next send reconnects); send() never blocks longer than the timeout. Not thread-safe: one
// sender per delivery worker.
class SyslogSender {
 public:
  // Target and timeout from the configuration (transport, host, port, timeout_ms).
  explicit SyslogSender(const model::SyslogConfig& cfg);
  ~SyslogSender();
  SyslogSender(const SyslogSender&) = delete;
  SyslogSender& operator=(const SyslogSender&) = delete;

  // One RFC 5424 message (framed with octet counting on TCP).
  Status send(std::string_view message);
  void close();
  std::string describe() const;  // "udp://127.0.0.1:514"

 private:
  Status connectSocket();
  model::SyslogTransport transport_;
  std::string host_;
  int port_;
  DurationMs timeout_ms_;
  int fd_ = -1;
};

}  // namespace equalis::events
