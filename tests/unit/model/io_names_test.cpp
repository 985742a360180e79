// Run-time I/O channel names: what a name may be, and io_names.json read back exactly as written.
#include "model/io_names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace equalis::model {
namespace {

TEST(ChannelNames, WhatANameMayBe) {
  EXPECT_EQ(channelNameProblem("Battery room door"), "");
  EXPECT_EQ(channelNameProblem("Tür Batterieraum 2 — Nord"), "");  // UTF-8
  EXPECT_EQ(channelNameProblem(std::string(64, 'x')), "");
  EXPECT_EQ(channelNameProblem(""), "the name is empty");
  EXPECT_EQ(channelNameProblem(std::string(65, 'x')), "the name is 65 bytes long; at most 64");
  EXPECT_EQ(channelNameProblem("Door\n2"), "the name holds a control character");
  EXPECT_EQ(channelNameProblem("Door\x7f"), "the name holds a control character");
  EXPECT_EQ(channelNameProblem("Door \xff"), "the name is not valid UTF-8");
  EXPECT_EQ(channelNameProblem("Door \xc3"), "the name is not valid UTF-8");  // cut short
  EXPECT_EQ(channelNameProblem(" Door"), "the name starts or ends with a space");
  EXPECT_EQ(trimmedChannelName("  Door  "), "Door");
  EXPECT_EQ(trimmedChannelName("   "), "");
}

TEST(ChannelNames, FileRoundTripAndClearErrors) {
  const std::map<std::string, std::string> names{{"aux1.di3", "Battery room door"},
                                                 {"panel.buzzer", "Sirène"}};
  const auto text = channelNamesFileText(names);
  const auto back = parseChannelNamesFile(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, names);
  EXPECT_TRUE(parseChannelNamesFile(R"({"version": 1, "names": {}})").ok());

  const auto err = [](const std::string& t) {
    const auto r = parseChannelNamesFile(t);
    return r.ok() ? std::string("(accepted)") : r.error().message;
  };
  EXPECT_EQ(err("{"), R"(not an I/O names file ({"version": 1, "names": {"aux1.di3": "…"}}))");
  EXPECT_EQ(err(R"({"names": ["a"]})"),
            R"(not an I/O names file ({"version": 1, "names": {"aux1.di3": "…"}}))");
  EXPECT_EQ(err(R"({"names": {"aux1.di3": 7}})"), "names.aux1.di3: not a string");
  EXPECT_EQ(err(R"({"names": {"aux1.di3": ""}})"), "names.aux1.di3: the name is empty");
  EXPECT_EQ(err(R"({"names": {"aux1.di3": "a\u0007"}})"),
            "names.aux1.di3: the name holds a control character");
  EXPECT_EQ(err(R"({"names": {"": "Door"}})"), "names: a channel id is empty or too long");
}

}  // namespace
}  // namespace equalis::model
