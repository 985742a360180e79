#include "auth/role.hpp"

namespace equalis::auth {

std::string_view roleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parseRole(std::string_view name) {
  for (const Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == roleName(r)) {
      return r;
    }
  }
  return std::nullopt;
}

bool allows(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

Role requiredRole(Action action) {
  switch (action) {
    case Action::kRead:
      return Role::kViewer;
    case Action::kAcknowledgeAlarm:
    case Action::kSwitchOutput:
    case Action::kResetProtection:
    case Action::kResetRiBaseline:
      return Role::kOperator;
    case Action::kChangeSettings:
    case Action::kManageAccounts:
      return Role::kAdmin;
  }
  return Role::kAdmin;
}

}  // namespace equalis::auth
