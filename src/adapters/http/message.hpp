// HTTP requests and responses as the REST handlers see them, independent of the transport
// (src/adapters/http/server.* serves them with Boost.Beast on Asio).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace equalis::http {

// Decoded query parameters ("a=1&b=x%20y" → {a: 1, b: "x y"}), in order of appearance.
using QueryParams = std::multimap<std::string, std::string>;

// Percent-decodes `text`; with `plus_is_space` a '+' becomes ' ' (query strings). Bad escapes
// ("%zz", "%4") are kept as they are.
std::string percentDecode(std::string_view text, bool plus_is_space);

// "kind=alarm&string=1" → {kind: alarm, string: 1}, percent-decoded; empty keys are skipped.
QueryParams parseQuery(std::string_view query);

// Case-insensitive ASCII comparison (header names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", …
  std::string target;  // as received: "/api/v1/events?kind=alarm"
  std::string path;    // percent-decoded path: "/api/v1/events"
  QueryParams params;
  std::vector<Header> headers;
  std::string body;
  std::string remote_addr;  // "127.0.0.1", "::1"
  bool tls = false;
  // Who is asking, set by the server's gate: an account name ("" = anonymous) and its role.
  std::string user;
  std::string role;
  // Path segments matched by the route's '*' parts; matches[0] is the whole path.
  std::vector<std::string> matches;

  // The first header of that name, "" when absent.
  std::string_view header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
  bool hasParam(const std::string& key) const;
  // The first value of `key`, "" when absent.
  std::string param(const std::string& key) const;
};

// Writes one piece of a streamed body; false when the client has gone (stop producing).
using ChunkSink = std::function<bool(std::string_view)>;
// Produces a streamed body on a worker thread by calling the sink until it returns.
using StreamProducer = std::function<void(const ChunkSink&)>;

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Bytes shared with other responses (a view rendered once per state version); used instead
  // of `body` when set.
  std::shared_ptr<const std::string> shared_body;
  // A body produced while it is sent (chunked transfer encoding); used when set.
  StreamProducer stream;
  // An event stream (text/event-stream): the server's live-update hub feeds it.
  bool event_stream = false;

  void setHeader(std::string name, std::string value);
  void setContent(std::string text, std::string type);
  void setShared(std::shared_ptr<const std::string> bytes, std::string type);
  std::string_view header(std::string_view name) const;
  std::size_t bodySize() const { return shared_body ? shared_body->size() : body.size(); }
  std::string_view bodyView() const {
    return shared_body ? std::string_view(*shared_body) : std::string_view(body);
  }
};

}  // namespace equalis::http
