// equalisctl user … / token …: accounts and API tokens, editing the accounts file in the data
// directory directly (no equalisd needed; a running equalisd re-reads it at its next request).
#pragma once

#include <string>
#include <vector>

namespace equalisctl {

// `args` after "user" / "token" (the subcommand, its arguments and options); returns the exit
// status: 0 ok, 1 failure, 2 usage.
int cmdUser(const std::vector<std::string>& args, bool json);
int cmdToken(const std::vector<std::string>& args, bool json);

}  // namespace equalisctl
