// Checks on what an HTTP client sends, shared by the server, the REST routes and the fuzz
// targets: UTF-8, the Host header against the controller's names (DNS rebinding), same-origin
// writes (CSRF), the HTTPS redirect's target, and log-safe text. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/message.hpp"

namespace equalis::http {

// Fills req.path and req.params from req.target. Returns why the target is refused ("" when
// it is not): not a path, or a path or query that is not UTF-8 text or holds control characters.
std::string decodeTarget(Request& req);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF).
bool validUtf8(std::string_view text);

// `text` for a log line: control characters, backslashes and bytes that are not UTF-8 become
// \xNN, and it is cut to `max_bytes` (with "…"), so a client cannot forge log lines.
std::string escapeForLog(std::string_view text, std::size_t max_bytes = 200);

// The host part of a Host header or URL authority: "Example.org:8080" → "example.org",
// "[::1]:80" → "::1". Empty when malformed.
std::string hostName(std::string_view authority);

// True when `host` (an address or a listen host) is this machine only: "localhost", "::1",
// 127.0.0.0/8 (also as an IPv4-mapped IPv6 address).
bool isLoopback(std::string_view host);

// True when `name` is an IPv4 or IPv6 literal (which DNS rebinding cannot point elsewhere).
bool isIpLiteral(std::string_view name);

// A Host header is accepted when its name is an IP literal, "localhost", or one of `names`
// (the controller's configured names, compared without case). Everything else is refused: a
// hostile page whose DNS name was rebound to this controller sends its own name.
bool hostAllowed(std::string_view host_header, const std::vector<std::string>& names);

// True when an Origin header ("http://10.0.0.5:8080") names the same scheme, host and port as
// the request itself (its Host header and whether it came over TLS). "null" is never same.
bool sameOrigin(std::string_view origin, std::string_view host_header, bool tls);

// Why a write request may not come from a cross-site page, or "" when it may: the Host check
// is done already; this checks Origin, Sec-Fetch-Site and that Content-Type is `expected_type`
// (a type a cross-origin page can only send after a CORS preflight, which this server refuses).
std::string crossSiteWriteRefusal(const Request& req, std::string_view expected_type);

// The value of cookie `name` in a Cookie header ("a=1; equalis_session=xyz"), "" when absent.
std::string_view cookieValue(std::string_view cookie_header, std::string_view name);

// Content-Security-Policy and the other security headers on every response; HSTS when `hsts`.
// A handler may have set a Content-Security-Policy of its own for one document (the printable
// discharge report allows its one inline stylesheet by its hash, and nothing else): it is kept.
void addSecurityHeaders(Response& res, bool hsts);

// Where the HTTP → HTTPS redirect sends a request: "https://<host of the Host
// header><:port><target>" (the port left out when it is 443; an IPv6 address in brackets). Empty
// when the Host header is missing or malformed (not a host name or IP address, a port that is not a
// number) or the target is not a path.
std::string httpsRedirectLocation(std::string_view host_header, std::string_view target,
                                  int https_port);

}  // namespace equalis::http
