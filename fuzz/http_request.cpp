// Fuzz target: an HTTP request as a client sends it, through the server's own steps: Boost.Beast's
// parser (header limit as in the server), the target's decoding and UTF-8 checks, the route
// lookup, and the Host, Origin and cross-site write checks of the gate.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/http/checks.hpp"
#include "adapters/http/router.hpp"

namespace {

namespace bhttp = boost::beast::http;
using namespace equalis;  // NOLINT(google-build-using-namespace): a fuzz target's own file

const http::Router& router() {
  static const http::Router r = [] {
    http::Router x;
    const http::Handler none = [](const http::Request&, http::Response&) {};
    x.get("/api/v1/strings/*/blocks/*/history", none);
    x.post("/api/v1/alarms/ack", none, {});
    x.put("/api/v1/alarms/rules/*", none, {});
    x.get("/api/**", none);
    x.get("/**", none);
    return x;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!parser.is_header_done()) {
    return 0;
  }
  const auto& msg = parser.get();
  http::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& f : msg) {
    req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  }
  (void)http::escapeForLog(req.target);
  if (!http::decodeTarget(req).empty()) {
    return 0;
  }
  const auto match = router().find(req.method, req.path);
  (void)http::hostAllowed(req.header("Host"), {"bms.example.org"});
  (void)http::sameOrigin(req.header("Origin"), req.header("Host"), false);
  if (match.route != nullptr) {
    (void)http::crossSiteWriteRefusal(req, match.route->options.content_type);
  }
  return 0;
}
