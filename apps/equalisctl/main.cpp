// equalisctl — command-line client of equalisd (REST API), plus offline helpers
// (configuration check, point catalogue) and module-bus commissioning on a line (bus.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/version.hpp"
#include "equalisctl/audit.hpp"
#include "equalisctl/bus.hpp"
#include "equalisctl/user.hpp"
#include "model/points.hpp"
#include "ops/backup.hpp"

namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(Usage: equalisctl [--url URL] [--json] COMMAND [args]
Commands:
  status                      one table per string (Σ V, current, power, mode, target, charge)
  blocks STRING               the blocks of one string (1-based)
  capacity STRING             each block's capacity estimated from the string's discharges:
                              % of nominal and against the string's mean block, each ± 1 σ,
                              with the number of discharges behind it; weakest first
  discharges STRING [--from T] [--to T]
                              the string's recorded discharges, newest first (default: the
                              whole history): duration, Ah, kWh, lowest voltage, the first
                              block at the end voltage and the runtime predicted at half time
  report STRING ID [--csv|--html] [--output FILE]
                              the report of one discharge (ID from `discharges`): summary,
                              the order the blocks reached each voltage, every block's
                              voltages, temperatures, charge and capacity; --csv one row per
                              block, --html a printable page
  health STRING [BLOCK]        each block's state of health (% of nominal ± 1 σ), IEEE state,
                              Ri rise at 25 °C, SOH trend, remaining life to 80 % with its
                              80 % interval, warnings and the replacement list; with BLOCK
                              that block's evidence and weekly history
  events [--from T] [--to T] [--kind K] [--level L] [--string N] [--block B] [--limit N]
                              the event log, filtered (kinds: alarm, protection, input, …),
                              oldest first (--limit N: the newest N of the range)
  alarms                      the active alarms, worst first (shelved ones marked)
  protection-reset STRING     operator reset of a string's thermal-runaway protection (closes
                              the breaker, restores a lowered charger)
  export [--from T] [--to T] [--string N] [--output FILE]
                              block history as CSV (times ISO 8601 UTC or epoch ms), streamed;
                              without --from from the oldest record, without --to up to now;
                              with --output it says how many rows it wrote and their times
  reload                      make equalisd re-read its configuration file (as SIGHUP does):
                              prints what was applied and what needs a restart; an invalid
                              file is refused with its problems and the running one stays
  backup [--with-history] FILE
                              download a backup archive (configuration, alarm-rule changes,
                              calibration, Ri baselines; --with-history: the history store too)
  restore FILE                upload FILE to the running equalisd: checked, staged, applied at
                              its next restart (systemctl restart equalis)
  restore FILE --data-dir DIR [--config PATH]
                              restore into a stopped equalisd's data directory (and its
                              configuration file); what it replaces is kept in DIR/replaced-*/
  certificate show            the certificate equalisd serves over HTTPS: subject, names,
                              validity, SHA-256 fingerprint, source (config, installed,
                              self-signed) (admin)
  certificate install --cert FILE --key FILE
                              install the site's certificate (PEM chain, the server's first)
                              and its unencrypted key on the running equalisd: checked, stored
                              in its data directory, served to new connections at once (admin)
  certificate remove          remove the installed certificate: back to the self-signed one
  points [--markdown]         the point catalogue (offline)
  check-config FILE           validate a configuration file (offline)
Module-bus commissioning (docs/operations.md), talking to a line directly, not to equalisd:
stop equalisd first (systemctl stop equalis) or use a line it does not run; a serial line is
opened exclusively, so a second program gets "in use". LINE: serial:/dev/ttyUSB0:115200 or
tcp://HOST:PORT.
  bus scan --line LINE [--first A] [--max N] [--stop-after M]
                              READ_INFO of addresses A … A+N−1 (default 1 …, stopping after M
                              = 10 addresses without an answer; 0: never): address, serial,
                              firmware, device type; then the serials of unaddressed modules
                              (SEARCH)
  bus assign --line LINE --chain [--first A] [--max N]
                              forget every address on the line (UNASSIGN), then address the
                              modules in chain order from A (default 1), at most N
  bus assign --line LINE --serial S --address A
                              the module with serial S (0x45510003 or decimal) takes address A
                              (1 … 0xFFFD); refused when another module answers at A
  bus options: --timeout-ms T (reply wait beyond the wire time, default 20), --retries R
               (default 1), --baud B (the RS-485 speed behind a tcp:// gateway)
Audit trail (docs/security.md), read from the data directory (DIR/audit.jsonl; --config FILE:
equalisd's data_dir; default: data), offline: equalisd may run meanwhile.
  audit verify [--data-dir DIR | --config FILE]
                              check the hash chain and audit.head: "audit trail intact: N
                              records, head HASH", or the first record that is wrong
  audit list [--from T] [--to T] [--user U] [--action PREFIX] [--limit N] [--data-dir DIR]
                              the records, newest last (--limit N: the newest N)
  audit export [list's filters] [--output FILE.csv]
                              the records as CSV (RFC 4180; the file is created 0600)
Accounts (docs/security.md), editing DIR/users.json directly: no equalisd needed, a running
one applies the change at its next request. Each takes --data-dir DIR or --config FILE
(equalisd's data_dir; default: data). A password comes from --password-file FILE or one line
on standard input (asked twice, not echoed, at a terminal).
  user add NAME --role ROLE   add a user; ROLE: viewer (reads), operator (also acknowledges
                              alarms, switches outputs, resets protection and Ri baselines),
                              admin (also settings and accounts)
  user list                   the users, their roles and when they were added
  user remove NAME            remove a user (never the last admin); their sessions end
  user passwd NAME            set a user's password; their sessions end
  user role NAME ROLE         change a user's role (never the last admin's)
  token create LABEL --role ROLE
                              a new API token: its secret is printed once and never again
  token list                  the API tokens: id, label, role, created, by whom
  token revoke ID             revoke an API token
Options:
  --url URL   equalisd address (default $EQUALIS_URL or http://127.0.0.1:8080)
  --token-file FILE
              an API token for changes (equalisctl token create); also $EQUALIS_TOKEN or
              $EQUALIS_TOKEN_FILE
  --ca-file FILE
              trust the certificate(s) in FILE for an https:// URL, e.g. equalisd's self-signed
              DATA_DIR/tls/cert.pem (also $EQUALIS_CA_FILE); otherwise the system's CAs
  --json      print JSON instead of tables: the API's, or for bus the devices found
              (docs/module-bus.md §10.1)
  --version   print the version and git commit
  --help      this text
Exit status: 0 ok, 1 error reported by equalisd or invalid input, 2 usage, 3 cannot connect.
bus: 0 ok, 1 no answer (serial not found, address taken, empty chain), 2 usage or a bad value
(LINE, address out of range, serial), 3 the line cannot be opened or fails (missing, in use).
user, token: 0 ok, 1 failure (bad name or password, no such user, the last admin, file error),
2 usage.
audit: 0 ok (intact), 1 damaged or cannot be read, 2 usage.
)";

struct Options {
  std::string url;
  std::string token;    // API token (--token-file, $EQUALIS_TOKEN or $EQUALIS_TOKEN_FILE)
  std::string ca_file;  // certificates trusted for https:// (--ca-file, $EQUALIS_CA_FILE)
  bool json = false;
};

// A client for equalisd with the API token, when there is one (docs/security.md).
httplib::Client client(const Options& o) {
  httplib::Client cli(o.url);
  if (!o.token.empty()) {
    cli.set_bearer_token_auth(o.token);
  }
  if (!o.ca_file.empty()) {
    cli.set_ca_cert_path(o.ca_file.c_str());
  }
  return cli;
}

// The first line of a token file, without surrounding white space.
std::string readTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  return first == std::string::npos ? std::string() : line.substr(first, last - first + 1);
}

struct Fetched {
  int status = 0;
  std::string body;
};

int connectError(const Options& o, const std::string& what) {
  std::fprintf(stderr, "equalisctl: cannot reach equalisd at %s: %s\n", o.url.c_str(),
               what.c_str());
  return 3;
}

// GET path; on transport errors returns status 0 and the error text in body.
Fetched get(const Options& o, const std::string& path) {
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  auto res = cli.Get(path);
  if (!res) {
    return {0, httplib::to_string(res.error())};
  }
  return {res->status, res->body};
}

// POST path with an empty JSON body; on transport errors returns status 0 and the error text.
Fetched post(const Options& o, const std::string& path) {
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  auto res = cli.Post(path, "{}", "application/json");
  if (!res) {
    return {0, httplib::to_string(res.error())};
  }
  return {res->status, res->body};
}

// Checks a fetched answer: JSON, or the API's error printed; nullopt on failure with `code` set.
std::optional<json> parseAnswer(const Options& o, const std::string& path, const Fetched& f,
                                int& code);

// Fetches JSON or prints the API error; returns nullopt on failure with `code` set.
std::optional<json> getJson(const Options& o, const std::string& path, int& code) {
  return parseAnswer(o, path, get(o, path), code);
}

std::optional<json> parseAnswer(const Options& o, const std::string& path, const Fetched& f,
                                int& code) {
  if (f.status == 0) {
    code = connectError(o, f.body);
    return std::nullopt;
  }
  auto j = json::parse(f.body, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "equalisctl: %s answered %d with non-JSON content\n", path.c_str(),
                 f.status);
    code = 1;
    return std::nullopt;
  }
  if (f.status >= 400) {
    const auto msg = j.contains("error") ? j["error"].value("message", f.body) : f.body;
    std::fprintf(stderr, "equalisctl: %s\n", msg.c_str());
    code = 1;
    return std::nullopt;
  }
  return j;
}

// Formats a value object: "13.61" or "—" with a quality marker when not ok.
std::string cell(const json& v, int decimals, const char* suffix = "") {
  if (!v.is_object() || v["value"].is_null()) {
    return "—";
  }
  std::string text;
  if (v["value"].is_string()) {
    text = v["value"].get<std::string>();
  } else {
    text = fmt::format("{:.{}f}{}", v["value"].get<double>(), decimals, suffix);
  }
  const auto q = v.value("quality", "ok");
  if (q != "ok") {
    text += " (" + q + ")";
  }
  return text;
}

int cmdStatus(const Options& o) {
  int code = 0;
  auto sys = getJson(o, "/api/v1/system", code);
  if (!sys) {
    return code;
  }
  auto strings = getJson(o, "/api/v1/strings", code);
  if (!strings) {
    return code;
  }
  if (o.json) {
    std::cout << json{{"system", *sys}, {"strings", (*strings)["strings"]}}.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{} — {}   {}   ambient {} °C\n", (*sys)["site"].value("name", ""),
                           (*sys)["site"].value("location", ""), sys->value("time", ""),
                           cell((*sys)["ambient_temperature_c"], 1));
  std::cout << fmt::format("{:<3} {:<16} {:>6} {:>12} {:>10} {:>9} {:>10} {:>9} {:>10} {:>9}\n",
                           "#", "String", "Blocks", "Σ Voltage V", "Current A", "Power kW", "Mode",
                           "Target V", "Charge %", "Spread V");
  for (const auto& s : (*strings)["strings"]) {
    std::cout << fmt::format("{:<3} {:<16} {:>6} {:>12} {:>10} {:>9} {:>10} {:>9} {:>10} {:>9}\n",
                             s.value("string", 0), s.value("name", ""), s.value("block_count", 0),
                             cell(s["voltage_v"], 2), cell(s["current_a"], 2),
                             cell(s["power_kw"], 2), cell(s["mode"], 0),
                             cell(s["target_voltage_v"], 2), cell(s["charge_avg_pct"], 1),
                             cell(s["block_voltage_spread_v"], 3));
  }
  return 0;
}

int cmdBlocks(const Options& o, const std::string& string_arg) {
  int code = 0;
  auto j = getJson(o, "/api/v1/strings/" + string_arg + "/blocks", code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::cout << j->dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{} (string {})  {}\n", j->value("name", ""), j->value("string", 0),
                           j->value("time", ""));
  std::cout << fmt::format("{:>4} {:>10} {:>9} {:>9} {:>8} {:>10} {:>8} {:>10} {:>7}\n", "No.",
                           "Volt. V", "Temp. °C", "Ri mΩ", "Charge", "Equalize", "Status",
                           "Quality", "Age s");
  for (const auto& b : (*j)["blocks"]) {
    const std::string age =
        b["age_s"].is_number() ? fmt::format("{:.0f}", b["age_s"].get<double>()) : "—";
    std::cout << fmt::format("{:>4} {:>10} {:>9} {:>9} {:>8} {:>10} {:>8} {:>10} {:>7}\n",
                             b.value("block", 0), cell(b["voltage_v"], 3),
                             cell(b["temperature_c"], 1), cell(b["ri_mohm"], 2),
                             cell(b["charge_pct"], 0, "%"), cell(b["equalization_level"], 0),
                             cell(b["status"], 0), b.value("quality", ""), age);
  }
  return 0;
}

// "12.3 ± 1.4" from a value point and its σ point; "—" without a value.
std::string withSigma(const json& v, const json& sigma, int decimals) {
  if (!v.is_object() || !v["value"].is_number()) {
    return "—";
  }
  std::string text = fmt::format("{:.{}f}", v["value"].get<double>(), decimals);
  if (sigma.is_object() && sigma["value"].is_number()) {
    text += fmt::format(" ± {:.{}f}", sigma["value"].get<double>(), decimals);
  }
  return text;
}

int cmdCapacity(const Options& o, const std::string& string_arg) {
  int code = 0;
  auto j = getJson(o, "/api/v1/strings/" + string_arg + "/blocks", code);
  if (!j) {
    return code;
  }
  auto blocks = (*j)["blocks"];
  if (o.json) {
    json out = json::array();
    for (const auto& b : blocks) {
      json row{{"block", b.value("block", 0)}};
      for (const char* key : {"capacity_pct", "capacity_sigma_pct", "capacity_relative_pct",
                              "capacity_relative_sigma_pct", "capacity_events"}) {
        row[key] = b[key].is_object() ? b[key]["value"] : json(nullptr);
      }
      out.push_back(row);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  // Weakest first; blocks without an estimate last, in block order.
  const auto rel = [](const json& b) {
    const auto& v = b["capacity_relative_pct"];
    return v.is_object() && v["value"].is_number() ? v["value"].get<double>() : 1e9;
  };
  std::vector<json> order(blocks.begin(), blocks.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](const json& a, const json& b) { return rel(a) < rel(b); });
  std::cout << fmt::format("{} (string {})  {}\n", j->value("name", ""), j->value("string", 0),
                           j->value("time", ""));
  std::cout << "Capacity from the string's discharges (docs/analysis.md); % of nominal needs the\n"
               "string's level from a capacity test (— until one has been run).\n";
  std::cout << fmt::format("{:>4} {:>16} {:>20} {:>7}\n", "No.", "% of nominal", "% of string mean",
                           "Events");
  int estimated = 0;
  for (const auto& b : order) {
    const auto& events = b["capacity_events"];
    const int n = events.is_object() && events["value"].is_number()
                      ? static_cast<int>(events["value"].get<double>())
                      : 0;
    estimated += n > 0 ? 1 : 0;
    std::cout << fmt::format(
        "{:>4} {:>16} {:>20} {:>7}\n", b.value("block", 0),
        withSigma(b["capacity_pct"], b["capacity_sigma_pct"], 1),
        withSigma(b["capacity_relative_pct"], b["capacity_relative_sigma_pct"], 1), n);
  }
  if (estimated == 0) {
    std::cout << "No estimate yet: it takes a discharge of at least 5 % of the capacity.\n";
  }
  return 0;
}

std::string numberText(const json& v, int decimals, const char* unit = "") {
  return v.is_number() ? fmt::format("{:.{}f}{}", v.get<double>(), decimals, unit) : "—";
}

int cmdHealth(const Options& o, const std::string& string_arg, const std::string& block_arg) {
  int code = 0;
  const std::string path = "/api/v1/strings/" + string_arg +
                           (block_arg.empty() ? "" : "/blocks/" + block_arg) + "/health";
  auto j = getJson(o, path, code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::cout << j->dump(2) << "\n";
    return 0;
  }
  const auto soh = [](const json& b) {
    return b["soh_pct"].is_number() ? fmt::format("{:.1f} ± {:.1f}", b["soh_pct"].get<double>(),
                                                  b["soh_sigma_pct"].get<double>())
                                    : std::string("—");
  };
  const auto rul = [](const json& r) {
    if (!r["years"].is_number()) {
      return std::string("—");
    }
    if (r["basis"] == "below 80 %") {
      return std::string("0 (below 80 %)");
    }
    return fmt::format("{:.1f} ({:.1f}–{:.1f}) {}", r["years"].get<double>(),
                       r["low_years"].get<double>(), r["high_years"].get<double>(),
                       r["basis"].is_string() ? r["basis"].get<std::string>() : "");
  };
  const auto trend = [](const json& t) {
    return t.is_object() ? fmt::format("{:+.1f}/y", t["per_year"].get<double>()) : std::string("—");
  };
  if (!block_arg.empty()) {
    const auto& b = *j;
    std::cout << fmt::format("String {}, block {}  {}\n", b.value("string", 0), b.value("block", 0),
                             b.value("time", ""));
    std::cout << fmt::format("SOH {} % ({}), Ri at 25 °C {} mΩ ({} % against {} mΩ)\n", soh(b),
                             b.value("state", ""), numberText(b["ri_25c_mohm"], 3),
                             numberText(b["ri_rise_25c_pct"], 1),
                             numberText(b["ri_baseline_25c_mohm"], 3));
    std::cout << fmt::format("Remaining life to 80 % in years: {}\n", rul(b["rul"]));
    std::cout << (b.value("warning", false) ? "WARNING: " : "") << b.value("evidence", "") << "\n";
    std::cout << fmt::format("{:<22} {:>10} {:>12} {:>12} {:>10}\n", "Week to", "SOH %", "Ri25 mΩ",
                             "float mV/c", "eq. %");
    for (const auto& w : b["history"]) {
      std::cout << fmt::format("{:<22} {:>10} {:>12} {:>12} {:>10}\n", w.value("time", ""),
                               numberText(w["soh_pct"], 1), numberText(w["ri_25c_mohm"], 3),
                               numberText(w["float_deviation_mv_per_cell"], 1),
                               numberText(w["equalization_pct"], 1));
    }
    return 0;
  }
  std::cout << fmt::format("String {}  {}: SOH {} % (weakest block {}), remaining life {} years\n",
                           j->value("string", 0), j->value("time", ""),
                           numberText((*j)["soh_pct"], 1),
                           (*j)["weakest_block"].is_number() ? (*j)["weakest_block"].dump() : "—",
                           numberText((*j)["rul_years"], 1));
  std::cout << fmt::format("{:>4} {:>13} {:>9} {:>9} {:>9} {:>26} {:>4}\n", "No.", "SOH %", "state",
                           "Ri25 %", "trend", "life to 80 % (years)", "warn");
  for (const auto& b : (*j)["blocks"]) {
    std::cout << fmt::format("{:>4} {:>13} {:>9} {:>9} {:>9} {:>26} {:>4}\n", b.value("block", 0),
                             soh(b), b.value("state", ""), numberText(b["ri_rise_25c_pct"], 1),
                             trend(b["trends"]["soh_pct"]), rul(b["rul"]),
                             b.value("warning", false) ? "yes" : "");
  }
  const auto& list = (*j)["replacement_list"];
  if (list.empty()) {
    std::cout << "Replacement list: empty.\n";
  } else {
    std::cout << "Replacement list (soonest first):\n";
    for (const auto& r : list) {
      std::cout << fmt::format("  block {}: {}\n", r.value("block", 0), r.value("evidence", ""));
    }
  }
  return 0;
}

std::string minutesText(const json& seconds) {
  return seconds.is_number() ? fmt::format("{:.1f} min", seconds.get<double>() / 60.0) : "—";
}

int cmdDischarges(const Options& o, const std::string& string_arg, std::string query) {
  if (query.find("?from=") == std::string::npos && query.find("&from=") == std::string::npos) {
    query += std::string(query.empty() ? "?" : "&") + "from=0";
  }
  int code = 0;
  auto j = getJson(o, "/api/v1/strings/" + string_arg + "/discharges" + query, code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::cout << j->dump(2) << "\n";
    return 0;
  }
  const auto& list = (*j)["discharges"];
  if (list.empty()) {
    std::cout << "no discharge recorded in the range\n";
    return 0;
  }
  std::cout << fmt::format("{:<14} {:<24} {:>10} {:>9} {:>8} {:>9}  {}\n", "ID", "Start",
                           "Duration", "Ah", "kWh", "Lowest V", "End voltage / runtime");
  for (const auto& d : list) {
    const auto& rep = d["report"];
    std::string end = "(no report)";
    double kwh = std::nan("");
    if (rep.is_object()) {
      kwh = rep.value("energy_wh", 0.0) / 1000.0;
      const auto& rt = rep["runtime"];
      if (rep["first_at_end"].is_object()) {
        end = fmt::format("block {} after {}; predicted at half time {}",
                          rep["first_at_end"].value("block", 0), minutesText(rt["actual_s"]),
                          minutesText(rt["predicted_at_half_s"]));
      } else {
        end = "not reached; runtime left " + minutesText(rt["left_at_end_s"]);
      }
    }
    std::cout << fmt::format(
        "{:<14} {:<24} {:>10} {:>9.2f} {:>8} {:>9}  {}{}\n", d.value("id", std::int64_t{0}),
        d.value("start", ""), minutesText(d["duration_s"]), d.value("ah_out", 0.0),
        std::isfinite(kwh) ? fmt::format("{:.2f}", kwh) : "—",
        d["min_voltage_v"].is_number() ? fmt::format("{:.1f}", d["min_voltage_v"].get<double>())
                                       : "—",
        end, d["end"].is_null() ? " (running)" : "");
  }
  return 0;
}

int cmdReport(const Options& o, const std::string& string_arg, const std::string& id,
              const std::string& form, const std::string& output) {
  const std::string path = "/api/v1/strings/" + string_arg + "/discharges/" + id + "/report" +
                           (form.empty() ? "" : "." + form);
  const auto f = get(o, path);
  if (f.status == 0 || f.status >= 400 || form.empty()) {
    int code = 0;
    auto j = parseAnswer(o, path, f, code);
    if (!j) {
      return code;
    }
    if (o.json || !output.empty()) {
      const std::string text = j->dump(2) + "\n";
      if (!output.empty()) {
        std::ofstream file(output, std::ios::binary | std::ios::trunc);
        file << text;
        return file ? 0 : 1;
      }
      std::cout << text;
      return 0;
    }
    const auto& r = *j;
    const auto& rt = r["runtime"];
    std::cout << fmt::format("String {}: discharge of {}\n", r.value("string", 0),
                             r.value("start", ""));
    std::cout << fmt::format("  {:.2f} Ah, {:.3f} kWh in {}; {:.1f} A mean, {:.1f} A peak\n",
                             r.value("ah_out", 0.0), r.value("energy_wh", 0.0) / 1000.0,
                             minutesText(r["duration_s"]), r.value("mean_current_a", 0.0),
                             r.value("max_current_a", 0.0));
    if (r["first_at_end"].is_object()) {
      std::cout << fmt::format(
          "  block {} reached {:.2f} V/cell first, after {}; predicted at half time {} "
          "({:+.1f} %), at the start {}\n",
          r["first_at_end"].value("block", 0), r.value("end_v_per_cell", 0.0),
          minutesText(rt["actual_s"]), minutesText(rt["predicted_at_half_s"]),
          rt["error_pct"].is_number() ? rt["error_pct"].get<double>() : 0.0,
          minutesText(rt["predicted_at_start_s"]));
    } else {
      std::cout << fmt::format("  no block reached the end voltage; runtime left at the end {}\n",
                               minutesText(rt["left_at_end_s"]));
    }
    std::string collapsed;
    for (const auto& b : r["end_of_discharge"]["early_collapse"]) {
      collapsed += (collapsed.empty() ? "" : ", ") + std::to_string(b.get<int>());
    }
    std::cout << "  early collapse: " << (collapsed.empty() ? "none" : collapsed) << "\n";
    std::cout << "  order in which the blocks reached each voltage (first five):\n";
    for (const auto& l : r["levels"]) {
      std::string first;
      int n = 0;
      for (const auto& c : l["reached"]) {
        if (n++ < 5) {
          first += fmt::format("{}{} ({})", first.empty() ? "" : ", ", c.value("block", 0),
                               minutesText(c["after_s"]));
        }
      }
      std::cout << fmt::format("    {:.2f} V/cell: {}{}\n", l.value("v_per_cell", 0.0),
                               first.empty() ? "none" : first,
                               n > 5 ? fmt::format(" … {} blocks", n) : "");
    }
    std::cout << fmt::format("  {:>4} {:>9} {:>9} {:>6} {:>8} {:>8} {:>14}\n", "No.", "Lowest V",
                             "End V", "Rank", "Max °C", "Charge", "Cap. vs mean");
    for (const auto& b : r["blocks"]) {
      const auto num = [&b](const char* k, int d) {
        return b[k].is_number() ? fmt::format("{:.{}f}", b[k].get<double>(), d) : "—";
      };
      std::cout << fmt::format(
          "  {:>4} {:>9} {:>9} {:>6} {:>8} {:>8} {:>14}{}\n", b.value("block", 0),
          num("min_voltage_v", 3), num("end_voltage_v", 3),
          b["end_rank"].is_number() ? std::to_string(b["end_rank"].get<int>()) : "—",
          num("max_temperature_c", 1), num("charge_end_pct", 1), num("capacity_relative_pct", 1),
          b.value("early_collapse", false) ? "  early collapse" : "");
    }
    return 0;
  }
  if (!output.empty()) {
    std::ofstream file(output, std::ios::binary | std::ios::trunc);
    file << f.body;
    if (!file) {
      std::fprintf(stderr, "equalisctl: cannot write %s\n", output.c_str());
      return 1;
    }
    std::fprintf(stderr, "equalisctl: wrote %s (%zu bytes)\n", output.c_str(), f.body.size());
    return 0;
  }
  std::cout << f.body;
  return 0;
}

int cmdEvents(const Options& o, const std::string& query) {
  int code = 0;
  auto j = getJson(o, "/api/v1/events" + query, code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::cout << j->dump(2) << "\n";
    return 0;
  }
  for (const auto& e : (*j)["events"]) {
    std::cout << fmt::format("{}  {:<8} {}\n", e.value("time", ""), e.value("kind", ""),
                             e.value("message", ""));
  }
  return 0;
}

int cmdAlarms(const Options& o) {
  int code = 0;
  auto j = getJson(o, "/api/v1/alarms", code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::cout << j->dump(2) << "\n";
    return 0;
  }
  const auto& list = (*j)["alarms"];
  if (list.empty()) {
    std::cout << "no active alarms\n";
    return 0;
  }
  std::cout << fmt::format("{:<8} {:<4} {:<24} {}\n", "Level", "Ack", "Raised", "Message");
  for (const auto& a : list) {
    // A shelved alarm (docs/alarms.md#shelving) is off the display: said so after its message.
    std::string shelf;
    if (a.value("shelved", false)) {
      shelf = fmt::format(" [shelved until {} by {}: {}]", a.value("shelved_until", ""),
                          a.value("shelved_by", ""), a.value("shelve_reason", ""));
    }
    std::cout << fmt::format("{:<8} {:<4} {:<24} {}{}\n", a.value("level", ""),
                             a.value("acknowledged", false) ? "yes" : "no", a.value("raised", ""),
                             a.value("message", ""), shelf);
  }
  return 0;
}

// Counts the rows of a CSV export as it streams past, and the times of its first and last row.
struct CsvTally {
  std::size_t lines = 0;  // header included
  std::string first_time;
  std::string last_time;
  std::string partial;  // the line being received

  void feed(std::string_view chunk) {
    std::size_t pos = 0;
    for (auto nl = chunk.find('\n'); nl != std::string_view::npos; nl = chunk.find('\n', pos)) {
      partial.append(chunk.substr(pos, nl - pos));
      if (lines++ > 0) {  // after the header: "time,string,block,…"
        last_time = partial.substr(0, partial.find(','));
        if (first_time.empty()) {
          first_time = last_time;
        }
      }
      partial.clear();
      pos = nl + 1;
    }
    partial.append(chunk.substr(pos));
  }
  std::size_t rows() const { return lines > 0 ? lines - 1 : 0; }
};

// The block history as CSV, streamed from equalisd to the file (or standard output) as it
// arrives: one request over the whole range, however long (the server reads it in chunks of
// snapshots). Without --from it starts at the oldest record: the API's own default range (the
// 24 h before `to`) would cut an export silently.
int cmdExport(const Options& o, std::string query, const std::string& output) {
  if (query.find("?from=") == std::string::npos && query.find("&from=") == std::string::npos) {
    query += std::string(query.empty() ? "?" : "&") + "from=0";
  }
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(300);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!output.empty()) {
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "equalisctl: cannot write %s\n", output.c_str());
      return 1;
    }
    out = &file;
  }
  int status = 0;
  std::string error_body;
  CsvTally tally;
  std::uint64_t bytes = 0;
  auto res = cli.Get(
      "/api/v1/history/export.csv" + query,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status >= 400) {
          error_body.append(data, n);
          return true;
        }
        out->write(data, static_cast<std::streamsize>(n));
        tally.feed(std::string_view(data, n));
        bytes += n;
        return static_cast<bool>(*out);  // a full disk stops the transfer
      });
  out->flush();
  if (!*out) {
    std::fprintf(stderr,
                 "equalisctl: writing %s failed after %llu bytes: the export is incomplete\n",
                 output.empty() ? "standard output" : output.c_str(),
                 static_cast<unsigned long long>(bytes));
    return 1;
  }
  if (!res) {
    if (bytes > 0) {
      std::fprintf(stderr,
                   "equalisctl: the export broke off after %zu rows (last %s): %s — the output is "
                   "incomplete\n",
                   tally.rows(), tally.last_time.c_str(), httplib::to_string(res.error()).c_str());
      return 1;
    }
    return connectError(o, httplib::to_string(res.error()));
  }
  if (status >= 400) {
    auto j = json::parse(error_body, nullptr, false);
    const std::string msg = (!j.is_discarded() && j.contains("error"))
                                ? j["error"].value("message", error_body)
                                : error_body;
    std::fprintf(stderr, "equalisctl: %s\n", msg.c_str());
    return 1;
  }
  if (!output.empty()) {
    if (tally.rows() == 0) {
      std::fprintf(stderr, "equalisctl: no history in the range; %s has the header only\n",
                   output.c_str());
    } else {
      std::fprintf(stderr, "equalisctl: %zu rows, %s … %s, written to %s\n", tally.rows(),
                   tally.first_time.c_str(), tally.last_time.c_str(), output.c_str());
    }
  }
  return 0;
}

int cmdBackup(const Options& o, bool with_history, const std::string& file) {
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(600);
  const std::string tmp = file + ".part";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "equalisctl: cannot write %s\n", tmp.c_str());
    return 1;
  }
  int status = 0;
  std::string error_body;
  auto res = cli.Get(
      std::string("/api/v1/system/backup") + (with_history ? "?history=1" : ""),
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status >= 400) {
          error_body.append(data, n);
        } else {
          out.write(data, static_cast<std::streamsize>(n));
        }
        return true;
      });
  out.close();
  if (!res || status >= 400 || !out) {
    std::remove(tmp.c_str());
    if (!res) {
      return connectError(o, httplib::to_string(res.error()));
    }
    auto j = json::parse(error_body, nullptr, false);
    const std::string msg = (!j.is_discarded() && j.contains("error"))
                                ? j["error"].value("message", error_body)
                                : (status >= 400 ? error_body : "cannot write " + tmp);
    std::fprintf(stderr, "equalisctl: %s\n", msg.c_str());
    return 1;
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::fprintf(stderr, "equalisctl: cannot write %s\n", file.c_str());
    return 1;
  }
  std::printf("%s: backup written%s\n", file.c_str(), with_history ? " (with history)" : "");
  return 0;
}

// Offline restore into a stopped equalisd's data directory.
int cmdRestoreOffline(const std::string& file, const std::string& data_dir,
                      const std::string& config_path) {
  using namespace equalis;
  auto lock = ops::DataDirLock::acquire(data_dir);
  if (!lock) {
    std::fprintf(stderr,
                 "equalisctl: %s\nStop equalisd first, or restore through it (equalisctl "
                 "restore FILE without --data-dir).\n",
                 lock.error().message.c_str());
    return 1;
  }
  const auto staging =
      (std::filesystem::path(data_dir) / fmt::format(".restore-staging-{}", wallNowMs())).string();
  auto staged = ops::stageBackup(file, staging);
  if (!staged) {
    std::fprintf(stderr, "equalisctl: %s\n", staged.error().message.c_str());
    return 1;
  }
  auto report = ops::applyRestore(*staged, {config_path, data_dir}, wallNowMs());
  if (!report) {
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    std::fprintf(stderr, "equalisctl: %s: not restored: %s\n", file.c_str(),
                 report.error().message.c_str());
    return 1;
  }
  const auto& m = staged->manifest;
  std::printf("restored the backup of '%s' created %s (equalis %s, format %d)\n", m.site.c_str(),
              m.created.c_str(), m.equalis_version.c_str(), staged->read_format_version);
  for (const auto& p : report->restored) {
    std::printf("  %s\n", p.c_str());
  }
  for (const auto& n : report->notes) {
    std::printf("note: %s\n", n.c_str());
  }
  if (staged->has_config && config_path.empty()) {
    std::printf("note: the backup's configuration file was not restored (give --config PATH)\n");
  }
  std::printf("replaced files kept in %s\nstart equalisd to use the restored state\n",
              report->replaced_dir.c_str());
  return 0;
}

int cmdRestoreOnline(const Options& o, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "equalisctl: cannot read %s\n", file.c_str());
    return 1;
  }
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(600);
  cli.set_write_timeout(600);
  auto res = cli.Post("/api/v1/system/restore", body, "application/gzip");
  const std::string path = "/api/v1/system/restore";
  int code = 0;
  const auto j = parseAnswer(
      o, path, res ? Fetched{res->status, res->body} : Fetched{0, httplib::to_string(res.error())},
      code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::printf("%s\n", j->dump(2).c_str());
  } else {
    std::printf("%s\n", j->value("message", std::string()).c_str());
  }
  return 0;
}

int cmdPoints(bool markdown, bool as_json) {
  if (markdown) {
    std::cout << equalis::model::catalogueMarkdown();
    return 0;
  }
  if (as_json) {
    json arr = json::array();
    for (const auto& p : equalis::model::catalogue()) {
      arr.push_back({{"name", std::string(p.name)},
                     {"unit", std::string(p.unit)},
                     {"type", std::string(equalis::model::pointTypeName(p.type))},
                     {"description", std::string(p.description)}});
    }
    std::cout << json{{"points", arr}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& p : equalis::model::catalogue()) {
    std::cout << fmt::format("{:<34} {:<6} {:<5} {}\n", p.name, p.unit,
                             equalis::model::pointTypeName(p.type), p.description);
  }
  return 0;
}

// A PEM file for certificate install; "" with a message printed when it cannot be read.
std::string readPem(const std::string& path, const char* what) {
  constexpr std::size_t kMaxBytes = std::size_t{60} * 1024;  // the request's limit is 64 KiB
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && !in) {
    text.clear();
  }
  if (text.empty()) {
    std::fprintf(stderr, "equalisctl: cannot read the %s file %s\n", what, path.c_str());
  } else if (text.size() > kMaxBytes) {
    std::fprintf(stderr, "equalisctl: %s is larger than 60 KiB: not a PEM %s\n", path.c_str(),
                 what);
    text.clear();
  }
  return text;
}

void printCertificate(const json& j) {
  for (const auto& w : j.value("warnings", json::array())) {
    std::printf("warning: %s\n", w.get<std::string>().c_str());
  }
  if (!j.contains("fingerprint_sha256") || j["fingerprint_sha256"].is_null()) {
    return;
  }
  if (j.contains("subject")) {
    std::string names;
    for (const auto& n : j.value("subject_alt_names", json::array())) {
      names += (names.empty() ? "" : ", ") + n.get<std::string>();
    }
    std::printf(
        "subject      %s\nissuer       %s\nnames        %s\nvalid        %s to %s\n"
        "key          %s\n",
        j.value("subject", "").c_str(), j.value("issuer", "").c_str(), names.c_str(),
        j.value("not_before", "").c_str(), j.value("not_after", "").c_str(),
        j.value("key_type", "").c_str());
  }
  std::printf("SHA-256      %s\n", j["fingerprint_sha256"].get<std::string>().c_str());
  if (j.contains("source") && j["source"].is_string()) {
    const std::string file = j.contains("file") ? " (" + j.value("file", "") + ")" : "";
    std::printf("source       %s%s\n", j["source"].get<std::string>().c_str(), file.c_str());
  }
}

// equalisctl certificate show | install --cert FILE --key FILE | remove (docs/security.md).
int cmdCertificate(const Options& o, const std::vector<std::string>& args) {
  const std::string path = "/api/v1/system/certificate";
  const std::string sub = args.empty() ? std::string() : args[0];
  std::string cert_file;
  std::string key_file;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (sub == "install" && args[i] == "--cert" && i + 1 < args.size()) {
      cert_file = args[++i];
    } else if (sub == "install" && args[i] == "--key" && i + 1 < args.size()) {
      key_file = args[++i];
    } else {
      std::fprintf(stderr, "equalisctl: certificate %s: unexpected argument '%s'\n", sub.c_str(),
                   args[i].c_str());
      return 2;
    }
  }
  auto cli = client(o);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  const auto fetched = [](const httplib::Result& r) {
    return r ? Fetched{r->status, r->body} : Fetched{0, httplib::to_string(r.error())};
  };
  Fetched answer;
  if (sub == "show") {
    answer = fetched(cli.Get(path));
  } else if (sub == "install") {
    if (cert_file.empty() || key_file.empty()) {
      std::fprintf(stderr, "equalisctl: certificate install needs --cert FILE and --key FILE\n");
      return 2;
    }
    const auto cert = readPem(cert_file, "certificate");
    const auto key = readPem(key_file, "key");
    if (cert.empty() || key.empty()) {
      return 1;
    }
    answer = fetched(
        cli.Put(path, json{{"certificate", cert}, {"key", key}}.dump(), "application/json"));
  } else if (sub == "remove") {
    answer = fetched(cli.Delete(path, "{}", "application/json"));
  } else {
    std::fprintf(stderr, "equalisctl: certificate needs show, install or remove\n");
    return 2;
  }
  int code = 0;
  const auto j = parseAnswer(o, path, answer, code);
  if (!j) {
    return code;
  }
  if (o.json) {
    std::printf("%s\n", j->dump(2).c_str());
    return 0;
  }
  if (j->contains("message")) {
    std::printf("%s\n", j->value("message", "").c_str());
  }
  printCertificate(*j);
  return 0;
}

std::string urlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

// Expected failures are exit codes; only std::bad_alloc and the like escape (and terminate).
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  Options o;
  const char* env_url = std::getenv("EQUALIS_URL");
  o.url = env_url != nullptr ? env_url : "http://127.0.0.1:8080";
  if (const char* t = std::getenv("EQUALIS_TOKEN"); t != nullptr) {
    o.token = t;
  } else if (const char* f = std::getenv("EQUALIS_TOKEN_FILE"); f != nullptr) {
    o.token = readTokenFile(f);
  }
  if (const char* ca = std::getenv("EQUALIS_CA_FILE"); ca != nullptr) {
    o.ca_file = ca;
  }
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--url" && i + 1 < argc) {
      o.url = argv[++i];
    } else if (a == "--token-file" && i + 1 < argc) {
      o.token = readTokenFile(argv[++i]);
      if (o.token.empty()) {
        std::fprintf(stderr, "equalisctl: no token in %s\n", argv[i]);
        return 2;
      }
    } else if (a == "--ca-file" && i + 1 < argc) {
      o.ca_file = argv[++i];
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("equalisctl %s\n", equalis::versionText().c_str());
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = args[0];
  if (cmd == "bus") {
    return equalisctl::cmdBus({args.begin() + 1, args.end()}, o.json);
  }
  if (cmd == "user") {
    return equalisctl::cmdUser({args.begin() + 1, args.end()}, o.json);
  }
  if (cmd == "token") {
    return equalisctl::cmdToken({args.begin() + 1, args.end()}, o.json);
  }
  if (cmd == "audit") {
    return equalisctl::cmdAudit({args.begin() + 1, args.end()}, o.json);
  }
  if (cmd == "certificate") {
    return cmdCertificate(o, {args.begin() + 1, args.end()});
  }
  // Collects --from/--to/--string/--output style options of a subcommand.
  std::string query;
  std::string output;
  std::string file;
  bool markdown = false;
  bool with_history = false;
  std::string report_form;
  std::string data_dir;
  std::string config_path;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    const bool event_filter =
        cmd == "events" && (a == "--kind" || a == "--level" || a == "--block");
    if ((a == "--from" || a == "--to" || a == "--string" || a == "--limit" || event_filter) &&
        i + 1 < args.size()) {
      query += (query.empty() ? "?" : "&") + a.substr(2) + "=" + urlEncode(args[++i]);
    } else if (a == "--output" && i + 1 < args.size()) {
      output = args[++i];
    } else if (a == "--markdown") {
      markdown = true;
    } else if (cmd == "backup" && a == "--with-history") {
      with_history = true;
    } else if (cmd == "restore" && a == "--data-dir" && i + 1 < args.size()) {
      data_dir = args[++i];
    } else if (cmd == "restore" && a == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if ((cmd == "backup" || cmd == "restore") && a.rfind("--", 0) != 0 && file.empty()) {
      file = a;
    } else if (((cmd == "blocks" || cmd == "capacity" || cmd == "check-config" ||
                 cmd == "protection-reset" || cmd == "discharges" || cmd == "report" ||
                 cmd == "health") &&
                i == 1) ||
               ((cmd == "report" || cmd == "health") && i == 2)) {
      continue;  // positional: STRING (and a report's ID)
    } else if (cmd == "report" && (a == "--csv" || a == "--html")) {
      report_form = a.substr(2);
    } else {
      std::fprintf(stderr, "equalisctl: unexpected argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }

  if (cmd == "status") {
    return cmdStatus(o);
  }
  if (cmd == "blocks") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: blocks needs a STRING number\n");
      return 2;
    }
    return cmdBlocks(o, urlEncode(args[1]));
  }
  if (cmd == "capacity") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: capacity needs a STRING number\n");
      return 2;
    }
    return cmdCapacity(o, urlEncode(args[1]));
  }
  if (cmd == "health") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: health needs a STRING number (and optionally a BLOCK)\n");
      return 2;
    }
    return cmdHealth(o, urlEncode(args[1]), args.size() > 2 ? urlEncode(args[2]) : "");
  }
  if (cmd == "discharges") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: discharges needs a STRING number\n");
      return 2;
    }
    return cmdDischarges(o, urlEncode(args[1]), query);
  }
  if (cmd == "report") {
    if (args.size() < 3 || args[2].rfind("--", 0) == 0) {
      std::fprintf(stderr,
                   "equalisctl: report needs a STRING number and a discharge ID (from "
                   "`equalisctl discharges STRING`)\n");
      return 2;
    }
    return cmdReport(o, urlEncode(args[1]), urlEncode(args[2]), report_form, output);
  }
  if (cmd == "events") {
    return cmdEvents(o, query);
  }
  if (cmd == "alarms") {
    return cmdAlarms(o);
  }
  if (cmd == "export") {
    return cmdExport(o, query, output);
  }
  if (cmd == "points") {
    return cmdPoints(markdown, o.json);
  }
  if (cmd == "protection-reset") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: protection-reset needs a STRING number\n");
      return 2;
    }
    const std::string path = "/api/v1/strings/" + urlEncode(args[1]) + "/protection/reset";
    int code = 0;
    const auto j = parseAnswer(o, path, post(o, path), code);
    if (!j) {
      return code;
    }
    if (o.json) {
      std::printf("%s\n", j->dump(2).c_str());
    } else {
      std::printf("string %s: protection %s\n", args[1].c_str(),
                  j->value("protection_state", std::string("?")).c_str());
    }
    return 0;
  }
  if (cmd == "backup" || cmd == "restore") {
    if (file.empty()) {
      std::fprintf(stderr, "equalisctl: %s needs a FILE\n", cmd.c_str());
      return 2;
    }
    if (cmd == "backup") {
      return cmdBackup(o, with_history, file);
    }
    if (!data_dir.empty()) {
      return cmdRestoreOffline(file, data_dir, config_path);
    }
    if (!config_path.empty()) {
      std::fprintf(stderr, "equalisctl: restore --config needs --data-dir (offline restore)\n");
      return 2;
    }
    return cmdRestoreOnline(o, file);
  }
  if (cmd == "reload") {
    const std::string path = "/api/v1/system/reload";
    int code = 0;
    const auto j = parseAnswer(o, path, post(o, path), code);
    if (!j) {
      return code;
    }
    if (o.json) {
      std::printf("%s\n", j->dump(2).c_str());
      return 0;
    }
    std::printf("%s\n", j->value("message", std::string()).c_str());
    for (const auto& c : (*j)["changes"]) {
      const auto value = [](const json& v) {
        return v.is_string() ? v.get<std::string>() : std::string("(none)");
      };
      if (c.value("applied", false)) {
        std::printf("  applied  %s: %s → %s\n", c.value("key", std::string()).c_str(),
                    value(c["from"]).c_str(), value(c["to"]).c_str());
      } else {
        std::printf("  restart needed for %s\n", c.value("key", std::string()).c_str());
      }
    }
    return 0;
  }
  if (cmd == "check-config") {
    if (args.size() < 2) {
      std::fprintf(stderr, "equalisctl: check-config needs a FILE\n");
      return 2;
    }
    const auto loaded = equalis::config::loadConfigFile(args[1]);
    if (!loaded.ok()) {
      std::fputs(loaded.describe(args[1]).c_str(), stderr);
      return 1;
    }
    std::printf("%s: configuration is valid\n", args[1].c_str());
    return 0;
  }
  std::fprintf(stderr, "equalisctl: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}
