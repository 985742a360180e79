#include "adapters/http/router.hpp"

#include <gtest/gtest.h>

namespace equalis::http {
namespace {

Handler named(std::string name) {
  return [name = std::move(name)](const Request&, Response& res) { res.body = name; };
}

std::string run(const Router::Match& m) {
  Response res;
  m.route->handler(Request{}, res);
  return res.body;
}

TEST(Router, SegmentsCapturesAndOrder) {
  Router r;
  r.get("/api/v1/strings/*", named("string"));
  r.get("/api/v1/strings/*/blocks/*", named("block"));
  r.post("/api/v1/alarms/ack", named("ack"), {});
  r.get("/api/**", named("api-404"));
  r.get("/**", named("asset"));

  auto m = r.find("GET", "/api/v1/strings/2/blocks/17");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(run(m), "block");
  ASSERT_EQ(m.matches.size(), 3U);
  EXPECT_EQ(m.matches[1], "2");
  EXPECT_EQ(m.matches[2], "17");

  EXPECT_EQ(run(r.find("GET", "/api/v1/strings/2")), "string");
  EXPECT_EQ(run(r.find("HEAD", "/api/v1/strings/2")), "string");
  EXPECT_EQ(run(r.find("GET", "/api/v1/strings/2/blocks")), "api-404");
  EXPECT_EQ(run(r.find("GET", "/assets/index.js")), "asset");
  EXPECT_EQ(run(r.find("GET", "/strings/1/blocks/7")), "asset");
  EXPECT_EQ(run(r.find("GET", "/")), "asset");
  EXPECT_EQ(run(r.find("POST", "/api/v1/alarms/ack")), "ack");
}

TEST(Router, OtherMethodIsA405WithTheAllowedOnes) {
  Router r;
  r.get("/api/v1/alarms", named("list"));
  r.post("/api/v1/alarms/ack", named("ack"), {});
  r.get("/**", named("asset"));
  auto m = r.find("POST", "/api/v1/alarms");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.other_method);
  EXPECT_EQ(m.allowed, "GET");
  auto none = r.find("DELETE", "/nothing/here");
  EXPECT_EQ(none.route, nullptr);
  EXPECT_FALSE(none.other_method);  // the asset catch-all does not make every path exist
}

}  // namespace
}  // namespace equalis::http
