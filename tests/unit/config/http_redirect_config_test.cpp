// [http] redirect_port: off by default, read, and refused where it cannot work.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace equalis::config {
namespace {

const std::string kPlant = "[[string]]\nblocks = 4\n";

TEST(ConfigHttpRedirect, OffByDefaultAndRead) {
  auto r = parseConfig(kPlant);
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->http.redirect_port, 0);
  r = parseConfig("[http]\nlisten = \"0.0.0.0:443\"\nredirect_port = 80\n" + kPlant);
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->http.redirect_port, 80);
  r = parseConfig("[http]\ntls = \"on\"\nredirect_port = 0\n" + kPlant);
  ASSERT_TRUE(r.ok()) << r.issueLines();
  EXPECT_EQ(r.config->http.redirect_port, 0);
}

TEST(ConfigHttpRedirect, BadValuesAreNamed) {
  for (const char* text : {"redirect_port = 70000\n", "redirect_port = -1\n",
                           "redirect_port = \"80\"\n", "tls = \"off\"\nredirect_port = 80\n",
                           "listen = \"0.0.0.0:8443\"\nredirect_port = 8443\n"}) {
    const auto r = parseConfig(std::string("[http]\n") + text + kPlant);
    ASSERT_FALSE(r.ok()) << text;
    ASSERT_EQ(r.issues.size(), 1U) << r.issueLines();
    EXPECT_EQ(r.issues[0].key, "http.redirect_port") << r.issueLines();
  }
  const auto r = parseConfig("[http]\ntls = \"off\"\nredirect_port = 80\n" + kPlant);
  EXPECT_NE(r.issueLines().find("tls is \"off\""), std::string::npos) << r.issueLines();
}

}  // namespace
}  // namespace equalis::config
