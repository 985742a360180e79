#include "core/result.hpp"

#include <gtest/gtest.h>

namespace equalis {
namespace {

Result<int> half(int v) {
  if (v % 2 != 0) {
    return makeError(ErrorCode::kInvalidArgument, "odd");
  }
  return v / 2;
}

TEST(Result, CarriesValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "odd");
  EXPECT_EQ(bad.valueOr(-1), -1);
  EXPECT_STREQ(errorCodeName(ErrorCode::kTimeout), "timeout");
}

TEST(Result, VoidStatus) {
  Status fine;
  EXPECT_TRUE(fine.ok());
  Status broken = makeError(ErrorCode::kIo, "disk");
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message, "disk");
}

}  // namespace
}  // namespace equalis
