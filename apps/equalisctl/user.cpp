#include "equalisctl/user.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/audit.hpp"
#include "auth/accounts.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "model/plant.hpp"

namespace equalisctl {

namespace {

using nlohmann::json;
namespace auth = equalis::auth;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string command;  // "user" or "token"
  std::string sub;
  std::vector<std::string> positional;
  std::string data_dir;
  std::string config;
  std::optional<std::string> role;
  std::optional<std::string> password_file;
};

int usage(const Options& o, const std::string& message) {
  std::fprintf(stderr, "equalisctl %s: %s (see equalisctl --help)\n", o.command.c_str(),
               message.c_str());
  return kExitUsage;
}

int failed(const std::string& message) {
  std::fprintf(stderr, "equalisctl: %s\n", message.c_str());
  return kExitFailed;
}

// Splits the arguments; nullopt (with `code`) on a usage error.
std::optional<Options> parseArgs(const std::string& command, const std::vector<std::string>& args,
                                 int& code) {
  Options o;
  o.command = command;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool takes_value =
        a == "--data-dir" || a == "--config" || a == "--role" || a == "--password-file";
    if (takes_value) {
      if (i + 1 >= args.size()) {
        code = usage(o, a + " needs a value");
        return std::nullopt;
      }
      const std::string& v = args[++i];
      if (a == "--data-dir") {
        o.data_dir = v;
      } else if (a == "--config") {
        o.config = v;
      } else if (a == "--role") {
        o.role = v;
      } else {
        o.password_file = v;
      }
    } else if (a.rfind("--", 0) == 0) {
      code = usage(o, "unknown option '" + a + "'");
      return std::nullopt;
    } else if (o.sub.empty()) {
      o.sub = a;
    } else {
      o.positional.push_back(a);
    }
  }
  if (o.sub.empty()) {
    code = usage(o, "needs a subcommand");
    return std::nullopt;
  }
  return o;
}

// The data directory: --data-dir, else the configuration file's data_dir, else the daemon's
// default. nullopt (with `code`) when the configuration does not load or the directory is missing.
std::optional<std::string> dataDir(const Options& o, int& code) {
  std::string dir = o.data_dir;
  if (dir.empty() && !o.config.empty()) {
    const auto loaded = equalis::config::loadConfigFile(o.config);
    if (!loaded.ok()) {
      std::fputs(loaded.describe(o.config).c_str(), stderr);
      code = failed(o.config + ": configuration rejected");
      return std::nullopt;
    }
    dir = loaded.config->data_dir;
  }
  if (dir.empty()) {
    dir = equalis::model::demoPlant().data_dir;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    code = failed(fmt::format(
        "data directory '{}' does not exist (give --data-dir DIR or --config FILE)", dir));
    return std::nullopt;
  }
  return dir;
}

// Run as root on a data directory that belongs to another user (the service's), act as that
// user, so the files equalisd reads stay its own.
bool becomeOwnerOf(const std::string& dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) {
    return true;
  }
  gid_t gid = st.st_gid;
  if (const passwd* pw = ::getpwuid(st.st_uid)) {  // NOLINT(concurrency-mt-unsafe): one thread
    gid = pw->pw_gid;
  }
  if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(st.st_uid) != 0) {
    std::fprintf(stderr, "equalisctl: cannot act as the owner (uid %u) of %s\n",
                 static_cast<unsigned>(st.st_uid), dir.c_str());
    return false;
  }
  return true;
}

// Who creates a token: "cli:<login name>".
std::string creator() {
  const passwd* pw = ::getpwuid(::getuid());  // NOLINT(concurrency-mt-unsafe): one thread
  return std::string("cli:") +
         (pw != nullptr ? pw->pw_name : std::to_string(static_cast<unsigned>(::getuid())));
}

// Records a change in the audit trail of the data directory. While equalisd runs it holds the
// trail: then equalisd records the change itself when it reads users.json again.
void auditChange(const std::string& dir, const char* action, const std::string& target,
                 const std::string& old_value, const std::string& new_value,
                 const equalis::Status& st, const std::string& detail = {}) {
  equalis::RealClock clock;
  auto log = equalis::audit::Log::open(equalis::audit::auditPath(dir), clock);
  if (!log) {
    if (log.error().code != equalis::ErrorCode::kUnavailable) {
      std::fprintf(stderr, "equalisctl: audit trail: %s\n", log.error().message.c_str());
    }
    return;
  }
  equalis::audit::Entry e;
  e.user = creator();
  e.via = "cli";
  e.action = action;
  e.target = target;
  e.old_value = old_value;
  e.new_value = new_value;
  e.outcome = st ? equalis::audit::outcome::kOk : equalis::audit::outcome::kRefused;
  e.detail = st ? detail : st.error().message;
  if (auto appended = (*log)->append(std::move(e)); !appended) {
    std::fprintf(stderr, "equalisctl: audit trail: %s\n", appended.error().message.c_str());
  }
}

termios saved_termios{};

// Restores echo when interrupted at the password prompt, then dies of the signal as usual.
extern "C" void restoreEchoAndDie(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
  std::signal(sig, SIG_DFL);  // NOLINT(cert-msc54-cpp): async-signal-safe calls only
  std::raise(sig);
}

// One line typed at the terminal without echo.
std::optional<std::string> promptHidden(const std::string& prompt) {
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  if (::tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
    return std::nullopt;
  }
  termios quiet = saved_termios;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  auto old_int = std::signal(SIGINT, restoreEchoAndDie);
  auto old_term = std::signal(SIGTERM, restoreEchoAndDie);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  if (!got) {
    return std::nullopt;
  }
  return line;
}

std::string firstLine(std::string text) {
  if (const auto nl = text.find('\n'); nl != std::string::npos) {
    text.resize(nl);
  }
  if (!text.empty() && text.back() == '\r') {
    text.pop_back();
  }
  return text;
}

// The new password: from --password-file, else one line on standard input (asked twice, without
// echo, at a terminal). nullopt after printing why.
std::optional<std::string> readPassword(const Options& o, const std::string& user) {
  std::string password;
  if (o.password_file) {
    std::ifstream in(*o.password_file, std::ios::binary);
    if (!in) {
      failed("cannot read the password file " + *o.password_file);
      return std::nullopt;
    }
    password = firstLine({std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
  } else if (::isatty(STDIN_FILENO) != 0) {
    const auto first = promptHidden(fmt::format("New password for '{}': ", user));
    if (!first) {
      failed("no password given");
      return std::nullopt;
    }
    if (auto st = auth::validatePassword(*first); !st) {
      failed(st.error().message);
      return std::nullopt;
    }
    const auto again = promptHidden("Repeat the password: ");
    if (!again || *again != *first) {
      failed("the two passwords differ; nothing changed");
      return std::nullopt;
    }
    password = *first;
  } else {
    std::string line;
    if (!std::getline(std::cin, line)) {
      failed("no password on standard input (one line), nor --password-file FILE");
      return std::nullopt;
    }
    password = firstLine(line);
  }
  if (auto st = auth::validatePassword(password); !st) {
    failed(st.error().message);
    return std::nullopt;
  }
  return password;
}

std::optional<auth::Role> roleArg(const Options& o, const std::string& text, int& code) {
  const auto role = auth::parseRole(text);
  if (!role) {
    code = usage(o, "unknown role '" + text + "' (viewer, operator, admin)");
  }
  return role;
}

bool expect(const Options& o, std::size_t count, const char* what, int& code) {
  if (o.positional.size() != count) {
    code = usage(o, fmt::format("{} {} needs {}", o.command, o.sub, what));
    return false;
  }
  return true;
}

bool refuseOption(const Options& o, bool given, const char* option, int& code) {
  if (given) {
    code = usage(o, fmt::format("{} {} takes no {}", o.command, o.sub, option));
  }
  return given;
}

struct Opened {
  equalis::RealClock clock;
  std::unique_ptr<auth::Accounts> accounts;
};

// Opens the accounts file of the data directory; nullptr (with `code`) on failure.
std::unique_ptr<Opened> openAccounts(const std::string& dir, int& code) {
  auto opened = std::make_unique<Opened>();
  auto accounts = auth::Accounts::open(auth::usersPath(dir), opened->clock);
  if (!accounts) {
    code = failed(accounts.error().message);
    return nullptr;
  }
  opened->accounts = std::move(*accounts);
  return opened;
}

std::string timeText(equalis::TimeMs t_ms) {
  return equalis::formatIso8601(t_ms).substr(0, 19) + "Z";
}

bool hasUser(const auth::Accounts& a, const std::string& name) {
  const auto users = a.users();
  return std::any_of(users.begin(), users.end(),
                     [&](const auth::UserInfo& u) { return u.name == name; });
}

int listUsers(const auth::Accounts& a, bool as_json) {
  const auto users = a.users();
  if (as_json) {
    json list = json::array();
    for (const auto& u : users) {
      list.push_back({{"name", u.name},
                      {"role", std::string(auth::roleName(u.role))},
                      {"created", equalis::formatIso8601(u.created_ms)}});
    }
    std::cout << json{{"file", a.path()}, {"users", std::move(list)}}.dump(2) << "\n";
    return 0;
  }
  if (users.empty()) {
    std::printf("no users in %s\n", a.path().c_str());
    return 0;
  }
  std::printf("%-24s %-9s %s\n", "Name", "Role", "Created");
  for (const auto& u : users) {
    std::printf("%-24s %-9s %s\n", u.name.c_str(), std::string(auth::roleName(u.role)).c_str(),
                timeText(u.created_ms).c_str());
  }
  return 0;
}

int listTokens(const auth::Accounts& a, bool as_json) {
  const auto tokens = a.tokens();
  if (as_json) {
    json list = json::array();
    for (const auto& t : tokens) {
      list.push_back({{"id", t.id},
                      {"label", t.label},
                      {"role", std::string(auth::roleName(t.role))},
                      {"created", equalis::formatIso8601(t.created_ms)},
                      {"created_by", t.created_by}});
    }
    std::cout << json{{"file", a.path()}, {"tokens", std::move(list)}}.dump(2) << "\n";
    return 0;
  }
  if (tokens.empty()) {
    std::printf("no API tokens in %s\n", a.path().c_str());
    return 0;
  }
  std::printf("%-16s  %-24s %-9s %-20s %s\n", "ID", "Label", "Role", "Created", "Created by");
  for (const auto& t : tokens) {
    std::printf("%-16s  %-24s %-9s %-20s %s\n", t.id.c_str(), t.label.c_str(),
                std::string(auth::roleName(t.role)).c_str(), timeText(t.created_ms).c_str(),
                t.created_by.c_str());
  }
  return 0;
}

void noteWithoutAdmin(const auth::Accounts& a) {
  const auto users = a.users();
  if (std::none_of(users.begin(), users.end(),
                   [](const auth::UserInfo& u) { return u.role == auth::Role::kAdmin; })) {
    std::printf("note: there is no admin yet (equalisctl user add NAME --role admin)\n");
  }
}

int user(const Options& o, const std::string& dir, bool as_json) {
  int code = 0;
  const std::string& sub = o.sub;
  const bool wants_password = sub == "add" || sub == "passwd";
  if (refuseOption(o, o.password_file && !wants_password, "--password-file", code) ||
      refuseOption(o, o.role && sub != "add", "--role", code)) {
    return code;
  }
  std::optional<std::string> name;
  std::optional<auth::Role> role;
  if (sub == "list") {
    if (!expect(o, 0, "no arguments", code)) {
      return code;
    }
  } else if (sub == "add") {
    if (!expect(o, 1, "a NAME and --role ROLE", code)) {
      return code;
    }
    if (!o.role) {
      return usage(o, "user add needs --role viewer|operator|admin");
    }
    if (role = roleArg(o, *o.role, code); !role) {
      return code;
    }
  } else if (sub == "remove" || sub == "passwd") {
    if (!expect(o, 1, "a NAME", code)) {
      return code;
    }
  } else if (sub == "role") {
    if (!expect(o, 2, "a NAME and a ROLE", code)) {
      return code;
    }
    if (role = roleArg(o, o.positional[1], code); !role) {
      return code;
    }
  } else {
    return usage(o, "unknown subcommand '" + sub + "' (add, list, remove, passwd, role)");
  }
  if (!o.positional.empty()) {
    name = o.positional[0];
  }

  auto opened = openAccounts(dir, code);
  if (!opened) {
    return code;
  }
  auth::Accounts& a = *opened->accounts;
  if (sub == "list") {
    return listUsers(a, as_json);
  }
  // Problems that need no password are reported before asking for one.
  if (sub == "add") {
    if (auto st = auth::validateUserName(*name); !st) {
      return failed(st.error().message);
    }
    if (hasUser(a, *name)) {
      return failed(fmt::format("user '{}' already exists", *name));
    }
  } else if (!hasUser(a, *name)) {
    return failed(fmt::format("no user '{}' in {}", *name, a.path()));
  }

  // The password (and --password-file) is read with the caller's rights; only then act as the
  // data directory's owner.
  std::optional<std::string> password;
  if (sub == "add" || sub == "passwd") {
    password = readPassword(o, *name);
    if (!password) {
      return kExitFailed;
    }
  }
  if (!becomeOwnerOf(dir)) {
    return kExitFailed;
  }
  equalis::Status st;
  std::string done;
  const auto existing = a.user(*name);
  const std::string old_role = existing ? std::string(auth::roleName(existing->role)) : "";
  const std::string new_role = role ? std::string(auth::roleName(*role)) : std::string();
  if (password) {
    if (sub == "add") {
      st = a.addUser(*name, *password, *role);
      done = fmt::format("user '{}' added as {}", *name, auth::roleName(*role));
      auditChange(dir, equalis::audit::action::kUserAdd, *name, "", new_role, st);
    } else {
      st = a.setPassword(*name, *password);
      done = fmt::format("password of '{}' changed; their sessions end", *name);
      auditChange(dir, equalis::audit::action::kUserPassword, *name, "", "", st);
    }
  } else if (sub == "remove") {
    st = a.removeUser(*name);
    done = fmt::format("user '{}' removed; their sessions end", *name);
    auditChange(dir, equalis::audit::action::kUserRemove, *name, old_role, "", st);
  } else {
    st = a.setRole(*name, *role);
    done = fmt::format("'{}' is now {}; their sessions end", *name, auth::roleName(*role));
    auditChange(dir, equalis::audit::action::kUserRole, *name, old_role, new_role, st);
  }
  if (!st) {
    return failed(st.error().message);
  }
  std::printf("%s (%s)\n", done.c_str(), a.path().c_str());
  if (sub == "add") {
    noteWithoutAdmin(a);
  }
  return 0;
}

int token(const Options& o, const std::string& dir, bool as_json) {
  int code = 0;
  const std::string& sub = o.sub;
  if (refuseOption(o, o.password_file.has_value(), "--password-file", code) ||
      refuseOption(o, o.role && sub != "create", "--role", code)) {
    return code;
  }
  std::optional<auth::Role> role;
  if (sub == "list") {
    if (!expect(o, 0, "no arguments", code)) {
      return code;
    }
  } else if (sub == "create") {
    if (!expect(o, 1, "a LABEL and --role ROLE", code)) {
      return code;
    }
    if (!o.role) {
      return usage(o, "token create needs --role viewer|operator|admin");
    }
    if (role = roleArg(o, *o.role, code); !role) {
      return code;
    }
  } else if (sub == "revoke") {
    if (!expect(o, 1, "a token ID (equalisctl token list)", code)) {
      return code;
    }
  } else {
    return usage(o, "unknown subcommand '" + sub + "' (create, list, revoke)");
  }
  const std::string by = creator();
  if (!becomeOwnerOf(dir)) {
    return kExitFailed;
  }
  auto opened = openAccounts(dir, code);
  if (!opened) {
    return code;
  }
  auth::Accounts& a = *opened->accounts;
  if (sub == "list") {
    return listTokens(a, as_json);
  }
  if (sub == "revoke") {
    const auto existing = a.token(o.positional[0]);
    const std::string old_role = existing ? std::string(auth::roleName(existing->role)) : "";
    const auto st = a.revokeToken(o.positional[0]);
    auditChange(dir, equalis::audit::action::kTokenRevoke, "token:" + o.positional[0], old_role, "",
                st);
    if (!st) {
      return failed(st.error().message);
    }
    std::printf("token %s revoked (%s)\n", o.positional[0].c_str(), a.path().c_str());
    return 0;
  }
  auto created = a.createToken(o.positional[0], *role, by);
  if (!created) {
    auditChange(dir, equalis::audit::action::kTokenCreate, o.positional[0], "",
                std::string(auth::roleName(*role)), created.error());
    return failed(created.error().message);
  }
  const auto& [secret, info] = *created;
  auditChange(dir, equalis::audit::action::kTokenCreate, "token:" + info.id, "",
              std::string(auth::roleName(info.role)), {}, fmt::format("label '{}'", info.label));
  if (as_json) {
    std::cout << json{{"id", info.id},
                      {"label", info.label},
                      {"role", std::string(auth::roleName(info.role))},
                      {"created", equalis::formatIso8601(info.created_ms)},
                      {"created_by", info.created_by},
                      {"secret", secret}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("token %s '%s' (%s) created (%s)\n%s\n", info.id.c_str(), info.label.c_str(),
                std::string(auth::roleName(info.role)).c_str(), a.path().c_str(), secret.c_str());
  }
  std::fprintf(stderr, "This secret is not stored and is not shown again: keep it now.\n");
  return 0;
}

}  // namespace

int cmdUser(const std::vector<std::string>& args, bool json) {
  int code = 0;
  const auto o = parseArgs("user", args, code);
  if (!o) {
    return code;
  }
  const auto dir = dataDir(*o, code);
  if (!dir) {
    return code;
  }
  return user(*o, *dir, json);
}

int cmdToken(const std::vector<std::string>& args, bool json) {
  int code = 0;
  const auto o = parseArgs("token", args, code);
  if (!o) {
    return code;
  }
  const auto dir = dataDir(*o, code);
  if (!dir) {
    return code;
  }
  return token(*o, *dir, json);
}

}  // namespace equalisctl
