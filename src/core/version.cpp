#include "core/version.hpp"

namespace equalis {

const std::string& versionText() {
  static const std::string text = [] {
    std::string t(projectVersion());
    if (!gitRevision().empty()) {
      t += " (" + std::string(gitRevision()) + ")";
    }
    return t;
  }();
  return text;
}

}  // namespace equalis
