#include "adapters/rest/request.hpp"

#include <string>

#include <gtest/gtest.h>

namespace equalis::rest {
namespace {

constexpr TimeMs kNow = 1'767'225'600'000;

QueryParams params(std::string_view query) {
  return parseQueryString(query);
}

std::string refusedParameter(const Parsed<std::optional<std::size_t>>& p) {
  const auto* e = std::get_if<ParamError>(&p);
  return e == nullptr ? std::string() : e->parameter + " " + std::to_string(e->status);
}

TEST(RestRequest, MaxPointsIsTwoToOneHundredThousand) {
  EXPECT_EQ(std::get<std::optional<std::size_t>>(parseMaxPoints(params(""), std::nullopt)),
            std::nullopt);
  EXPECT_EQ(std::get<std::optional<std::size_t>>(parseMaxPoints(params(""), 2000)), 2000u);
  EXPECT_EQ(std::get<std::optional<std::size_t>>(parseMaxPoints(params("max_points=2"), 9)), 2u);
  EXPECT_EQ(std::get<std::optional<std::size_t>>(parseMaxPoints(params("max_points=100000"), 9)),
            100000u);
  for (const char* bad : {"max_points=1", "max_points=0", "max_points=100001", "max_points=-5",
                          "max_points=", "max_points=12x", "max_points=1e3"}) {
    EXPECT_EQ(refusedParameter(parseMaxPoints(params(bad), std::nullopt)), "max_points 400") << bad;
  }
}

TEST(RestRequest, EventQueryTakesTextAndOffsetNewestFirst) {
  const auto plant = model::demoPlant();
  auto q = parseEventQuery(params("q=Voltage%20HIGH&offset=40&limit=20"), kNow, plant);
  ASSERT_TRUE(std::holds_alternative<history::EventQuery>(q));
  const auto& eq = std::get<history::EventQuery>(q);
  EXPECT_EQ(eq.text, "Voltage HIGH");
  EXPECT_EQ(eq.offset, 40u);
  EXPECT_EQ(eq.limit, 20u);
  EXPECT_TRUE(eq.newest_first);
  // Defaults: no text, no offset, still newest first.
  const auto plain = std::get<history::EventQuery>(parseEventQuery(params(""), kNow, plant));
  EXPECT_TRUE(plain.text.empty());
  EXPECT_EQ(plain.offset, 0u);
  EXPECT_TRUE(plain.newest_first);

  // 200 characters (not bytes: "°" is two) pass, 201 do not.
  std::string deg;
  for (int i = 0; i < 200; ++i) {
    deg += "%C2%B0";
  }
  EXPECT_TRUE(std::holds_alternative<history::EventQuery>(
      parseEventQuery(params("q=" + deg), kNow, plant)));
  const auto long_q = parseEventQuery(params("q=" + deg + "x"), kNow, plant);
  ASSERT_TRUE(std::holds_alternative<ParamError>(long_q));
  EXPECT_EQ(std::get<ParamError>(long_q).parameter, "q");
  EXPECT_EQ(std::get<ParamError>(long_q).status, 400);

  for (const char* bad : {"offset=-1", "offset=x", "offset=", "offset=100000001"}) {
    const auto r = parseEventQuery(params(bad), kNow, plant);
    ASSERT_TRUE(std::holds_alternative<ParamError>(r)) << bad;
    EXPECT_EQ(std::get<ParamError>(r).parameter, "offset") << bad;
  }
}

}  // namespace
}  // namespace equalis::rest
