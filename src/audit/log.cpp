// The trail a process appends to: open (repair what a crash leaves, report anything else),
// append (O_APPEND + fdatasync, then the head replaced durably), and reading back.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "audit/audit.hpp"
#include "audit/reader.hpp"
#include "core/log.hpp"

namespace equalis::audit {

namespace {

namespace fs = std::filesystem;

constexpr mode_t kFileMode = 0600;

std::string directoryOf(const std::string& path) {
  auto dir = fs::path(path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

Status syncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot sync directory {}: {}", dir, errnoText(errno)));
  }
  return {};
}

Status writeAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return makeError(ErrorCode::kIo, errnoText(n < 0 ? errno : ENOSPC));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// Replaces `path` durably: temporary file (0600) + fsync + rename + directory fsync.
Status replaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kFileMode));
    if (fd.get() < 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp, errnoText(errno)));
    }
    if (::fchmod(fd.get(), kFileMode) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp, errnoText(errno)));
    }
    if (auto st = writeAll(fd.get(), text); !st) {
      return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", tmp, st.error().message));
    }
    if (::fsync(fd.get()) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot sync {}: {}", tmp, errnoText(errno)));
    }
    if (::close(fd.release()) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot close {}: {}", tmp, errnoText(errno)));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot replace {}: {}", path, errnoText(errno)));
  }
  return syncDirectory(directoryOf(path));
}

Status makeDirectory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return {};
  }
  fs::create_directories(dir, ec);
  if (!ec) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot create {}: {}", dir, ec.message()));
  }
  return {};
}

}  // namespace

Log::Log(std::string path, Clock& clock, int fd) : path_(std::move(path)), clock_(clock), fd_(fd) {}

Log::~Log() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Result<std::unique_ptr<Log>> Log::open(std::string path, Clock& clock) {
  const auto logger = log::get("audit");
  const std::string dir = directoryOf(path);
  if (auto st = makeDirectory(dir); !st) {
    return st.error();
  }
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  std::vector<std::string> warnings;
  if (!existed) {
    // A new trail: the head (no records) is written before the log, so that from here on a
    // missing head always means something was removed. A log missing while the head names
    // records is reported by the scan below (records deleted).
    const HeadFile head = readHeadFile(headPath(path));
    if (!head.exists) {
      if (auto st = replaceFile(headPath(path), formatHead(Head{0, zeroHash()})); !st) {
        return st.error();
      }
    }
  }
  Fd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, kFileMode));
  if (fd.get() < 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot open audit trail {}: {}", path, errnoText(errno)));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("audit trail {} is in use by another process", path));
  }
  if (!existed) {
    if (auto st = syncDirectory(dir); !st) {
      return st.error();
    }
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}: {}", path, errnoText(errno)));
  }
  if ((st.st_mode & 07777U) != kFileMode) {
    if (::fchmod(fd.get(), kFileMode) != 0) {
      return makeError(ErrorCode::kIo,
                       fmt::format("cannot set the mode of {}: {}", path, errnoText(errno)));
    }
    warnings.push_back(fmt::format("{}: mode was {:04o}, set to 0600", path, st.st_mode & 07777U));
  }

  Scan scan = scanLog(path);
  if (scan.read_error) {
    return *scan.read_error;
  }
  if (scan.torn) {
    if (::ftruncate(fd.get(), static_cast<off_t>(*scan.torn)) != 0 || ::fdatasync(fd.get()) != 0) {
      return makeError(
          ErrorCode::kIo,
          fmt::format("cannot cut off the incomplete last line of {}: {}", path, errnoText(errno)));
    }
    warnings.push_back(fmt::format(
        "{}: cut off an incomplete last line of {} bytes after record {} (an append interrupted "
        "by a crash)",
        path, st.st_size - static_cast<off_t>(*scan.torn), scan.report.head.seq));
  }
  if (scan.head_behind || scan.head_missing_empty) {
    if (auto w = replaceFile(headPath(path), formatHead(scan.report.head)); !w) {
      return w.error();
    }
    warnings.push_back(fmt::format("{}: {} (now record {})", headPath(path),
                                   scan.head_behind ? "was one record behind the log after an "
                                                      "interrupted append"
                                                    : "was missing for a trail without records",
                                   scan.report.head.seq));
  }

  std::unique_ptr<Log> log(new Log(std::move(path), clock, fd.release()));
  log->warnings_ = std::move(warnings);
  log->head_ = scan.report.head;
  log->size_ = scan.size;
  log->needs_line_end_ = !scan.ends_with_line_end;
  log->integrity_ = scan.report;
  for (const auto& w : log->warnings_) {
    logger->warn("{}", w);
  }
  if (!scan.report.ok) {
    logger->error("audit trail {} is damaged: {}", log->path_, scan.report.message);
    // The damage goes into the trail itself: appending the next records updates the head, and
    // without this record a later verify() would no longer see, for example, deleted newest
    // records.
    Entry marker;
    marker.via = "audit";
    marker.action = action::kAuditIntegrity;
    marker.target = fs::path(log->path_).filename().string();
    if (scan.head_file) {
      marker.old_value =
          fmt::format("audit.head: record {}, hash {}", scan.head_file->seq, scan.head_file->hash);
    }
    marker.new_value =
        fmt::format("record {}, hash {}", scan.report.head.seq, scan.report.head.hash);
    marker.outcome = outcome::kFailed;
    marker.detail = scan.report.message;
    std::lock_guard lock(log->mutex_);
    if (auto r = log->appendLocked(std::move(marker)); !r) {
      logger->error("cannot record the damage in {}: {}", log->path_, r.error().message);
    }
  }
  return log;
}

Result<Record> Log::append(Entry e) {
  std::lock_guard lock(mutex_);
  return appendLocked(std::move(e));
}

Result<Record> Log::appendLocked(Entry e) {
  // Another writer (the file is locked against other Logs, not against other programs).
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot append to {}: {}", path_, errnoText(errno)));
  }
  if (static_cast<std::uint64_t>(st.st_size) != size_) {
    const std::string message =
        fmt::format("{} was changed by another program while it was open ({} bytes, {} expected)",
                    path_, st.st_size, size_);
    log::get("audit")->error("{}", message);
    if (integrity_.ok) {
      integrity_.ok = false;
      integrity_.first_bad_seq = head_.seq + 1;
      integrity_.message = message;
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    char last = '\n';
    if (size_ > 0 && ::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) != 1) {
      last = '\0';
    }
    needs_line_end_ = last != '\n';
  }

  Record r;
  r.seq = head_.seq + 1;
  r.time_ms = clock_.nowMs();
  r.user = clampField(std::move(e.user));
  r.address = clampField(std::move(e.address));
  r.via = clampField(std::move(e.via));
  r.action = clampField(std::move(e.action));
  r.target = clampField(std::move(e.target));
  r.old_value = clampField(std::move(e.old_value));
  r.new_value = clampField(std::move(e.new_value));
  r.outcome = clampField(std::move(e.outcome));
  r.detail = clampField(std::move(e.detail));
  r.prev_hash = head_.hash;
  r.hash = computeHash(r);

  std::string line = needs_line_end_ ? "\n" : "";
  line += formatLine(r);
  line += '\n';
  // One write of the whole line; on any failure the file is cut back to the last whole record.
  Status written = writeAll(fd_, line);
  if (written && ::fdatasync(fd_) != 0) {
    written = makeError(ErrorCode::kIo, errnoText(errno));
  }
  if (!written) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      log::get("audit")->error("cannot cut {} back to {} bytes: {}", path_, size_,
                               errnoText(errno));
    }
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot append to {}: {}", path_, written.error().message));
  }
  size_ += line.size();
  needs_line_end_ = false;
  head_ = Head{r.seq, r.hash};
  if (auto st_head = writeHead(head_); !st_head) {
    // The record is in the trail; the next append writes the head again.
    log::get("audit")->error("record {} appended, but {}", r.seq, st_head.error().message);
  }
  return r;
}

Status Log::writeHead(const Head& h) {
  return replaceFile(headPath(path_), formatHead(h));
}

Head Log::head() const {
  std::lock_guard lock(mutex_);
  return head_;
}

VerifyReport Log::integrity() const {
  std::lock_guard lock(mutex_);
  return integrity_;
}

Result<std::vector<Record>> Log::list(const Query& query) const {
  std::uint64_t size = 0;
  {
    std::lock_guard lock(mutex_);
    size = size_;
  }
  return listUpTo(path_, query, size);
}

Status Log::exportCsv(const Query& query, const CsvSink& sink) const {
  std::uint64_t size = 0;
  {
    std::lock_guard lock(mutex_);
    size = size_;
  }
  return exportCsvUpTo(path_, query, sink, size);
}

}  // namespace equalis::audit
