// equalisctl bus …: commissioning on a module-bus line, talking to the line directly
// (docs/module-bus.md §10, docs/operations.md).
#pragma once

#include <string>
#include <vector>

namespace equalisctl {

// `args` after "bus" (the subcommand and its options); returns the exit status.
int cmdBus(const std::vector<std::string>& args, bool json);

}  // namespace equalisctl
