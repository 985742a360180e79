// The version of this build: the project version (CMake's project(VERSION)) and the git revision
// it was built from, both fixed at build time (cmake/EqualisVersion.cmake).
#pragma once

#include <string>
#include <string_view>

namespace equalis {

// "0.1.0".
std::string_view projectVersion();
// "g1a2b3c4", "g1a2b3c4-dirty" (uncommitted changes), or "" when built outside a git checkout.
std::string_view gitRevision();
// "0.1.0 (g1a2b3c4)", or "0.1.0" without a revision: what --version prints after the program
// name and what the REST API, SNMP and MQTT report as the version.
const std::string& versionText();

}  // namespace equalis
