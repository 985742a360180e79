#include "core/version.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace equalis {
namespace {

TEST(Version, ProjectVersionAndRevision) {
  EXPECT_TRUE(std::regex_match(std::string(projectVersion()), std::regex(R"(\d+\.\d+\.\d+)")));
  const std::string rev(gitRevision());
  // Built from a git checkout here; "g" + abbreviated hash, "-dirty" with local changes.
  EXPECT_TRUE(rev.empty() || std::regex_match(rev, std::regex(R"(g[0-9a-f]{7,40}(-dirty)?)")))
      << rev;
  if (rev.empty()) {
    EXPECT_EQ(versionText(), projectVersion());
  } else {
    EXPECT_EQ(versionText(), std::string(projectVersion()) + " (" + rev + ")");
  }
}

}  // namespace
}  // namespace equalis
