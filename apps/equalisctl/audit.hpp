// equalisctl audit …: checks, lists and exports the audit trail in the data directory
// (docs/security.md), reading the files directly: no equalisd needed, and a running one
// is not disturbed.
#pragma once

#include <string>
#include <vector>

namespace equalisctl {

// `args` after "audit" (the subcommand and its options); returns the exit status.
int cmdAudit(const std::vector<std::string>& args, bool json);

}  // namespace equalisctl
