// Inside the audit library: reading the log line by line, the head file, and the scan that both
// verify() and Log::open() run over a trail.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit.hpp"
#include "core/result.hpp"

namespace equalis::audit {

inline constexpr std::uint64_t kWholeFile = std::numeric_limits<std::uint64_t>::max();

std::string zeroHash();
std::string sha256Hex(std::string_view data);
std::string errnoText(int error);

// Closes a descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release();

 private:
  int fd_;
};

// The lines of a file, read in chunks, up to `max_bytes` of it.
class LineReader {
 public:
  static Result<LineReader> open(const std::string& path, std::uint64_t max_bytes = kWholeFile);

  struct Line {
    std::string text;  // without the '\n'
    std::uint64_t number = 0;
    std::uint64_t offset = 0;  // of its first byte in the file
    bool terminated = false;   // ended with '\n' (the last line of a file may not)
  };
  // The next line; false at the end of the file or on a read error (error() then says which).
  bool next(Line& line);
  const std::optional<Error>& error() const { return error_; }
  std::uint64_t fileSize() const { return file_size_; }

 private:
  LineReader(std::string path, Fd fd, std::uint64_t limit, std::uint64_t file_size)
      : path_(std::move(path)), fd_(std::move(fd)), limit_(limit), file_size_(file_size) {}
  bool fill();

  std::string path_;
  Fd fd_;
  std::uint64_t limit_;  // bytes still to read
  std::uint64_t file_size_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  std::uint64_t line_number_ = 0;
  bool eof_ = false;
  std::optional<Error> error_;
};

std::string formatHead(const Head& h);

struct HeadFile {
  bool exists = false;
  std::optional<Head> head;  // set when it exists and is valid
  std::string problem;       // why it is not valid, or the read error
};
HeadFile readHeadFile(const std::string& path);

// A whole trail read: what verify() reports, and what open() needs to continue it.
struct Scan {
  bool exists = false;                // audit.jsonl exists
  std::optional<Error> read_error;    // the file could not be read (report is then not ok)
  VerifyReport report;                // report.head: the newest valid record
  std::optional<std::uint64_t> torn;  // offset of an interrupted append's last line, to cut
  bool head_behind = false;           // audit.head names the record before the newest one
  bool head_missing_empty = false;    // no audit.head, and no records: nothing to lose
  bool ends_with_line_end = true;     // the file (without a torn last line) ends with '\n'
  std::uint64_t size = 0;             // bytes of the file without the torn last line
  std::optional<Head> head_file;      // audit.head as read
};
Scan scanLog(const std::string& path);

// list() and exportCsv() over the first `max_bytes` of the file.
Result<std::vector<Record>> listUpTo(const std::string& path, const Query& query,
                                     std::uint64_t max_bytes);
Status exportCsvUpTo(const std::string& path, const Query& query, const CsvSink& sink,
                     std::uint64_t max_bytes);

}  // namespace equalis::audit
