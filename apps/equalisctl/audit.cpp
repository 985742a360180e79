#include "equalisctl/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/audit.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "model/plant.hpp"

namespace equalisctl {

namespace {

using nlohmann::json;
namespace audit = equalis::audit;

// Exit statuses of `equalisctl audit` (docs/security.md).
constexpr int kExitDamaged = 1;  // verify found damage; or the trail cannot be read
constexpr int kExitUsage = 2;

int usage(const std::string& message) {
  std::fprintf(stderr, "equalisctl audit: %s (see equalisctl --help)\n", message.c_str());
  return kExitUsage;
}

int failed(const std::string& message) {
  std::fprintf(stderr, "equalisctl audit: %s\n", message.c_str());
  return kExitDamaged;
}

struct AuditOptions {
  std::string sub;
  std::string data_dir;
  std::string config_path;
  std::string output;
  audit::Query query;
};

// Text from the trail for a terminal: control characters (a user name may hold any) are shown
// as escapes, never sent to the terminal.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20U || u == 0x7FU) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

json recordJson(const audit::Record& r) {
  return json{{"seq", r.seq},
              {"time", equalis::formatIso8601(r.time_ms)},
              {"time_ms", r.time_ms},
              {"user", r.user},
              {"address", r.address},
              {"via", r.via},
              {"action", r.action},
              {"target", r.target},
              {"old_value", r.old_value},
              {"new_value", r.new_value},
              {"outcome", r.outcome},
              {"detail", r.detail},
              {"prev_hash", r.prev_hash},
              {"hash", r.hash}};
}

// The trail's path from --data-dir, --config (the daemon's data_dir) or the default "data".
std::optional<std::string> trailPath(const AuditOptions& o, int& code) {
  if (!o.data_dir.empty()) {
    return audit::auditPath(o.data_dir);
  }
  if (!o.config_path.empty()) {
    const auto loaded = equalis::config::loadConfigFile(o.config_path);
    if (!loaded.ok()) {
      std::fputs(loaded.describe(o.config_path).c_str(), stderr);
      code = kExitDamaged;
      return std::nullopt;
    }
    return audit::auditPath(loaded.config->data_dir);
  }
  return audit::auditPath(equalis::model::PlantConfig{}.data_dir);
}

// An error reading the trail, with a hint when it is the file mode (0600, the daemon's user).
int readError(const std::string& path, const std::string& message) {
  if (::access(path.c_str(), R_OK) != 0 && errno == EACCES) {
    return failed(message +
                  " (the trail is readable by equalisd's user only: run as that user, "
                  "e.g. sudo -u equalis equalisctl audit …)");
  }
  return failed(message);
}

int verifyTrail(const std::string& path, bool as_json) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    return failed(fmt::format("no audit trail: {} does not exist", path));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return readError(path, fmt::format("cannot read {}: {}", path,
                                       std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
  }
  const auto report = audit::verify(path);
  if (as_json) {
    std::cout << json{{"path", path},
                      {"ok", report.ok},
                      {"records", report.records},
                      {"first_bad_seq", report.first_bad_seq},
                      {"message", report.message},
                      {"head", {{"seq", report.head.seq}, {"hash", report.head.hash}}},
                      {"notes", report.notes}}
                     .dump(2)
              << "\n";
    return report.ok ? 0 : kExitDamaged;
  }
  if (report.ok) {
    std::printf("audit trail intact: %llu records, head %s\n",
                static_cast<unsigned long long>(report.records), report.head.hash.c_str());
  } else {
    std::printf("audit trail damaged: %s\n", printable(report.message).c_str());
    std::printf("(%s: %llu valid records)\n", path.c_str(),
                static_cast<unsigned long long>(report.records));
  }
  for (const auto& note : report.notes) {
    std::printf("note: %s\n", printable(note).c_str());
  }
  return report.ok ? 0 : kExitDamaged;
}

int listTrail(const std::string& path, const audit::Query& query, bool as_json) {
  auto records = audit::list(path, query);
  if (!records) {
    return readError(path, records.error().message);
  }
  if (as_json) {
    json arr = json::array();
    for (const auto& r : *records) {
      arr.push_back(recordJson(r));
    }
    std::cout << json{{"records", std::move(arr)}}.dump(2) << "\n";
    return 0;
  }
  if (records->empty()) {
    std::printf("no audit records\n");
    return 0;
  }
  std::cout << fmt::format("{:>6}  {:<24}  {:<12} {:<15} {:<6} {:<18} {:<7} {}\n", "Seq", "Time",
                           "User", "Address", "Via", "Action", "Outcome", "Target, change, detail");
  for (const auto& r : *records) {
    std::string what = printable(r.target);
    if (!r.old_value.empty() || !r.new_value.empty()) {
      what += fmt::format("{}{} → {}", what.empty() ? "" : ": ", printable(r.old_value),
                          printable(r.new_value));
    }
    if (!r.detail.empty()) {
      what += fmt::format("{}({})", what.empty() ? "" : " ", printable(r.detail));
    }
    std::cout << fmt::format("{:>6}  {:<24}  {:<12} {:<15} {:<6} {:<18} {:<7} {}\n", r.seq,
                             equalis::formatIso8601(r.time_ms),
                             r.user.empty() ? "-" : printable(r.user),
                             r.address.empty() ? "-" : printable(r.address), printable(r.via),
                             printable(r.action), printable(r.outcome), what);
  }
  return 0;
}

int exportTrail(const std::string& path, const audit::Query& query, const std::string& output) {
  int fd = STDOUT_FILENO;
  if (!output.empty()) {
    // The export holds what the trail holds: readable by its owner only, like the trail.
    fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return failed(fmt::format("cannot write {}: {}", output,
                                std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
    }
  }
  bool write_failed = false;
  auto st = audit::exportCsv(path, query, [fd, &write_failed](std::string_view chunk) {
    std::size_t done = 0;
    while (done < chunk.size()) {
      const auto n = ::write(fd, chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        write_failed = true;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  });
  if (!output.empty() && ::close(fd) != 0) {
    write_failed = true;
  }
  if (write_failed) {
    if (!output.empty()) {
      ::unlink(output.c_str());
    }
    return failed(fmt::format("cannot write {}", output.empty() ? "the output" : output));
  }
  if (!st) {
    if (!output.empty()) {
      ::unlink(output.c_str());
    }
    return readError(path, st.error().message);
  }
  if (!output.empty()) {
    std::fprintf(stderr, "%s: audit trail exported\n", output.c_str());
  }
  return 0;
}

}  // namespace

int cmdAudit(const std::vector<std::string>& args, bool json) {
  if (args.empty() || (args[0] != "verify" && args[0] != "list" && args[0] != "export")) {
    return usage("audit needs verify, list or export");
  }
  AuditOptions o;
  o.sub = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      return usage("unexpected argument '" + a + "'");
    }
    if (i + 1 >= args.size()) {
      return usage(a + " needs a value");
    }
    const std::string& v = args[++i];
    const bool reads_records = o.sub != "verify";
    if (a == "--data-dir") {
      o.data_dir = v;
    } else if (a == "--config") {
      o.config_path = v;
    } else if (reads_records && (a == "--from" || a == "--to")) {
      equalis::TimeMs t = 0;
      if (!equalis::parseTime(v, t)) {
        return usage(fmt::format("{} must be ISO 8601 UTC or epoch milliseconds, got '{}'", a, v));
      }
      (a == "--from" ? o.query.from_ms : o.query.to_ms) = t;
    } else if (reads_records && a == "--user") {
      o.query.user = v;
    } else if (reads_records && a == "--action") {
      o.query.action_prefix = v;
    } else if (reads_records && a == "--limit") {
      char* end = nullptr;
      errno = 0;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || v[0] == '-' || end == nullptr || *end != '\0' || errno != 0 || n == 0) {
        return usage(fmt::format("--limit must be a positive number, got '{}'", v));
      }
      o.query.limit = static_cast<std::size_t>(n);
    } else if (o.sub == "export" && a == "--output") {
      o.output = v;
    } else {
      return usage("unexpected argument '" + a + "'");
    }
  }
  if (!o.data_dir.empty() && !o.config_path.empty()) {
    return usage("--data-dir or --config, not both");
  }
  int code = 0;
  const auto path = trailPath(o, code);
  if (!path) {
    return code;
  }
  if (o.sub == "verify") {
    return verifyTrail(*path, json);
  }
  if (o.sub == "list") {
    return listTrail(*path, o.query, json);
  }
  return exportTrail(*path, o.query, o.output);
}

}  // namespace equalisctl
