// Writes an audit trail for the equalisctl audit tests (tests/integration/audit_cli_test.py):
//   audit_fixture DATA_DIR COUNT
// appends COUNT records, one simulated minute apart from 2026-01-01T00:01:00Z, users alternating
// "alice" and "bob", actions cycling through rule.change, output.set, login.failure; record 3 has
// a detail with a comma, a quote and a line break.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "audit/audit.hpp"

int main(int argc, char** argv) {
  using namespace equalis;
  if (argc != 3) {
    std::fprintf(stderr, "usage: audit_fixture DATA_DIR COUNT\n");
    return 2;
  }
  const int count = std::atoi(argv[2]);
  SimulatedClock clock;
  auto log = audit::Log::open(audit::auditPath(argv[1]), clock);
  if (!log) {
    std::fprintf(stderr, "audit_fixture: %s\n", log.error().message.c_str());
    return 1;
  }
  static constexpr const char* kActions[] = {audit::action::kRuleChange, audit::action::kOutputSet,
                                             audit::action::kLoginFailure};
  for (int i = 0; i < count; ++i) {
    clock.advance(kMinuteMs);
    audit::Entry e;
    e.user = i % 2 == 0 ? "alice" : "bob";
    e.address = "127.0.0.1";
    e.via = "rest";
    e.action = kActions[i % 3];
    e.target = "target-" + std::to_string(i + 1);
    e.old_value = std::to_string(i);
    e.new_value = std::to_string(i + 1);
    e.outcome =
        e.action == audit::action::kLoginFailure ? audit::outcome::kRefused : audit::outcome::kOk;
    e.detail = i == 2 ? "a, \"quoted\"\nsecond line" : "";
    if (auto r = (*log)->append(e); !r) {
      std::fprintf(stderr, "audit_fixture: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  return 0;
}
