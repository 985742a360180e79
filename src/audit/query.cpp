// Reading records back: filtered lists and the CSV export.
#include <algorithm>
#include <deque>
#include <utility>

#include <fmt/format.h>

#include "audit/audit.hpp"
#include "audit/reader.hpp"

namespace equalis::audit {

namespace {

constexpr std::size_t kCsvChunk = 65536;

bool matches(const Query& q, const Record& r) {
  return r.time_ms >= q.from_ms && r.time_ms <= q.to_ms && (q.user.empty() || r.user == q.user) &&
         r.action.compare(0, q.action_prefix.size(), q.action_prefix) == 0;
}

// Calls `visit` with every valid record that matches, in file order; a last line still being
// written (no line end) and invalid lines are passed over.
template <class Visit>
Status forEachMatch(const std::string& path, const Query& q, std::uint64_t max_bytes,
                    Visit&& visit) {
  auto reader = LineReader::open(path, max_bytes);
  if (!reader) {
    return reader.error();
  }
  LineReader::Line line;
  while (reader->next(line)) {
    if (!line.terminated) {
      continue;
    }
    auto r = parseLine(line.text);
    if (r && matches(q, *r) && !visit(std::move(r).value())) {
      return makeError(ErrorCode::kUnavailable, "audit export cancelled");
    }
  }
  if (reader->error()) {
    return *reader->error();
  }
  return {};
}

// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
void appendCsvField(std::string& out, const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
}

void appendCsvRow(std::string& out, const Record& r) {
  out += formatIso8601(r.time_ms);
  out += ',';
  out += std::to_string(r.seq);
  for (const std::string* field : {&r.user, &r.address, &r.via, &r.action, &r.target, &r.old_value,
                                   &r.new_value, &r.outcome, &r.detail, &r.hash}) {
    out += ',';
    appendCsvField(out, *field);
  }
  out += "\r\n";
}

}  // namespace

Result<std::vector<Record>> listUpTo(const std::string& path, const Query& query,
                                     std::uint64_t max_bytes) {
  std::deque<Record> newest;
  auto st = forEachMatch(path, query, max_bytes, [&](Record r) {
    newest.push_back(std::move(r));
    if (query.limit > 0 && newest.size() > query.limit) {
      newest.pop_front();
    }
    return true;
  });
  if (!st) {
    return st.error();
  }
  return std::vector<Record>(std::make_move_iterator(newest.begin()),
                             std::make_move_iterator(newest.end()));
}

Status exportCsvUpTo(const std::string& path, const Query& query, const CsvSink& sink,
                     std::uint64_t max_bytes) {
  // With a limit, the first pass counts the matches so the second can skip to the newest ones.
  std::uint64_t skip = 0;
  if (query.limit > 0) {
    // Both passes read the same bytes, however much is appended meanwhile.
    auto size = LineReader::open(path, max_bytes);
    if (!size) {
      return size.error();
    }
    max_bytes = std::min(max_bytes, size->fileSize());
    std::uint64_t count = 0;
    auto st = forEachMatch(path, query, max_bytes, [&count](const Record&) {
      ++count;
      return true;
    });
    if (!st) {
      return st;
    }
    skip = count > query.limit ? count - query.limit : 0;
  }
  std::string out = "time,seq,user,address,via,action,target,old,new,outcome,detail,hash\r\n";
  auto st = forEachMatch(path, query, max_bytes, [&](const Record& r) {
    if (skip > 0) {
      --skip;
      return true;
    }
    appendCsvRow(out, r);
    if (out.size() >= kCsvChunk) {
      if (!sink(out)) {
        return false;
      }
      out.clear();
    }
    return true;
  });
  if (!st) {
    return st;
  }
  if (!out.empty() && !sink(out)) {
    return makeError(ErrorCode::kUnavailable, "audit export cancelled");
  }
  return {};
}

Result<std::vector<Record>> list(const std::string& path, const Query& query) {
  return listUpTo(path, query, kWholeFile);
}

Status exportCsv(const std::string& path, const Query& query, const CsvSink& sink) {
  return exportCsvUpTo(path, query, sink, kWholeFile);
}

}  // namespace equalis::audit
