#include "persist/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace equalis::persist {

namespace {

std::string errnoText() {
  return std::strerror(errno);  // NOLINT(concurrency-mt-unsafe): message text only
}

// Closes a descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

Status writeFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp, errnoText()));
    }
    std::size_t done = 0;
    while (done < text.size()) {
      const auto n = ::write(fd.get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp, errnoText()));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot sync {}: {}", tmp, errnoText()));
    }
    if (::close(fd.release()) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot close {}: {}", tmp, errnoText()));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot replace {}: {}", path, errnoText()));
  }
  // The rename itself is durable once the directory is synced.
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot sync directory {}: {}", dir.string(), errnoText()));
  }
  return {};
}

Result<std::optional<std::string>> readFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::optional<std::string>{};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", path));
  }
  return std::optional<std::string>{text.str()};
}

std::string historyPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "history.sqlite").string();
}

std::string alarmRulesPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "alarm_rules.json").string();
}

std::string calibrationPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("calibration-string-{}.txt", string_index + 1))
      .string();
}

std::string capacityPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("capacity-string-{}.json", string_index + 1))
      .string();
}

std::string bandHoursPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("hours-in-band-string-{}.json", string_index + 1))
      .string();
}

std::string healthPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("health-string-{}.json", string_index + 1))
      .string();
}

std::string dischargeReportsPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("discharges-string-{}.json", string_index + 1))
      .string();
}

std::string riBaselinePath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("ri-baseline-string-{}.txt", string_index + 1))
      .string();
}

std::string modulesPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "modules.json").string();
}

std::string ioNamesPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "io_names.json").string();
}

std::string protocolsPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "protocols.json").string();
}

}  // namespace equalis::persist
