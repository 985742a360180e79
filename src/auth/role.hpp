// Roles and the authenticated principal (docs/security.md, "Accounts").
//
//   viewer    reads everything the API and the status page show;
//   operator  also acknowledges alarms, switches outputs, resets thermal-runaway protection and
//             Ri baselines;
//   admin     also changes settings (alarm rules, configuration reload, restore) and accounts
//             (users and API tokens).
//
// Each role includes the rights of the roles below it: admin ⊇ operator ⊇ viewer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace equalis::auth {

enum class Role { kViewer, kOperator, kAdmin };

// "viewer", "operator", "admin".
std::string_view roleName(Role role);
// The role named exactly (lower case) by `name`, else std::nullopt.
std::optional<Role> parseRole(std::string_view name);
// Whether a principal with role `have` may do what needs role `need`.
bool allows(Role have, Role need);

// What a request may ask for, and the least role that may do it.
enum class Action {
  kRead,              // any GET: values, alarms, events, history, rules, settings
  kAcknowledgeAlarm,  // acknowledge one or all alarms
  kSwitchOutput,      // switch or pulse a commanded output (relay, buzzer)
  kResetProtection,   // reset a string's thermal-runaway protection
  kResetRiBaseline,   // reset a string's Ri baseline
  kChangeSettings,    // alarm rules, configuration reload, backup and restore
  kManageAccounts     // users and API tokens
};
Role requiredRole(Action action);

// Who made a request, as established by a login, a token or RADIUS.
struct Principal {
  std::string user;  // the user name; for an API token its label
  Role role = Role::kViewer;
  std::string method;  // "password", "token:<token id>" or "radius"
};

}  // namespace equalis::auth
