// Routes of the HTTP server: method + path pattern → handler, with what each route needs
// (who may call it, how large a body it takes, whether it may block).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/message.hpp"

namespace equalis::http {

// Who may call a route. kPublic: anyone (health checks, the login page); kRead: viewers and
// up; kOperate: operators (acknowledge, outputs, resets) and admins; kAdmin: admins.
enum class Access { kPublic, kRead, kOperate, kAdmin };

struct RouteOptions {
  Access access = Access::kRead;
  // A handler that may block (operator commands wait for a control cycle, history queries read
  // the disk, exports stream) runs on the worker pool; the rest run on the I/O threads.
  bool slow = false;
  std::size_t body_limit_bytes = std::size_t{64} * 1024;
  // The Content-Type a write must carry (not one a cross-origin page may send unasked).
  std::string_view content_type = "application/json";
};

using Handler = std::function<void(const Request&, Response&)>;

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "*" matches one segment, a final "**" the rest
  Handler handler;
  RouteOptions options;
};

class Router {
 public:
  // Pattern: "/api/v1/strings/*/blocks/*"; "/api/**" matches every path below /api/.
  void add(std::string method, std::string_view pattern, Handler handler,
           RouteOptions options = {});
  void get(std::string_view pattern, Handler h, RouteOptions o = {}) {
    add("GET", pattern, std::move(h), o);
  }
  void post(std::string_view pattern, Handler h, RouteOptions o) {
    add("POST", pattern, std::move(h), o);
  }
  void put(std::string_view pattern, Handler h, RouteOptions o) {
    add("PUT", pattern, std::move(h), o);
  }
  void del(std::string_view pattern, Handler h, RouteOptions o) {
    add("DELETE", pattern, std::move(h), o);
  }

  struct Match {
    const Route* route = nullptr;      // null: no route
    bool other_method = false;         // the path exists with another method (405)
    std::vector<std::string> matches;  // [0] = path, then each '*'
    std::string allowed;               // "GET, POST" for a 405
  };
  // The first route added that matches (HEAD matches GET routes).
  Match find(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace equalis::http
