// Roles: names, parsing, ordering (admin ⊇ operator ⊇ viewer) and what each action needs.
#include "auth/role.hpp"

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

TEST(AuthRole, NamesRoundTrip) {
  for (const Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(parseRole(roleName(r)), r);
  }
  EXPECT_EQ(roleName(Role::kViewer), "viewer");
  EXPECT_EQ(roleName(Role::kOperator), "operator");
  EXPECT_EQ(roleName(Role::kAdmin), "admin");
  EXPECT_FALSE(parseRole("Admin"));
  EXPECT_FALSE(parseRole("root"));
  EXPECT_FALSE(parseRole(""));
}

TEST(AuthRole, EachRoleIncludesTheOnesBelow) {
  EXPECT_TRUE(allows(Role::kAdmin, Role::kAdmin));
  EXPECT_TRUE(allows(Role::kAdmin, Role::kOperator));
  EXPECT_TRUE(allows(Role::kAdmin, Role::kViewer));
  EXPECT_FALSE(allows(Role::kOperator, Role::kAdmin));
  EXPECT_TRUE(allows(Role::kOperator, Role::kOperator));
  EXPECT_TRUE(allows(Role::kOperator, Role::kViewer));
  EXPECT_FALSE(allows(Role::kViewer, Role::kAdmin));
  EXPECT_FALSE(allows(Role::kViewer, Role::kOperator));
  EXPECT_TRUE(allows(Role::kViewer, Role::kViewer));
}

TEST(AuthRole, ActionsNeedTheDocumentedRole) {
  EXPECT_EQ(requiredRole(Action::kRead), Role::kViewer);
  EXPECT_EQ(requiredRole(Action::kAcknowledgeAlarm), Role::kOperator);
  EXPECT_EQ(requiredRole(Action::kSwitchOutput), Role::kOperator);
  EXPECT_EQ(requiredRole(Action::kResetProtection), Role::kOperator);
  EXPECT_EQ(requiredRole(Action::kResetRiBaseline), Role::kOperator);
  EXPECT_EQ(requiredRole(Action::kChangeSettings), Role::kAdmin);
  EXPECT_EQ(requiredRole(Action::kManageAccounts), Role::kAdmin);
}

}  // namespace
}  // namespace equalis::auth
