// Reading a trail: lines, the head file, and the scan behind verify() and Log::open().
#include "audit/reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace equalis::audit {

namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kReadChunk = 65536;

std::string range(std::uint64_t first, std::uint64_t last) {
  return first == last ? fmt::format("record {} is", first)
                       : fmt::format("records {}…{} are", first, last);
}

// The chain as read so far, and the first problem found in it.
class Chain {
 public:
  void fail(std::uint64_t seq, std::string message) {
    if (!failed_) {
      failed_ = true;
      first_bad_ = seq;
      message_ = std::move(message);
    }
  }

  void invalidLine(const LineReader::Line& line, const std::string& why) {
    fail(expected_, fmt::format("line {}: not a valid audit record ({})", line.number, why));
  }

  void add(const Record& r) {
    ++records_;
    if (missing_ && r.seq == *missing_) {
      missing_seen_later_ = true;
    }
    const bool hash_ok = computeHash(r) == r.hash;
    if (!hash_ok) {
      fail(r.seq, fmt::format("record {}: hash does not match its contents (changed after it was "
                              "written)",
                              r.seq));
    } else if (r.seq > expected_) {
      if (!failed_) {
        missing_ = expected_;
        jump_to_ = r.seq;
      }
      fail(expected_, "");  // worded in finish(), once it is known whether it comes later
    } else if (r.seq < expected_) {
      fail(r.seq, fmt::format("record {}: out of order or repeated (it follows record {})", r.seq,
                              expected_ - 1));
    } else if (r.prev_hash != prev_) {
      if (r.seq == 1) {
        fail(1, "record 1: prev_hash is not 64 zeros (the start of the chain)");
      } else {
        fail(r.seq - 1, fmt::format("record {}: prev_hash does not match the hash of record {} "
                                    "(record {} was changed after it was written, or replaced)",
                                    r.seq, r.seq - 1, r.seq - 1));
      }
    }
    if (hash_ok && r.action == action::kAuditIntegrity) {
      notes_.push_back(fmt::format("record {} ({}): damage found when the trail was opened: {}",
                                   r.seq, formatIso8601(r.time_ms), r.detail));
    }
    if (watch_seq_ && r.seq == *watch_seq_) {
      watched_hash_ = r.hash;
    }
    expected_ = r.seq + 1;
    prev_ = r.hash;
    before_last_ = last_;
    last_ = Head{r.seq, r.hash};
  }

  // Keeps the hash of the record `seq` when it comes by (the head of a trail being appended to).
  void watch(std::uint64_t seq) { watch_seq_ = seq; }
  const std::optional<std::string>& watchedHash() const { return watched_hash_; }

  void finish(VerifyReport& report) {
    if (missing_) {
      const std::uint64_t e = *missing_;
      if (missing_seen_later_) {
        message_ =
            fmt::format("records out of order: record {} is where record {} belongs", jump_to_, e);
      } else if (e == 1) {
        message_ = fmt::format("{} missing (deleted): the log starts at record {}",
                               range(1, jump_to_ - 1), jump_to_);
      } else {
        message_ = fmt::format("{} missing (deleted): record {} is followed by record {}",
                               range(e, jump_to_ - 1), e - 1, jump_to_);
      }
    }
    report.records = records_;
    report.ok = !failed_;
    report.first_bad_seq = failed_ ? first_bad_ : 0;
    report.message = failed_ ? message_ : std::string();
    report.head = last_;
    report.notes.insert(report.notes.end(), notes_.begin(), notes_.end());
  }

  const Head& last() const { return last_; }
  const Head& beforeLast() const { return before_last_; }
  std::uint64_t records() const { return records_; }
  bool failed() const { return failed_; }

 private:
  std::uint64_t expected_ = 1;
  std::string prev_ = zeroHash();
  std::uint64_t records_ = 0;
  Head last_{0, zeroHash()};
  std::optional<std::uint64_t> watch_seq_;
  std::optional<std::string> watched_hash_;
  Head before_last_{0, zeroHash()};
  bool failed_ = false;
  std::uint64_t first_bad_ = 0;
  std::string message_;
  std::optional<std::uint64_t> missing_;  // a gap was the first problem: this record is not
  std::uint64_t jump_to_ = 0;             // where it should be (record jump_to_ is)
  bool missing_seen_later_ = false;
  std::vector<std::string> notes_;
};

}  // namespace

std::string errnoText(int error) {
  return std::strerror(error);  // NOLINT(concurrency-mt-unsafe): message text only
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int Fd::release() {
  return std::exchange(fd_, -1);
}

Result<LineReader> LineReader::open(const std::string& path, std::uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return makeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     fmt::format("cannot read {}: {}", path, errnoText(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}: {}", path, errnoText(errno)));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // What is in the file now: a line being appended meanwhile is not read half.
  return LineReader(path, std::move(fd), std::min(size, max_bytes), size);
}

bool LineReader::fill() {
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    buffer_offset_ += pos_;
    pos_ = 0;
  }
  if (limit_ == 0) {
    eof_ = true;
    return false;
  }
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, limit_));
  const std::size_t old = buffer_.size();
  buffer_.resize(old + want);
  ssize_t n = 0;
  do {
    n = ::read(fd_.get(), buffer_.data() + old, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    error_ = makeError(ErrorCode::kIo, fmt::format("cannot read {}: {}", path_, errnoText(errno)));
    buffer_.resize(old);
    eof_ = true;
    return false;
  }
  buffer_.resize(old + static_cast<std::size_t>(n));
  limit_ -= static_cast<std::uint64_t>(n);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  return true;
}

bool LineReader::next(Line& line) {
  while (true) {
    const auto nl = buffer_.find('\n', pos_);
    if (nl != std::string::npos) {
      line.text.assign(buffer_, pos_, nl - pos_);
      line.offset = buffer_offset_ + pos_;
      line.number = ++line_number_;
      line.terminated = true;
      pos_ = nl + 1;
      return true;
    }
    if (eof_ || !fill()) {
      if (error_ || pos_ >= buffer_.size()) {
        return false;
      }
      line.text.assign(buffer_, pos_, std::string::npos);
      line.offset = buffer_offset_ + pos_;
      line.number = ++line_number_;
      line.terminated = false;
      pos_ = buffer_.size();
      return true;
    }
  }
}

std::string formatHead(const Head& h) {
  json j;
  j["seq"] = h.seq;
  j["hash"] = h.hash;
  return j.dump() + "\n";
}

HeadFile readHeadFile(const std::string& path) {
  HeadFile out;
  auto reader = LineReader::open(path, 4096);
  if (!reader) {
    if (reader.error().code != ErrorCode::kNotFound) {
      out.exists = true;
      out.problem = reader.error().message;
    }
    return out;
  }
  out.exists = true;
  std::string text;
  LineReader::Line line;
  while (reader->next(line)) {
    text += line.text;
  }
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
      !j.contains("hash") || !j["hash"].is_string() || j.size() != 2) {
    out.problem = "not {\"seq\": N, \"hash\": \"…\"}";
    return out;
  }
  Head h{j["seq"].get<std::uint64_t>(), j["hash"].get<std::string>()};
  if (h.hash.size() != 64 || !std::all_of(h.hash.begin(), h.hash.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    out.problem = "the hash is not 64 hexadecimal digits";
    return out;
  }
  out.head = std::move(h);
  return out;
}

namespace {

bool sameHead(const HeadFile& a, const HeadFile& b) {
  return a.exists == b.exists && a.problem == b.problem &&
         a.head.has_value() == b.head.has_value() &&
         (!a.head || (a.head->seq == b.head->seq && a.head->hash == b.head->hash));
}

// One reading of the trail against `head`, which was read before the log. `live`: equalisd
// appended throughout the reading (the head changed at every attempt), so the log may go on past
// the head by any number of records; the head must then name a record of the log with its hash.
Scan scanOnce(const std::string& path, const HeadFile& head, bool live = false) {
  Scan scan;
  VerifyReport& report = scan.report;
  report.head = Head{0, zeroHash()};
  auto reader = LineReader::open(path);
  if (!reader) {
    if (reader.error().code != ErrorCode::kNotFound) {
      scan.exists = true;
      scan.read_error = reader.error();
    }
    report.message = scan.exists ? reader.error().message
                                 : fmt::format("no audit trail: {} does not exist", path);
    return scan;
  }
  scan.exists = true;
  scan.head_file = head.head;

  Chain chain;
  if (live && head.head) {
    chain.watch(head.head->seq);
  }
  // Each line is taken in once the next one is read, so the last line is known as such.
  std::optional<LineReader::Line> held;
  LineReader::Line line;
  auto take = [&chain](const LineReader::Line& l) {
    if (l.text.empty()) {
      chain.invalidLine(l, "empty line");
      return;
    }
    auto r = parseLine(l.text);
    if (!r) {
      chain.invalidLine(l, r.error().message);
      return;
    }
    chain.add(*r);
  };
  while (reader->next(line)) {
    if (held) {
      take(*held);
    }
    held = line;
  }
  if (reader->error()) {
    scan.read_error = *reader->error();
    report.message = reader->error()->message;
    return scan;
  }
  scan.size = reader->fileSize();
  if (held) {
    // The last line. Incomplete or invalid, and audit.head names the record before it: an append
    // interrupted by a crash (the head is replaced only after a record is complete and synced).
    const bool suspect = !held->terminated || held->text.empty() || !parseLine(held->text).ok();
    if (suspect && head.head && head.head->seq == chain.last().seq &&
        head.head->hash == chain.last().hash) {
      scan.torn = held->offset;
      scan.size = held->offset;
      report.notes.push_back(fmt::format(
          "line {}: an append interrupted by a crash (an incomplete last line that audit.head "
          "does not name; cut off when equalisd next opens the trail)",
          held->number));
    } else {
      take(*held);
      if (!held->terminated) {
        scan.ends_with_line_end = false;
        chain.fail(chain.last().seq,
                   fmt::format("line {}: the last line has no line end (the file was cut or "
                               "edited)",
                               held->number));
      }
    }
  }

  // The head: deletion of the newest records.
  const Head& last = chain.last();
  if (!head.exists) {
    if (chain.records() == 0 && !chain.failed()) {
      scan.head_missing_empty = true;
      report.notes.emplace_back("audit.head is missing (there are no records yet)");
    } else {
      chain.fail(0, "audit.head is missing: deletion of the newest records cannot be ruled out");
    }
  } else if (!head.head) {
    chain.fail(0, fmt::format("audit.head is not valid: {}", head.problem));
  } else if (head.head->seq == last.seq) {
    if (head.head->hash != last.hash) {
      chain.fail(last.seq, fmt::format("audit.head names record {} with another hash than record "
                                       "{} has: the head or the record was altered",
                                       last.seq, last.seq));
    }
  } else if (head.head->seq > last.seq) {
    chain.fail(last.seq + 1,
               fmt::format("{} missing (deleted at the end): audit.head names "
                           "record {}, the log ends at record {}",
                           range(last.seq + 1, head.head->seq), head.head->seq, last.seq));
  } else if (head.head->seq + 1 == last.seq && head.head->hash == chain.beforeLast().hash &&
             !scan.torn) {
    // A crash after the record was synced and before the head was replaced.
    scan.head_behind = true;
    report.notes.push_back(
        fmt::format("audit.head names record {}, the record before the newest: an append "
                    "interrupted before the head was updated (brought up to date when equalisd "
                    "next opens the trail)",
                    head.head->seq));
  } else if (live && head.head->seq > 0 && chain.watchedHash() == head.head->hash) {
    report.notes.push_back(
        fmt::format("records {} … {} were appended while the trail was read (audit.head named "
                    "record {} before it)",
                    head.head->seq + 1, last.seq, head.head->seq));
  } else {
    chain.fail(head.head->seq + 1,
               fmt::format("audit.head names record {}, but the log goes on to record {}: the "
                           "head was altered or replaced",
                           head.head->seq, last.seq));
  }
  chain.finish(report);
  return scan;
}

}  // namespace

Scan scanLog(const std::string& path) {
  // The head is read before the log and again after it. equalisd replaces the head only after a
  // record is complete and synced, so while the head stays the same the log read holds at most
  // one record it does not name yet (being appended): the checks above hold while equalisd
  // appends. When the head changed meanwhile, the trail is read again; after kAttempts readings
  // that all saw the head move, the last one is judged as a trail being appended to.
  constexpr int kAttempts = 5;
  const std::string head_path = headPath(path);
  HeadFile before = readHeadFile(head_path);
  Scan scan;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    scan = scanOnce(path, before);
    HeadFile after = readHeadFile(head_path);
    if (sameHead(before, after)) {
      return scan;
    }
    before = std::move(after);
  }
  // equalisd kept appending: read once more against the head read just before, which must name
  // a record of the log with its hash; the records after it were appended meanwhile (equalisd
  // never removes records, so a log shorter than that head is still a deletion).
  return scanOnce(path, before, /*live=*/true);
}

VerifyReport verify(const std::string& path) {
  return scanLog(path).report;
}

}  // namespace equalis::audit
