// JsonWriter: the bytes it writes read back (nlohmann) as the values written, with commas,
// escapes, numbers and invalid UTF-8 handled.
#include "adapters/rest/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace equalis::rest {
namespace {

TEST(JsonWriter, NestedObjectsAndArraysWithCommas) {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .member("a", 1)
      .key("b")
      .beginArray()
      .value(true)
      .null()
      .beginObject()
      .endObject()
      .beginArray()
      .endArray()
      .value("x")
      .endArray()
      .member("c", std::uint64_t{18446744073709551615U})
      .member("d", std::int64_t{-9223372036854775807 - 1})
      .endObject();
  EXPECT_EQ(out, R"({"a":1,"b":[true,null,{},[],"x"],"c":18446744073709551615,)"
                 R"("d":-9223372036854775808})");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(JsonWriter, NumbersRoundTripAndStayDoubles) {
  std::string out;
  JsonWriter w(out);
  w.beginArray().value(3.0).value(0.1).value(-1e-300).value(13.482).value(1e21).endArray();
  EXPECT_EQ(out, "[3.0,0.1,-1e-300,13.482,1e+21]");
  const auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j[0].is_number_float());
  EXPECT_EQ(j[3].get<double>(), 13.482);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> any(-1e6, 1e6);
  for (int i = 0; i < 2000; ++i) {
    const double v = any(rng);
    std::string one;
    JsonWriter(one).value(v);
    EXPECT_EQ(nlohmann::json::parse(one).get<double>(), v) << one;
  }
}

TEST(JsonWriter, NonFiniteNumbersAreNull) {
  std::string out;
  JsonWriter w(out);
  w.beginArray()
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .endArray();
  EXPECT_EQ(out, "[null,null]");
}

TEST(JsonWriter, StringsAreEscaped) {
  std::string out;
  JsonWriter w(out);
  const std::string nasty = std::string("q\"b\\n\nr\rt\tc\x01\x1f\x7f") + "é€😀";
  w.beginObject().member("k\"ey", nasty).endObject();
  EXPECT_EQ(out, R"({"k\"ey":"q\"b\\n\nr\rt\tc\u0001\u001f\u007fé€😀"})");
  EXPECT_EQ(nlohmann::json::parse(out)["k\"ey"].get<std::string>(), nasty);
}

TEST(JsonWriter, InvalidUtf8IsReplaced) {
  const std::string cases[] = {
      "\xff",              // never valid
      "\xc0\xaf",          // overlong '/'
      "\xed\xa0\x80",      // a surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xe2\x82",          // cut short
  };
  for (const auto& bad : cases) {
    std::string out;
    JsonWriter(out).value("a" + bad + "b");
    const auto back = nlohmann::json::parse(out).get<std::string>();  // throws on invalid UTF-8
    EXPECT_EQ(back.front(), 'a');
    EXPECT_EQ(back.back(), 'b');
    EXPECT_NE(back.find("\xEF\xBF\xBD"), std::string::npos) << out;
  }
}

TEST(JsonWriter, RawDocumentsAreEmbedded) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("a").raw(R"({"x":[1,2]})").member("b", 2).endObject();
  EXPECT_EQ(out, R"({"a":{"x":[1,2]},"b":2})");
}

}  // namespace
}  // namespace equalis::rest
