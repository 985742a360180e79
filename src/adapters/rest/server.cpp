#include "adapters/rest/server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/common/alarm_text.hpp"
#include "adapters/http/checks.hpp"
#include "adapters/http/server.hpp"
#include "adapters/rest/history_view.hpp"
#include "adapters/rest/io_view.hpp"
#include "adapters/rest/json_view.hpp"
#include "adapters/rest/metrics.hpp"
#include "adapters/rest/reply.hpp"
#include "adapters/rest/request.hpp"
#include "adapters/web/assets.hpp"
#include "alarms/rules_json.hpp"
#include "bus/commissioning.hpp"
#include "command/published.hpp"
#include "core/log.hpp"
#include "history/downsample.hpp"
#include "history/store.hpp"
#include "ops/backup.hpp"

namespace equalis::rest {

namespace {

using json = nlohmann::ordered_json;

constexpr auto kSseMinInterval = std::chrono::milliseconds(1000);
constexpr auto kSseKeepAlive = std::chrono::milliseconds(1000);
constexpr auto kSsePing = std::chrono::seconds(15);
constexpr auto kTrimAfterQuiet = std::chrono::seconds(2);
constexpr auto kAccountsCheck = std::chrono::seconds(2);

// What each route needs (src/adapters/http/router.hpp).
constexpr http::RouteOptions kPublicFast{.access = http::Access::kPublic};
constexpr http::RouteOptions kReadFast{.access = http::Access::kRead};
constexpr http::RouteOptions kReadSlow{.access = http::Access::kRead, .slow = true};
constexpr http::RouteOptions kAdminSlow{.access = http::Access::kAdmin, .slow = true};
constexpr http::RouteOptions kOperateWrite{.access = http::Access::kOperate, .slow = true};
constexpr http::RouteOptions kAdminWrite{.access = http::Access::kAdmin, .slow = true};
// A login checks a password hash (tens of milliseconds): on the worker pool.
constexpr http::RouteOptions kLogin{.access = http::Access::kPublic, .slow = true};
constexpr http::RouteOptions kLogout{.access = http::Access::kPublic};
// Any logged-in user, for their own account (the handler refuses anonymous callers).
constexpr http::RouteOptions kOwnAccountWrite{.access = http::Access::kRead, .slow = true};
constexpr std::string_view kSessionCookie = "equalis_session";
// A backup archive, held in memory while it is checked: only admins get this far, and the
// limit is checked against Content-Length before a byte of the body is read.
constexpr http::RouteOptions restoreOptions() {
  return http::RouteOptions{.access = http::Access::kAdmin,
                            .slow = true,
                            .body_limit_bytes = std::size_t{256} << 20,
                            .content_type = "application/gzip"};
}

// The event log's "total" counts at most this many matches (a bounded scan).
constexpr std::size_t kEventTotalCap = 100000;

// The HTTP status of a refused command.
int commandStatus(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return 400;
    default:
      return 500;
  }
}

command::Origin originOf(const http::Request& req) {
  return command::Origin{req.user, req.remote_addr, "rest"};
}

std::shared_ptr<const command::Published> publishedNow(const Sources& src) {
  const state::StateStore::Reader r(src.state, src.clock.nowMs());
  return command::published(r);
}

// The channel `id` as the state now has it, as {"<key>": CHANNEL}; 404 when there is none.
void sendChannel(const Sources& src, http::Response& res, const std::string& id, const char* key) {
  const TimeMs now = src.clock.nowMs();
  const auto view = publishedNow(src);
  for (const auto& ch : view->io_channels) {
    if (ch.id == id) {
      sendJson(res, json{{key, ioChannelJson(ch, now)}});
      return;
    }
  }
  sendError(res, 404, "id", "no such channel: " + id);
}

// RFC 4180 field: quoted when it holds a comma, quote or line break.
std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    return text;
  }
  std::string out = "\"";
  for (char c : text) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  return out + "\"";
}

json alarmJson(const alarms::ActiveAlarm& a) {
  json j{{"id", adapters::protocolAlarmId(a)},
         {"key", a.key},
         {"rule", a.rule_id},
         {"level", std::string(alarms::levelName(a.level))},
         {"string", a.string_number == 0 ? json(nullptr) : json(a.string_number)},
         {"block", a.block_number == 0 ? json(nullptr) : json(a.block_number)},
         {"value", a.value},
         {"threshold", a.threshold},
         {"raised", formatIso8601(a.raised_ms)},
         {"changed", formatIso8601(a.changed_ms)},
         {"acknowledged", a.acknowledged},
         {"message", a.message},
         {"shelved", a.shelved},
         {"shelved_at", a.shelved ? json(formatIso8601(a.shelved_ms)) : json(nullptr)},
         {"shelved_until", a.shelved ? json(formatIso8601(a.shelved_until_ms)) : json(nullptr)},
         {"shelve_reason", a.shelved ? json(a.shelve_reason) : json(nullptr)},
         {"shelved_by", a.shelved ? json(a.shelved_by) : json(nullptr)}};
  return j;
}

// The body of POST /api/v1/alarms/shelve: {"minutes": N, "reason": "…"}. A problem is a 400
// naming the member (or "body").
struct ShelfRequest {
  DurationMs duration_ms = 0;
  std::string reason;
};

Parsed<ShelfRequest> parseShelfRequest(const std::string& text) {
  constexpr const char* kShape = R"({"minutes": 1…10080, "reason": "…"})";
  const json body = json::parse(text, nullptr, false);
  if (!body.is_object()) {
    return ParamError{400, "body", fmt::format("the body must be a JSON object: {}", kShape)};
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "minutes" && name != "reason") {
      return ParamError{
          400, name,
          fmt::format("unknown member '{}' (minutes, reason)", http::escapeForLog(name, 40))};
    }
  }
  ShelfRequest out;
  const auto minutes = body.find("minutes");
  if (minutes == body.end() || !minutes->is_number()) {
    return ParamError{
        400, "minutes",
        fmt::format("minutes is required: the shelf time in minutes, {}…{} ({})",
                    alarms::kShelveMinMs / kMinuteMs, alarms::kShelveMaxMs / kMinuteMs,
                    alarms::shelveDurationText(alarms::kShelveMaxMs))};
  }
  const double m = minutes->get<double>();
  if (!std::isfinite(m) || m != std::floor(m)) {
    return ParamError{400, "minutes", "minutes must be a whole number"};
  }
  constexpr DurationMs kMinMinutes = alarms::kShelveMinMs / kMinuteMs;
  constexpr DurationMs kMaxMinutes = alarms::kShelveMaxMs / kMinuteMs;
  if (m < static_cast<double>(kMinMinutes) || m > static_cast<double>(kMaxMinutes)) {
    return ParamError{
        400, "minutes",
        fmt::format("minutes {:g} is out of range: at least {} (1 min), at most {} "
                    "({})",
                    m, kMinMinutes, kMaxMinutes, alarms::shelveDurationText(alarms::kShelveMaxMs))};
  }
  out.duration_ms = static_cast<DurationMs>(m) * kMinuteMs;
  const auto reason = body.find("reason");
  if (reason == body.end() || !reason->is_string()) {
    return ParamError{400, "reason",
                      fmt::format("reason is required: why the alarm is shelved (1–{} characters)",
                                  alarms::kShelveReasonMaxChars)};
  }
  out.reason = reason->get<std::string>();
  if (auto st = alarms::checkShelveReason(out.reason); !st) {
    return ParamError{400, "reason", st.error().message};
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, int>> parseListenAddress(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("listen address '{}' must be HOST:PORT", text));
  }
  const std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  int port = -1;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("port '{}' in '{}' must be 0…65535", port_text, text));
  }
  return std::make_pair(host, port);
}

QuerySlots::Slot QuerySlots::acquire(std::chrono::milliseconds wait_ms) {
  if (!free_.try_acquire_for(wait_ms)) {
    return nullptr;
  }
  // A token whose deleter gives the slot back (no object behind it).
  return Slot(static_cast<void*>(this),
              [](void* self) { static_cast<QuerySlots*>(self)->free_.release(); });
}

void ViewCache::put(const std::string& key, std::uint64_t version,
                    std::shared_ptr<const std::string> bytes) {
  const std::lock_guard lock(mutex_);
  auto& e = entries_[key];
  if (version >= e.version) {
    e = Entry{version, std::move(bytes)};
  }
}

std::shared_ptr<const std::string> ViewCache::get(const std::string& key, state::StateStore& state,
                                                  TimeMs now_ms, const Render& render) {
  const auto current = state.version();
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.version == current) {
      return it->second.bytes;
    }
  }
  std::uint64_t version = 0;
  std::shared_ptr<const std::string> bytes;
  {
    const state::StateStore::Reader r(state, now_ms);
    version = r.version();
    bytes = std::make_shared<const std::string>(render(r));
  }
  const std::lock_guard lock(mutex_);
  auto& e = entries_[key];
  if (version >= e.version) {
    e = Entry{version, bytes};
  }
  return bytes;
}

namespace {

const char* externalChangeAction(auth::AccountChange::Kind kind) {
  using Kind = auth::AccountChange::Kind;
  switch (kind) {
    case Kind::kUserAdded:
      return audit::action::kUserAdd;
    case Kind::kUserRemoved:
      return audit::action::kUserRemove;
    case Kind::kRoleChanged:
      return audit::action::kUserRole;
    case Kind::kPasswordChanged:
      return audit::action::kUserPassword;
    case Kind::kTokenCreated:
      return audit::action::kTokenCreate;
    case Kind::kTokenRevoked:
      return audit::action::kTokenRevoke;
  }
  return audit::action::kUserAdd;
}

}  // namespace

Server::Server(Sources sources, std::string version, http::Limits limits)
    : src_(std::move(sources)),
      version_(std::move(version)),
      host_names_(src_.plant.http.server_names),
      wall_clock_(1.0),
      sessions_(wall_clock_, auth::SessionPolicy{src_.plant.http.session_idle_ms,
                                                 src_.plant.http.session_absolute_ms}) {
  if (src_.accounts != nullptr) {
    src_.accounts->setUserChangedCallback(
        [this](const std::string& user) { sessions_.removeUser(user); });
    // `equalisctl user|token` edits users.json while the daemon holds the audit trail: the
    // daemon records those changes when it reads the file again (within seconds, feed()).
    src_.accounts->setExternalChangeCallback(
        [audit = src_.audit](const std::vector<auth::AccountChange>& changes) {
          if (audit == nullptr) {
            return;
          }
          for (const auto& c : changes) {
            audit::Entry e;
            e.via = "file";
            e.action = externalChangeAction(c.kind);
            e.target = c.target;
            e.old_value = c.old_value;
            e.new_value = c.new_value;
            e.outcome = audit::outcome::kOk;
            e.detail = c.detail.empty() ? "users.json changed by another process (equalisctl)"
                                        : c.detail + "; users.json changed by another process";
            if (auto st = audit->append(std::move(e)); !st) {
              log::get("rest")->error("audit trail: {}", st.error().message);
            }
          }
        });
  }
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0') {
    host_names_.emplace_back(name.data());
    host_names_.push_back(std::string(name.data()) + ".local");
  }
  routes();
  limits.hsts = src_.plant.http.hsts;
  http_ =
      std::make_unique<http::Server>(router_, limits,
                                     [this](http::Request& req, const http::RouteOptions& route,
                                            http::Response& res) { return gate(req, route, res); });
}

Server::~Server() {
  stop();
}

Result<int> Server::bind(const std::string& host, int port,
                         const std::optional<http::TlsFiles>& tls) {
  auto bound = http_->listen(host, port, tls);
  if (bound) {
    servingCertificate(tls, *bound);
  }
  return bound;
}

void Server::serve() {
  feed_ = std::thread([this] { feed(); });
  http_->run();
}

void Server::stop() {
  stopping_ = true;
  src_.state.notifyAll();
  if (http_) {
    http_->stop();
  }
  if (feed_.joinable() && feed_.get_id() != std::this_thread::get_id()) {
    feed_.join();
  }
}

http::ServerStats Server::stats() const {
  return http_->stats();
}

// Every request passes here after its header is read: the Host check (DNS rebinding), the
// cross-site checks of writes (CSRF), and who may call the route.
bool Server::gate(http::Request& req, const http::RouteOptions& route, http::Response& res) {
  if (!http::hostAllowed(req.header("Host"), host_names_)) {
    sendError(res, 403, "Host",
              fmt::format("Host '{}' is not a name of this controller; add it to [http] "
                          "server_names",
                          http::escapeForLog(req.header("Host"), 100)));
    return false;
  }
  const bool write = req.method != "GET" && req.method != "HEAD";
  if (write) {
    if (const auto why = http::crossSiteWriteRefusal(req, route.content_type); !why.empty()) {
      sendError(res, 403, "", why);
      return false;
    }
  }
  if (src_.accounts == nullptr) {
    if (route.access >= http::Access::kOperate && !http::isLoopback(req.remote_addr)) {
      sendError(res, 403, "", "writes are accepted from the local machine only");
      return false;
    }
    return true;
  }
  // Who is asking: an API token, a login session's cookie, or nobody.
  std::optional<auth::Principal> who;
  std::optional<auth::Session> session;
  if (const auto authorization = req.header("Authorization"); !authorization.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    auto checked = authorization.substr(0, kBearer.size()) == kBearer
                       ? src_.accounts->checkToken(authorization.substr(kBearer.size()))
                       : Result<auth::Principal>(
                             makeError(ErrorCode::kInvalidArgument,
                                       "the Authorization header must be 'Bearer <API token>'"));
    if (!checked) {
      sendError(res, 401, "Authorization", checked.error().message);
      res.setHeader("WWW-Authenticate", "Bearer realm=\"equalis\"");
      return false;
    }
    who = *checked;
  } else if (const auto id = http::cookieValue(req.header("Cookie"), kSessionCookie); !id.empty()) {
    session = sessions_.touch(id);  // an ended session reads as nobody
    if (session) {
      who = auth::Principal{session->user, session->role, session->method};
    }
  }
  if (who) {
    req.user = who->user;
    req.role = std::string(auth::roleName(who->role));
  }
  if (write && session && !auth::Sessions::checkCsrf(*session, req.header("X-CSRF-Token"))) {
    sendError(res, 403, "X-CSRF-Token",
              "a write in a login session must carry the session's X-CSRF-Token header");
    return false;
  }
  if (route.access == http::Access::kPublic) {
    return true;
  }
  if (route.access == http::Access::kRead) {
    if (who || src_.anonymous_read) {
      return true;
    }
    sendError(res, 401, "", "log in to read: anonymous reading is off ([http] anonymous_read)");
    return false;
  }
  const auto need =
      route.access == http::Access::kAdmin ? auth::Role::kAdmin : auth::Role::kOperator;
  if (!who) {
    sendError(res, 401, "",
              fmt::format("log in first: this needs the {} role", auth::roleName(need)));
    return false;
  }
  if (!auth::allows(who->role, need)) {
    const auto why = fmt::format("'{}' is {} {}; this needs the {} role", who->user,
                                 who->role == auth::Role::kViewer ? "a" : "an",
                                 auth::roleName(who->role), auth::roleName(need));
    record(req, audit::action::kAccessDenied, fmt::format("{} {}", req.method, req.path),
           audit::outcome::kRefused, why);
    sendError(res, 403, "", why);
    return false;
  }
  return true;
}

void Server::record(const http::Request& req, const char* action, const std::string& target,
                    const char* outcome, const std::string& detail, const std::string& old_value,
                    const std::string& new_value) const {
  if (src_.audit == nullptr) {
    return;
  }
  audit::Entry e;
  e.user = req.user;
  e.address = req.remote_addr;
  e.via = "rest";
  e.action = action;
  e.target = target;
  e.outcome = outcome;
  e.detail = detail;
  e.old_value = old_value;
  e.new_value = new_value;
  if (auto st = src_.audit->append(std::move(e)); !st) {
    log::get("rest")->error("audit trail: {}", st.error().message);
  }
}

namespace {

// The filters of GET /api/v1/audit and its CSV export: from, to (as elsewhere), user, action
// (a prefix: "login" matches login.success and login.failure), limit.
Parsed<audit::Query> parseAuditQuery(const http::Request& req, TimeMs now_ms) {
  audit::Query q;
  if (req.hasParam("from") || req.hasParam("to")) {
    const auto range = parseRange(req.params, now_ms);
    if (const auto* e = std::get_if<ParamError>(&range)) {
      return *e;
    }
    q.from_ms = std::get<Range>(range).from_ms;
    q.to_ms = std::get<Range>(range).to_ms;
  }
  q.user = req.param("user");
  q.action_prefix = req.param("action");
  q.limit = kDefaultLimit;
  if (req.hasParam("limit")) {
    const auto range = parseRange(req.params, now_ms);
    if (const auto* e = std::get_if<ParamError>(&range)) {
      return *e;
    }
    q.limit = std::get<Range>(range).limit;
  }
  return q;
}

json auditJson(const audit::Record& r) {
  return json{{"seq", r.seq},       {"time", formatIso8601(r.time_ms)},
              {"user", r.user},     {"address", r.address},
              {"via", r.via},       {"action", r.action},
              {"target", r.target}, {"old", r.old_value},
              {"new", r.new_value}, {"outcome", r.outcome},
              {"detail", r.detail}, {"hash", r.hash}};
}

}  // namespace

// The audit trail for admins (docs/security.md): records, its check, a CSV export.
void Server::auditRoutes() {
  router_.get(
      "/api/v1/audit",
      [this](const http::Request& req, http::Response& res) {
        if (src_.audit == nullptr) {
          sendError(res, 503, "", "no audit trail");
          return;
        }
        const auto q = parseAuditQuery(req, wall_clock_.nowMs());
        if (failed(q, res)) {
          return;
        }
        auto records = src_.audit->list(std::get<audit::Query>(q));
        if (!records) {
          sendError(res, 500, "", records.error().message);
          return;
        }
        json arr = json::array();
        for (const auto& r : *records) {
          arr.push_back(auditJson(r));
        }
        const auto integrity = src_.audit->integrity();
        sendJson(res, json{{"intact", integrity.ok},
                           {"problem", integrity.ok ? json(nullptr) : json(integrity.message)},
                           {"head", src_.audit->head().hash},
                           {"records", std::move(arr)}});
      },
      kAdminSlow);

  router_.get(
      "/api/v1/audit/export.csv",
      [this](const http::Request& req, http::Response& res) {
        if (src_.audit == nullptr) {
          sendError(res, 503, "", "no audit trail");
          return;
        }
        auto q = parseAuditQuery(req, wall_clock_.nowMs());
        if (failed(q, res)) {
          return;
        }
        auto query = std::get<audit::Query>(q);
        if (!req.hasParam("limit")) {
          query.limit = 0;  // the whole trail
        }
        res.setHeader("Content-Disposition", "attachment; filename=\"equalis-audit.csv\"");
        res.content_type = "text/csv; charset=utf-8";
        res.stream = [trail = src_.audit, query](const http::ChunkSink& sink) {
          if (auto st =
                  trail->exportCsv(query, [&](std::string_view chunk) { return sink(chunk); });
              !st) {
            log::get("rest")->warn("audit export: {}", st.error().message);
          }
        };
      },
      kAdminSlow);
}

// Login sessions (docs/security.md): POST logs in, GET tells who is logged in, DELETE logs out.
void Server::sessionRoutes() {
  router_.get(
      "/api/v1/session",
      [this](const http::Request& req, http::Response& res) {
        json j{{"authenticated", !req.user.empty()},
               {"user", req.user.empty() ? json(nullptr) : json(req.user)},
               {"role", req.role.empty() ? json(nullptr) : json(req.role)},
               {"anonymous_read", src_.anonymous_read},
               {"accounts", src_.radius != nullptr ||
                                (src_.accounts != nullptr && src_.accounts->userCount() > 0)}};
        if (auto s = sessions_.touch(http::cookieValue(req.header("Cookie"), kSessionCookie))) {
          j["csrf_token"] = s->csrf_token;
          j["idle_timeout_s"] = static_cast<double>(src_.plant.http.session_idle_ms) / 1000.0;
          j["expires"] = formatIso8601(s->created_ms + src_.plant.http.session_absolute_ms);
        }
        sendJson(res, j);
      },
      kPublicFast);

  router_.post(
      "/api/v1/session",
      [this](const http::Request& req, http::Response& res) {
        if (src_.accounts == nullptr) {
          sendError(res, 503, "", "this server has no accounts");
          return;
        }
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("user") || !body["user"].is_string() ||
            !body.contains("password") || !body["password"].is_string()) {
          sendError(res, 400, "body", R"(the body must be {"user": "…", "password": "…"})");
          return;
        }
        const auto user = body["user"].get<std::string>();
        const auto password = body["password"].get<std::string>();
        http::Request who = req;
        who.user = user;
        // A local account first; any other name goes to RADIUS when it is on, under the same
        // back-off (Accounts::loginWith).
        const bool by_radius = src_.radius != nullptr && !src_.accounts->hasUser(user);
        bool radius_down = false;
        const auto ask_radius = [&] {
          auto r = src_.radius->authenticate(user, password, req.remote_addr);
          radius_down = !r && r.error().code == ErrorCode::kUnavailable;
          return r;
        };
        auto principal = by_radius ? src_.accounts->loginWith(user, req.remote_addr, ask_radius)
                                   : src_.accounts->login(user, password, req.remote_addr);
        const std::string method = by_radius ? ", method radius" : "";
        if (!principal) {
          record(who, audit::action::kLoginFailure, user,
                 radius_down ? audit::outcome::kFailed : audit::outcome::kRefused,
                 principal.error().message + method);
          const bool throttled = principal.error().code == ErrorCode::kUnavailable;
          sendError(res, radius_down ? 503 : throttled ? 429 : 401, "", principal.error().message);
          return;
        }
        const auto s = sessions_.create(*principal, req.remote_addr);
        record(who, audit::action::kLoginSuccess, user, audit::outcome::kOk,
               fmt::format("role {}{}", auth::roleName(principal->role), method));
        res.setHeader("Set-Cookie", fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict{}",
                                                kSessionCookie, s.id, req.tls ? "; Secure" : ""));
        sendJson(
            res,
            json{{"authenticated", true},
                 {"user", s.user},
                 {"role", std::string(auth::roleName(s.role))},
                 {"csrf_token", s.csrf_token},
                 {"idle_timeout_s", static_cast<double>(src_.plant.http.session_idle_ms) / 1000.0},
                 {"expires", formatIso8601(s.created_ms + src_.plant.http.session_absolute_ms)}});
      },
      kLogin);

  router_.del(
      "/api/v1/session",
      [this](const http::Request& req, http::Response& res) {
        const auto id = http::cookieValue(req.header("Cookie"), kSessionCookie);
        if (!id.empty()) {
          sessions_.remove(id);
        }
        if (!req.user.empty()) {
          record(req, audit::action::kLogout, req.user, audit::outcome::kOk, "");
        }
        res.setHeader("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                                                kSessionCookie));
        sendJson(res, json{{"authenticated", false}});
      },
      kLogout);
}

namespace {

json userJson(const auth::UserInfo& u) {
  return json{{"name", u.name},
              {"role", std::string(auth::roleName(u.role))},
              {"created", formatIso8601(u.created_ms)}};
}

json tokenJson(const auth::TokenInfo& t) {
  return json{{"id", t.id},
              {"label", t.label},
              {"role", std::string(auth::roleName(t.role))},
              {"created", formatIso8601(t.created_ms)},
              {"created_by", t.created_by},
              {"last_used", t.last_used_ms ? json(formatIso8601(*t.last_used_ms)) : json(nullptr)}};
}

// The role of an account or token as the audit trail records it; "" when there is none.
template <typename Info>
std::string roleText(const std::optional<Info>& info) {
  return info ? std::string(auth::roleName(info->role)) : std::string();
}

int accountStatus(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return 400;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// A string member of a JSON body; nullopt when absent; error text when of another type.
std::optional<std::string> member(const json& body, const char* key, std::string& problem) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_string()) {
    problem = fmt::format("'{}' must be a string", key);
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<auth::Role> roleMember(const json& body, std::string& problem) {
  const auto text = member(body, "role", problem);
  if (!text) {
    return std::nullopt;
  }
  const auto role = auth::parseRole(*text);
  if (!role) {
    problem =
        fmt::format("unknown role '{}' (viewer, operator, admin)", http::escapeForLog(*text, 40));
  }
  return role;
}

}  // namespace

// User and API-token administration for admins, and a user's own password
// (docs/security.md). Every change is written to users.json at once and to the audit trail.
void Server::userRoutes() {
  const auto need_accounts = [this](http::Response& res) {
    if (src_.accounts == nullptr) {
      sendError(res, 503, "", "this server has no accounts");
      return false;
    }
    return true;
  };
  // The JSON object body of a write, or a 400.
  const auto object_body = [](const http::Request& req, http::Response& res,
                              const char* expected) -> std::optional<json> {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      sendError(res, 400, "body", fmt::format("the body must be a JSON object: {}", expected));
      return std::nullopt;
    }
    return body;
  };

  router_.get(
      "/api/v1/users",
      [this, need_accounts](const http::Request&, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        json users = json::array();
        for (const auto& u : src_.accounts->users()) {
          users.push_back(userJson(u));
        }
        sendJson(res, json{{"users", std::move(users)}});
      },
      kAdminSlow);

  router_.post(
      "/api/v1/users",
      [this, need_accounts, object_body](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        constexpr const char* kShape =
            R"({"name": "…", "password": "…", "role": "viewer|operator|admin"})";
        const auto body = object_body(req, res, kShape);
        if (!body) {
          return;
        }
        std::string problem;
        const auto name = member(*body, "name", problem);
        const auto password = member(*body, "password", problem);
        const auto role = roleMember(*body, problem);
        if (problem.empty() && (!name || !password || !role)) {
          problem = fmt::format("name, password and role are required: {}", kShape);
        }
        if (!problem.empty()) {
          sendError(res, 400, "body", problem);
          return;
        }
        const std::string role_name(auth::roleName(*role));
        if (auto st = src_.accounts->addUser(*name, *password, *role); !st) {
          record(req, audit::action::kUserAdd, *name, audit::outcome::kRefused, st.error().message,
                 "", role_name);
          sendError(res, accountStatus(st.error()), "", st.error().message);
          return;
        }
        record(req, audit::action::kUserAdd, *name, audit::outcome::kOk, "", "", role_name);
        sendJson(res, json{{"name", *name}, {"role", role_name}}, 201);
      },
      kAdminWrite);

  router_.put(
      "/api/v1/users/*",
      [this, need_accounts, object_body](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        const std::string& name = req.matches.at(1);
        const auto body = object_body(req, res, R"({"role": "…"} and/or {"password": "…"})");
        if (!body) {
          return;
        }
        std::string problem;
        const auto password = member(*body, "password", problem);
        const auto role = roleMember(*body, problem);
        if (problem.empty() && !password && !role) {
          problem = R"(nothing to change: give "role" and/or "password")";
        }
        if (!problem.empty()) {
          sendError(res, 400, "body", problem);
          return;
        }
        const std::string old_role = roleText(src_.accounts->user(name));
        if (role) {
          const std::string new_role(auth::roleName(*role));
          if (auto st = src_.accounts->setRole(name, *role); !st) {
            record(req, audit::action::kUserRole, name, audit::outcome::kRefused,
                   st.error().message, old_role, new_role);
            sendError(res, accountStatus(st.error()), "role", st.error().message);
            return;
          }
          record(req, audit::action::kUserRole, name, audit::outcome::kOk, "", old_role, new_role);
        }
        if (password) {
          if (auto st = src_.accounts->setPassword(name, *password); !st) {
            record(req, audit::action::kUserPassword, name, audit::outcome::kRefused,
                   st.error().message);
            sendError(res, accountStatus(st.error()), "password", st.error().message);
            return;
          }
          record(req, audit::action::kUserPassword, name, audit::outcome::kOk,
                 "set by an administrator");
        }
        if (const auto u = src_.accounts->user(name)) {
          sendJson(res, userJson(*u));
          return;
        }
        sendError(res, 404, "", fmt::format("no user '{}'", http::escapeForLog(name, 64)));
      },
      kAdminWrite);

  router_.del(
      "/api/v1/users/*",
      [this, need_accounts](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        const std::string& name = req.matches.at(1);
        const std::string old_role = roleText(src_.accounts->user(name));
        if (auto st = src_.accounts->removeUser(name); !st) {
          record(req, audit::action::kUserRemove, name, audit::outcome::kRefused,
                 st.error().message, old_role);
          sendError(res, accountStatus(st.error()), "", st.error().message);
          return;
        }
        record(req, audit::action::kUserRemove, name, audit::outcome::kOk, "", old_role);
        sendJson(res, json{{"removed", name}});
      },
      kAdminWrite);

  router_.get(
      "/api/v1/tokens",
      [this, need_accounts](const http::Request&, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        json tokens = json::array();
        for (const auto& t : src_.accounts->tokens()) {
          tokens.push_back(tokenJson(t));
        }
        sendJson(res, json{{"tokens", std::move(tokens)}});
      },
      kAdminSlow);

  router_.post(
      "/api/v1/tokens",
      [this, need_accounts, object_body](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        constexpr const char* kShape = R"({"label": "…", "role": "viewer|operator|admin"})";
        const auto body = object_body(req, res, kShape);
        if (!body) {
          return;
        }
        std::string problem;
        const auto label = member(*body, "label", problem);
        const auto role = roleMember(*body, problem);
        if (problem.empty() && (!label || !role)) {
          problem = fmt::format("label and role are required: {}", kShape);
        }
        if (!problem.empty()) {
          sendError(res, 400, "body", problem);
          return;
        }
        const std::string role_name(auth::roleName(*role));
        auto made = src_.accounts->createToken(*label, *role, "rest:" + req.user);
        if (!made) {
          record(req, audit::action::kTokenCreate, *label, audit::outcome::kRefused,
                 made.error().message, "", role_name);
          sendError(res, accountStatus(made.error()), "", made.error().message);
          return;
        }
        const auto& [secret, info] = *made;
        record(req, audit::action::kTokenCreate, "token:" + info.id, audit::outcome::kOk,
               fmt::format("label '{}'", info.label), "", role_name);
        json j = tokenJson(info);
        j["secret"] = secret;  // shown once: only its digest is kept
        sendJson(res, j, 201);
      },
      kAdminWrite);

  router_.del(
      "/api/v1/tokens/*",
      [this, need_accounts](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        const std::string& id = req.matches.at(1);
        const std::string old_role = roleText(src_.accounts->token(id));
        if (auto st = src_.accounts->revokeToken(id); !st) {
          record(req, audit::action::kTokenRevoke, "token:" + id, audit::outcome::kRefused,
                 st.error().message, old_role);
          sendError(res, accountStatus(st.error()), "", st.error().message);
          return;
        }
        record(req, audit::action::kTokenRevoke, "token:" + id, audit::outcome::kOk, "", old_role);
        sendJson(res, json{{"revoked", id}});
      },
      kAdminWrite);

  // A logged-in user changes their own password: the current one is checked (with the login
  // back-off), and every session of the user ends, this one too.
  router_.put(
      "/api/v1/session/password",
      [this, need_accounts, object_body](const http::Request& req, http::Response& res) {
        if (!need_accounts(res)) {
          return;
        }
        if (req.user.empty()) {
          sendError(res, 401, "", "log in first to change your password");
          return;
        }
        const auto s = sessions_.touch(http::cookieValue(req.header("Cookie"), kSessionCookie));
        if (!s || s->method != "password") {
          sendError(res, 403, "",
                    "only a user logged in with a password of this controller can change it "
                    "here (API tokens and RADIUS users cannot)");
          return;
        }
        constexpr const char* kShape = R"({"current": "…", "password": "…"})";
        const auto body = object_body(req, res, kShape);
        if (!body) {
          return;
        }
        std::string problem;
        const auto current = member(*body, "current", problem);
        const auto password = member(*body, "password", problem);
        if (problem.empty() && (!current || !password)) {
          problem = fmt::format("current and password are required: {}", kShape);
        }
        if (!problem.empty()) {
          sendError(res, 400, "body", problem);
          return;
        }
        if (auto checked = src_.accounts->login(s->user, *current, req.remote_addr); !checked) {
          const bool throttled = checked.error().code == ErrorCode::kUnavailable;
          record(req, audit::action::kUserPassword, s->user, audit::outcome::kRefused,
                 throttled ? checked.error().message : "the current password is wrong");
          sendError(res, throttled ? 429 : 403, "current",
                    throttled ? checked.error().message : "the current password is wrong");
          return;
        }
        if (auto st = src_.accounts->setPassword(s->user, *password); !st) {
          record(req, audit::action::kUserPassword, s->user, audit::outcome::kRefused,
                 st.error().message);
          sendError(res, accountStatus(st.error()), "password", st.error().message);
          return;
        }
        record(req, audit::action::kUserPassword, s->user, audit::outcome::kOk,
               "changed by the user");
        res.setHeader("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                                                kSessionCookie));
        sendJson(res, json{{"changed", true}, {"authenticated", false}});
      },
      kOwnAccountWrite);
}

std::shared_ptr<const std::string> Server::statusJson() {
  return views_.get(
      "status", src_.state, src_.clock.nowMs(),
      [&](const state::StateStore::Reader& r) { return statusDocument(src_.plant, r); });
}

// Live updates: at most one snapshot per second and per state version, rendered only while
// someone listens; a comment every 15 s keeps idle connections (and proxies) open.
void Server::feed() {
  using Steady = std::chrono::steady_clock;
  auto& hub = http_->events();
  std::uint64_t seen = 0;
  Steady::time_point last_sent{};
  std::uint64_t requests_seen = 0;
  auto requests_changed = Steady::now();
  auto accounts_checked = Steady::now();
  bool trimmed = true;
  ViewedPlant viewed;  // what a viewer holds after the last state published
  std::uint64_t viewed_seq = 0;
  while (!stopping_) {
    const auto version = src_.state.waitForChange(seen, kSseKeepAlive);
    if (stopping_) {
      break;
    }
    const auto now = Steady::now();
    // After a burst of requests, give the freed memory back to the system once it is quiet
    // (glibc keeps it otherwise: the daemon's RSS would stay at its peak).
    if (const auto requests = http_->stats().requests; requests != requests_seen) {
      requests_seen = requests;
      requests_changed = now;
      trimmed = false;
    } else if (!trimmed && now - requests_changed >= kTrimAfterQuiet) {
      ::malloc_trim(0);
      trimmed = true;
    }
    // Account edits by equalisctl: sessions of changed users end, the changes are audited.
    if (src_.accounts != nullptr && now - accounts_checked >= kAccountsCheck) {
      accounts_checked = now;
      (void)src_.accounts->reloadIfChanged();  // a damaged file is logged; the old one stays
    }
    const auto clients = hub.clients();
    if (clients == 0) {
      seen = version;  // nobody listens: nothing to render
      last_sent = {};  // the first viewer gets a snapshot at once
      viewed_seq = 0;  // and no delta: there is no state before it
      viewed = {};
      continue;
    }
    if (version == seen && last_sent == Steady::time_point{}) {
      seen = 0;  // a first viewer arrived between two versions
      continue;
    }
    if (version == seen) {
      if (now - last_sent >= kSsePing) {
        hub.publishComment(std::make_shared<const std::string>(": keep-alive\n\n"));
        last_sent = now;
      }
      continue;
    }
    if (now - last_sent < kSseMinInterval) {
      std::this_thread::sleep_for(kSseMinInterval - (now - last_sent));
      continue;
    }
    // The whole state (for new viewers and those that missed one) and what changed since the
    // state published before, from one version.
    std::shared_ptr<const std::string> status;
    std::string delta;
    {
      const state::StateStore::Reader r(src_.state, src_.clock.nowMs());
      status = std::make_shared<const std::string>(statusDocument(src_.plant, r));
      auto now_viewed = viewedPlant(src_.plant, r);
      if (viewed_seq != 0) {
        delta = deltaDocument(src_.plant, r, viewed, now_viewed, viewed_seq + 1);
      }
      viewed = std::move(now_viewed);
      views_.put("status", r.version(), status);
    }
    ++viewed_seq;
    seen = version;
    last_sent = Steady::now();
    const auto event = [](std::string_view name, std::string_view data) {
      auto message = std::make_shared<std::string>();
      message->reserve(data.size() + 32);
      *message += "event: ";
      *message += name;
      *message += "\ndata: ";
      *message += data;
      *message += "\n\n";
      return message;
    };
    hub.publishState(http::StateEvent{viewed_seq, event("snapshot", *status),
                                      delta.empty() ? nullptr : event("delta", delta)});
  }
}

void Server::routes() {
  sessionRoutes();
  userRoutes();
  auditRoutes();
  certificateRoutes();
  // Before /api/v1/strings/*/blocks/*, which would take "history" for a block number.
  historyRoutes();
  eventRoutes();
  protocolRoutes();
  auto& ctl = src_;
  const auto& plant = ctl.plant;
  const int string_count = static_cast<int>(plant.strings.size());

  // Liveness: the process answers and the control cycle completed a sweep recently.
  router_.get(
      "/healthz",
      [&ctl](const http::Request&, http::Response& res) {
        if (ctl.runtime == nullptr) {
          sendJson(res, json{{"status", "ok"}});
          return;
        }
        const auto snap = ctl.runtime->snapshot();
        const auto h = ops::liveness(snap, ctl.health);
        json j{
            {"status", h.ok ? "ok" : "failing"},
            {"cycles", snap.cycles},
            {"last_cycle_age_s", h.last_cycle_age_s < 0 ? json(nullptr) : json(h.last_cycle_age_s)},
            {"limit_s", h.limit_s}};
        if (!h.ok) {
          j["reason"] = h.reason;
        }
        sendJson(res, j, h.ok ? 200 : 503);
      },
      kPublicFast);

  // Readiness: history store open, first sweep done, not shutting down.
  router_.get(
      "/readyz",
      [this, &ctl](const http::Request&, http::Response& res) {
        ops::RuntimeSnapshot snap;
        if (ctl.runtime != nullptr) {
          snap = ctl.runtime->snapshot();
        } else {
          const state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
          snap.cycles =
              r.get(model::PointId::kSystemSweepCount).quality == model::Quality::kOk ? 1 : 0;
        }
        snap.stopping = snap.stopping || stopping_.load();
        const auto h = ops::readiness(snap, ctl.history != nullptr);
        json j{{"status", h.ok ? "ready" : "not_ready"}};
        if (!h.ok) {
          j["reason"] = h.reason;
        }
        sendJson(res, j, h.ok ? 200 : 503);
      },
      kPublicFast);

  router_.get(
      "/api/v1/system",
      [this, &ctl, &plant](const http::Request&, http::Response& res) {
        const TimeMs now = ctl.clock.nowMs();
        state::StateStore::Reader r(ctl.state, now);
        json j;
        j["site"] = {{"name", plant.site.name}, {"location", plant.site.location}};
        j["version"] = version_;
        j["time"] = formatIso8601(now);
        j["time_ms"] = now;
        j["time_scale"] = ctl.clock.timeScale();
        j["simulated"] = ctl.simulated;
        j["started"] = formatIso8601(ctl.started_ms);
        j["uptime_s"] = static_cast<double>(now - ctl.started_ms) / 1000.0;
        j["sweep_interval_s"] = static_cast<double>(plant.bus.sweep_interval_ms) / 1000.0;
        j["stale_after_s"] = static_cast<double>(ctl.state.staleAfterMs()) / 1000.0;
        {
          std::string points;
          JsonWriter w(points);
          w.beginObject();
          writePoints(w, r, model::Scope::kSystem);
          w.endObject();
          j.update(json::parse(points));  // a few points: the tree is fine here
        }
        if (auto* h = ctl.history) {
          if (auto st = h->stats()) {
            j["history"] = {
                {"snapshots", st->snapshot_count},
                {"block_records", st->block_record_count},
                {"used_bytes", st->used_bytes},
                {"max_bytes", st->max_bytes},
                {"oldest", st->oldest_ms > 0 ? json(formatIso8601(st->oldest_ms)) : json()},
                {"newest", st->newest_ms > 0 ? json(formatIso8601(st->newest_ms)) : json()}};
          }
        }
        sendJson(res, j);
      },
      kReadFast);

  router_.get(
      "/api/v1/points",
      [](const http::Request&, http::Response& res) { sendJson(res, catalogueJson()); }, kReadFast);

  router_.get(
      "/api/v1/strings",
      [&ctl, &plant](const http::Request&, http::Response& res) {
        state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
        sendDocument(res, stringsDocument(plant, r));
      },
      kReadFast);

  router_.get(
      "/api/v1/strings/*",
      [&ctl, &plant, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
        sendDocument(res, stringDocument(plant, r, static_cast<std::size_t>(std::get<int>(s) - 1)));
      },
      kReadFast);

  router_.get(
      "/api/v1/strings/*/blocks",
      [this, &ctl, &plant, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = static_cast<std::size_t>(std::get<int>(s) - 1);
        // Rendered once per state version, shared by every request for it.
        res.setHeader("Cache-Control", "no-store");
        res.setShared(views_.get(fmt::format("blocks/{}", si), ctl.state, ctl.clock.nowMs(),
                                 [&](const state::StateStore::Reader& r) {
                                   return blocksDocument(plant, r, si);
                                 }),
                      "application/json");
      },
      kReadFast);

  router_.get(
      "/api/v1/strings/*/blocks/*",
      [&ctl, &plant, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = static_cast<std::size_t>(std::get<int>(s) - 1);
        const auto b = parseIndex(req.matches[2], "block", plant.strings[si].block_count);
        if (failed(b, res)) {
          return;
        }
        state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
        sendDocument(res, blockDocument(r, si, static_cast<std::size_t>(std::get<int>(b) - 1)));
      },
      kReadFast);

  // History of one block (?quantity=voltage_v&from=…&to=…&limit=…) or of a string quantity.
  // `fetch` reads the series for the parsed quantity field and range.
  using Fetch = std::function<Result<std::vector<history::SeriesPoint>>(
      history::Store&, const std::string& field, const Range&)>;
  auto serve_series = [this, &ctl](const http::Request& req, http::Response& res,
                                   model::Scope scope, json head, const Fetch& fetch) {
    const std::string field = req.hasParam("quantity")         ? req.param("quantity")
                              : scope == model::Scope::kSystem ? "ambient_temperature_c"
                                                               : "voltage_v";
    const auto* def = historyPoint(scope, field);
    const bool known =
        scope == model::Scope::kBlock    ? history::parseBlockQuantity(field).has_value()
        : scope == model::Scope::kString ? history::parseStringQuantity(field).has_value()
                                         : history::parseRoomQuantity(field).has_value();
    if (def == nullptr || !known) {
      sendError(res, 400, "quantity",
                fmt::format("quantity '{}' is not recorded for {}s; use one of: {}", field,
                            model::scopeName(scope), quantityList(scope)));
      return;
    }
    const auto range = parseRange(req.params, ctl.clock.nowMs());
    if (failed(range, res)) {
      return;
    }
    const auto max_points = parseMaxPoints(req.params, std::nullopt);
    if (failed(max_points, res)) {
      return;
    }
    const auto n = std::get<std::optional<std::size_t>>(max_points);
    auto rg = std::get<Range>(range);
    if (n) {
      rg.limit = 0;  // downsampling reads the whole range
    }
    auto* h = ctl.history;
    if (h == nullptr) {
      sendError(res, 503, "", "history store is not open");
      return;
    }
    const auto slot = history_slots_.acquire(kHistoryWaitMs);
    if (!slot) {
      sendHistoryBusy(res);
      return;
    }
    auto points = fetch(*h, field, rg);
    if (!points) {
      sendError(res, 500, "", points.error().message);
      return;
    }
    const std::size_t source_count = points->size();
    if (n && points->size() > *n) {
      // Enum points (the mode) are names: every change is kept instead of minima and maxima.
      *points = def->type == model::PointType::kEnum ? history::keepChanges(*points)
                                                     : history::downsampleMinMax(*points, *n);
    }
    head["quantity"] = field;
    head["unit"] = std::string(def->unit);
    head["from"] = formatIso8601(rg.from_ms);
    head["to"] = formatIso8601(rg.to_ms);
    head["downsampled"] = points->size() < source_count;
    head["source_count"] = source_count;
    std::string out = head.dump();
    out.pop_back();  // the head's closing brace: the series follows as more members
    out.reserve(out.size() + points->size() * 24 + 64);
    out += ',';
    std::string series;
    JsonWriter w(series);
    w.beginObject();
    writeSeries(w, *points, def->id);
    w.endObject();
    out.append(series, 1);  // without its opening brace
    sendDocument(res, std::move(out));
  };

  router_.get(
      "/api/v1/strings/*/blocks/*/history",
      [&plant, string_count, serve_series](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = std::get<int>(s) - 1;
        const auto b = parseIndex(req.matches[2], "block",
                                  plant.strings[static_cast<std::size_t>(si)].block_count);
        if (failed(b, res)) {
          return;
        }
        const auto bi = std::get<int>(b) - 1;
        serve_series(req, res, model::Scope::kBlock, json{{"string", si + 1}, {"block", bi + 1}},
                     [si, bi](history::Store& h, const std::string& field, const Range& rg) {
                       return h.blockSeries(si, bi, *history::parseBlockQuantity(field), rg.from_ms,
                                            rg.to_ms, rg.limit);
                     });
      },
      kReadSlow);

  router_.get(
      "/api/v1/strings/*/history",
      [string_count, serve_series](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = std::get<int>(s) - 1;
        serve_series(req, res, model::Scope::kString, json{{"string", si + 1}},
                     [si](history::Store& h, const std::string& field, const Range& rg) {
                       return h.stringSeries(si, *history::parseStringQuantity(field), rg.from_ms,
                                             rg.to_ms, rg.limit);
                     });
      },
      kReadSlow);

  // The battery room's air: ?quantity=ambient_temperature_c|humidity_pct|hydrogen_pct&from=&to=.
  router_.get(
      "/api/v1/system/history",
      [serve_series](const http::Request& req, http::Response& res) {
        serve_series(req, res, model::Scope::kSystem, json::object(),
                     [](history::Store& h, const std::string& field, const Range& rg) {
                       return h.roomSeries(*history::parseRoomQuantity(field), rg.from_ms, rg.to_ms,
                                           rg.limit);
                     });
      },
      kReadSlow);

  // CSV export of block history: ?from=&to=&string=
  router_.get(
      "/api/v1/history/export.csv",
      [this, &ctl, string_count](const http::Request& req, http::Response& res) {
        const auto range = parseRange(req.params, ctl.clock.nowMs());
        if (failed(range, res)) {
          return;
        }
        int si = -1;
        if (req.hasParam("string")) {
          const auto s = parseIndex(req.param("string"), "string", string_count);
          if (failed(s, res)) {
            return;
          }
          si = std::get<int>(s) - 1;
        }
        auto* h = ctl.history;
        if (h == nullptr) {
          sendError(res, 503, "", "history store is not open");
          return;
        }
        const auto rg = std::get<Range>(range);
        auto slot = history_slots_.acquire(kHistoryWaitMs);
        if (!slot) {
          sendHistoryBusy(res);
          return;
        }
        res.setHeader("Content-Disposition", "attachment; filename=\"equalis-history.csv\"");
        res.content_type = "text/csv; charset=utf-8";
        // The slot is held until the export has been streamed.
        res.stream = [h, rg, si, slot = std::move(slot)](const http::ChunkSink& sink) {
          auto st = h->exportBlocksCsv(rg.from_ms, rg.to_ms, si,
                                       [&](std::string_view chunk) { return sink(chunk); });
          if (!st) {
            log::get("rest")->warn("CSV export failed: {}", st.error().message);
          }
        };
      },
      kReadSlow);

  // Event log: ?from=&to=&limit=&kind=&level=&string=&block= (JSON), same filters as CSV.
  auto events = [&ctl, &plant](const http::Request& req, http::Response& res, bool csv) {
    const auto q = parseEventQuery(req.params, ctl.clock.nowMs(), plant);
    if (failed(q, res)) {
      return;
    }
    auto* h = ctl.history;
    if (h == nullptr) {
      sendError(res, 503, "", "history store is not open");
      return;
    }
    // Newest first: `offset` skips the newest matches, `limit` keeps the next ones (one more
    // is read to tell whether older matches follow); listed in time order like every reply.
    auto query = std::get<history::EventQuery>(q);
    const std::size_t limit = query.limit;
    query.limit = limit + 1;
    auto rows = h->events(query);
    if (!rows) {
      sendError(res, 500, "", rows.error().message);
      return;
    }
    const bool more = rows->size() > limit;
    if (more) {
      rows->pop_back();
    }
    std::reverse(rows->begin(), rows->end());
    if (csv) {
      std::string out = "time,kind,level,string,block,message\r\n";
      for (const auto& e : *rows) {
        out += fmt::format(
            "{},{},{},{},{},{}\r\n", formatIso8601(e.time_ms), csvField(e.kind), csvField(e.level),
            e.string_number == 0 ? "" : std::to_string(e.string_number),
            e.block_number == 0 ? "" : std::to_string(e.block_number), csvField(e.message));
      }
      res.setHeader("Content-Disposition", "attachment; filename=\"equalis-events.csv\"");
      res.setContent(out, "text/csv; charset=utf-8");
      return;
    }
    json arr = json::array();
    for (const auto& e : *rows) {
      arr.push_back(json{{"time", formatIso8601(e.time_ms)},
                         {"time_ms", e.time_ms},
                         {"kind", e.kind},
                         {"level", e.level.empty() ? json(nullptr) : json(e.level)},
                         {"string", e.string_number == 0 ? json(nullptr) : json(e.string_number)},
                         {"block", e.block_number == 0 ? json(nullptr) : json(e.block_number)},
                         {"message", e.message}});
    }
    auto total = h->countEvents(query, kEventTotalCap + 1);
    if (!total) {
      sendError(res, 500, "", total.error().message);
      return;
    }
    sendJson(res, json{{"events", std::move(arr)},
                       {"offset", query.offset},
                       {"total", std::min(*total, kEventTotalCap)},
                       {"total_capped", *total > kEventTotalCap},
                       {"more", more}});
  };
  router_.get(
      "/api/v1/events",
      [events](const http::Request& req, http::Response& res) { events(req, res, false); },
      kReadSlow);
  router_.get(
      "/api/v1/events/export.csv",
      [events](const http::Request& req, http::Response& res) { events(req, res, true); },
      kReadSlow);

  // Event manager: the last 100 action outcomes (newest last) and counters (docs/events.md).
  router_.get(
      "/api/v1/events/deliveries",
      [&ctl](const http::Request&, http::Response& res) {
        if (ctl.events == nullptr) {
          sendError(res, 404, "", "no event manager");
          return;
        }
        const auto& mgr = *ctl.events;
        json arr = json::array();
        for (const auto& d : mgr.recentDeliveries()) {
          arr.push_back(json{{"time", formatIso8601(d.time_ms)},
                             {"time_ms", d.time_ms},
                             {"rule", d.rule},
                             {"action", d.action},
                             {"target", d.target},
                             {"event", d.event},
                             {"ok", d.ok},
                             {"error", d.ok ? json(nullptr) : json(d.error)},
                             {"detail", d.detail},
                             {"attempts", d.attempts},
                             {"text", events::describe(d)}});
        }
        const auto st = mgr.stats();
        sendJson(res, json{{"rules", mgr.ruleCount()},
                           {"triggered", st.triggered},
                           {"delivered", st.delivered},
                           {"failed", st.failed},
                           {"dropped", st.dropped},
                           {"cancelled", st.cancelled},
                           {"pending_actions", st.pending_actions},
                           {"deliveries", std::move(arr)}});
      },
      kReadFast);

  // Every string with its blocks and the system points, as one document: the status page's
  // data. Rendered once per state version and shared by every request and live viewer.
  router_.get(
      "/api/v1/status",
      [this](const http::Request&, http::Response& res) {
        res.setHeader("Cache-Control", "no-store");
        res.setShared(statusJson(), "application/json");
      },
      kReadFast);

  // Live updates: a "snapshot" event (the /api/v1/status document) per state change, at most
  // once per second, from one serialisation for every viewer (see feed()).
  router_.get(
      "/api/v1/stream", [](const http::Request&, http::Response& res) { res.event_stream = true; },
      kReadFast);

  // Active alarms, worst first.
  router_.get(
      "/api/v1/alarms",
      [&ctl](const http::Request&, http::Response& res) {
        json arr = json::array();
        // Held for the loop: a newer version may replace (and free) it meanwhile.
        const auto view = publishedNow(ctl);
        for (const auto& a : view->alarms) {
          arr.push_back(alarmJson(a));
        }
        sendJson(res, json{{"time", formatIso8601(ctl.clock.nowMs())}, {"alarms", std::move(arr)}});
      },
      kReadFast);

  // Acknowledge: POST /api/v1/alarms/ack?key=block.voltage_high/2/17
  router_.post(
      "/api/v1/alarms/ack",
      [&ctl](const http::Request& req, http::Response& res) {
        if (!req.hasParam("key")) {
          sendError(res, 400, "key",
                    "key is required (the alarm's key, e.g. block.voltage_high/2/17)");
          return;
        }
        auto done =
            ctl.commands.execute({command::AcknowledgeAlarm{req.param("key")}, originOf(req)});
        if (!done) {
          sendError(res, commandStatus(done.error()), "key", done.error().message);
          return;
        }
        sendJson(res,
                 json{{"acknowledged", done->alarm ? alarmJson(*done->alarm) : json(nullptr)}});
      },
      kOperateWrite);

  // Shelving (ISA-18.2, docs/alarms.md#shelving): POST /api/v1/alarms/shelve?key=… with
  // {"minutes": N, "reason": "…"} takes an active alarm off the display for N minutes;
  // POST /api/v1/alarms/unshelve?key=… ends the shelf. Operators, through the command queue and
  // the audit trail like an acknowledgement.
  router_.post(
      "/api/v1/alarms/shelve",
      [&ctl](const http::Request& req, http::Response& res) {
        if (!req.hasParam("key")) {
          sendError(res, 400, "key",
                    "key is required (the alarm's key, e.g. block.voltage_high/2/17)");
          return;
        }
        const auto shelf = parseShelfRequest(req.body);
        if (failed(shelf, res)) {
          return;
        }
        const auto& want = std::get<ShelfRequest>(shelf);
        auto done = ctl.commands.execute(
            {command::ShelveAlarm{req.param("key"), want.duration_ms, want.reason}, originOf(req)});
        if (!done) {
          sendError(res, commandStatus(done.error()), "key", done.error().message);
          return;
        }
        sendJson(res, json{{"shelved", done->alarm ? alarmJson(*done->alarm) : json(nullptr)}});
      },
      kOperateWrite);
  router_.post(
      "/api/v1/alarms/unshelve",
      [&ctl](const http::Request& req, http::Response& res) {
        if (!req.hasParam("key")) {
          sendError(res, 400, "key",
                    "key is required (the alarm's key, e.g. block.voltage_high/2/17)");
          return;
        }
        auto done = ctl.commands.execute({command::UnshelveAlarm{req.param("key")}, originOf(req)});
        if (!done) {
          sendError(res, commandStatus(done.error()), "key", done.error().message);
          return;
        }
        sendJson(res, json{{"unshelved", done->alarm ? alarmJson(*done->alarm) : json(nullptr)}});
      },
      kOperateWrite);

  // Alarm rules in force, per string and system-wide, with where each value comes from.
  router_.get(
      "/api/v1/alarms/rules",
      [&ctl, &plant](const http::Request&, http::Response& res) {
        const auto view = publishedNow(ctl)->rules;
        const auto& table = view->table;
        json strings = json::array();
        for (std::size_t s = 0; s < table.strings.size(); ++s) {
          json rules = json::array();
          for (const auto& r : table.strings[s]) {
            rules.push_back(alarms::ruleJson(r));
          }
          strings.push_back(json{
              {"string", s + 1}, {"name", plant.strings[s].name}, {"rules", std::move(rules)}});
        }
        json system = json::array();
        for (const auto& r : table.system) {
          system.push_back(alarms::ruleJson(r));
        }
        json overrides = json::array();
        for (const auto& o : view->overrides) {
          overrides.push_back(alarms::overrideJson(o));
        }
        sendJson(res, json{{"strings", std::move(strings)},
                           {"system", std::move(system)},
                           {"overrides", std::move(overrides)}});
      },
      kReadFast);

  // Change a rule: PUT /api/v1/alarms/rules/{id}[?string=N] with any of enabled, warning, alarm,
  // hysteresis, on_delay_s, off_delay_s. Without string: every string (and the system rule).
  // DELETE reverts the run-time change (back to the configuration file / defaults).
  auto rule_target = [string_count](const http::Request& req) -> Parsed<int> {
    if (!req.hasParam("string")) {
      return 0;
    }
    return parseIndex(req.param("string"), "string", string_count);
  };
  router_.put(
      "/api/v1/alarms/rules/*",
      [&ctl, rule_target](const http::Request& req, http::Response& res) {
        const auto target = rule_target(req);
        if (failed(target, res)) {
          return;
        }
        const json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) {
          sendError(res, 400, "body", "request body is not valid JSON");
          return;
        }
        auto change = alarms::overrideFromJson(body, false);
        if (!change) {
          sendError(res, 400, "body", change.error().message);
          return;
        }
        change->rule_id = req.matches[1];
        change->string_number = std::get<int>(target);
        // Merged with an earlier change of the same rule and string by the control cycle, so
        // concurrent edits of different fields or rules all survive.
        if (auto done = ctl.commands.execute({command::ChangeAlarmRule{*change}, originOf(req)});
            !done) {
          sendError(res, commandStatus(done.error()), "body", done.error().message);
          return;
        }
        json rules = json::array();
        const auto view = publishedNow(ctl)->rules;
        const auto& table = view->table;
        for (std::size_t s = 0; s < table.strings.size(); ++s) {
          if (change->string_number != 0 &&
              static_cast<std::size_t>(change->string_number) != s + 1) {
            continue;
          }
          for (const auto& r : table.strings[s]) {
            if (r.id == change->rule_id) {
              auto j = alarms::ruleJson(r);
              j["string"] = s + 1;
              rules.push_back(std::move(j));
            }
          }
        }
        for (const auto& r : table.system) {
          if (r.id == change->rule_id && change->string_number == 0) {
            rules.push_back(alarms::ruleJson(r));
          }
        }
        sendJson(res, json{{"rules", std::move(rules)}});
      },
      kAdminWrite);
  router_.del(
      "/api/v1/alarms/rules/*",
      [&ctl, rule_target](const http::Request& req, http::Response& res) {
        const auto target = rule_target(req);
        if (failed(target, res)) {
          return;
        }
        const std::string id = req.matches[1];
        const int string_number = std::get<int>(target);
        if (auto done =
                ctl.commands.execute({command::RevertAlarmRule{id, string_number}, originOf(req)});
            !done) {
          sendError(res, commandStatus(done.error()), "rule", done.error().message);
          return;
        }
        sendJson(res, json{{"reverted", id}, {"string", string_number}});
      },
      kAdminWrite);

  // Operator: collect a new Ri baseline for a block.
  router_.post(
      "/api/v1/strings/*/blocks/*/ri-baseline/reset",
      [&ctl, &plant, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = static_cast<std::size_t>(std::get<int>(s) - 1);
        const auto b = parseIndex(req.matches[2], "block", plant.strings[si].block_count);
        if (failed(b, res)) {
          return;
        }
        const auto bi = static_cast<std::size_t>(std::get<int>(b) - 1);
        if (auto done = ctl.commands.execute({command::ResetRiBaseline{si, bi}, originOf(req)});
            !done) {
          sendError(res, commandStatus(done.error()), "", done.error().message);
          return;
        }
        sendJson(res, json{{"string", si + 1}, {"block", bi + 1}, {"ri_baseline", "collecting"}});
      },
      kOperateWrite);

  // Operator reset of a thermal-runaway trip (closes the string breaker again).
  router_.post(
      "/api/v1/strings/*/protection/reset",
      [&ctl, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto si = static_cast<std::size_t>(std::get<int>(s) - 1);
        auto done = ctl.commands.execute({command::ResetProtection{si}, originOf(req)});
        if (!done && done.error().code == ErrorCode::kInvalidArgument) {
          sendJson(res,
                   json{{"error",
                         {{"status", 409},
                          {"code", "conflict"},
                          {"parameter", nullptr},
                          {"message", done.error().message}}}},
                   409);
          return;
        }
        if (!done) {
          sendError(res, commandStatus(done.error()), "", done.error().message);
          return;
        }
        sendJson(res, json{{"string", si + 1},
                           {"protection_state", std::string(alarms::runawayStateName(
                                                    publishedNow(ctl)->protection.at(si)))}});
      },
      kOperateWrite);

  // Module-bus lines (docs/module-bus.md): state, counters, sweep time against the wire limit.
  // ?modules=1 adds each line's modules as read (READ_INFO: address, serial, firmware).
  router_.get(
      "/api/v1/bus",
      [&ctl](const http::Request& req, http::Response& res) {
        const auto view = publishedNow(ctl);
        const std::string with_modules = req.param("modules");
        if (!with_modules.empty() && with_modules != "0" && with_modules != "1") {
          sendError(res, 400, "modules", "modules must be 0 or 1");
          return;
        }
        const std::vector<bus::ModuleIdentity> no_modules;
        const auto& identities = view->modules ? *view->modules : no_modules;
        json lines = json::array();
        for (const auto& l : view->bus_lines) {
          const auto& c = l.counters;
          std::size_t known = 0;
          json list = json::array();
          for (const auto& m : identities) {
            if (m.line != l.line) {
              continue;
            }
            known += 1;
            if (with_modules == "1") {
              list.push_back(json{{"string", m.string_index + 1},
                                  {"block", m.block_index + 1},
                                  {"address", m.address},
                                  {"serial", bus::formatSerial(m.serial)},
                                  {"firmware", m.firmware()},
                                  {"device_type", m.device_type}});
            }
          }
          lines.push_back(
              json{{"line", l.line},
                   {"state", bus::lineStateName(l.state)},
                   {"connected", l.connected},
                   {"modules", l.modules},
                   {"modules_ok", l.modules_ok},
                   {"last_sweep_ms", l.last_sweep_ms},
                   {"wire_limit_ms", l.wire_limit_ms},
                   {"last_error", l.last_error.empty() ? json(nullptr) : json(l.last_error)},
                   {"counters",
                    {{"requests", c.requests},
                     {"frames_ok", c.frames_ok},
                     {"crc_errors", c.crc_errors},
                     {"malformed", c.malformed},
                     {"noise_bytes", c.noise_bytes},
                     {"truncated", c.truncated},
                     {"timeouts", c.timeouts},
                     {"foreign", c.foreign},
                     {"late", c.late},
                     {"echo", c.echo},
                     {"error_replies", c.error_replies},
                     {"stale", c.stale},
                     {"retries", c.retries},
                     {"reconnects", c.reconnects}}},
                   {"modules_identified", known}});
          if (with_modules == "1") {
            lines.back()["module_list"] = std::move(list);
          }
        }
        sendJson(res, json{{"simulated", ctl.simulated}, {"lines", std::move(lines)}});
      },
      kReadFast);

  // Configuration reload (the same as SIGHUP): re-reads the file equalisd was started with.
  router_.post(
      "/api/v1/system/reload",
      [&ctl](const http::Request& req, http::Response& res) {
        auto done = ctl.commands.execute({command::ReloadConfig{}, originOf(req)});
        if (!done) {
          sendError(res, commandStatus(done.error()), "", done.error().message);
          return;
        }
        json changes = json::array();
        std::size_t live = 0;
        for (const auto& c : done->changes) {
          live += c.live ? 1 : 0;
          changes.push_back(json{{"key", c.key},
                                 {"from", c.from.empty() ? json(nullptr) : json(c.from)},
                                 {"to", c.to.empty() ? json(nullptr) : json(c.to)},
                                 {"applied", c.live},
                                 {"text", c.live ? fmt::format("{} applied", c.key)
                                                 : fmt::format("restart needed for {}", c.key)}});
        }
        sendJson(res, json{{"message", done->message},
                           {"applied", live},
                           {"restart_needed", done->changes.size() - live},
                           {"changes", std::move(changes)}});
      },
      kAdminWrite);

  // Backup download (docs/operations.md): GET /api/v1/system/backup[?history=1]. It holds the
  // configuration (passwords included), so it is served to the local machine only, like writes.
  router_.get(
      "/api/v1/system/backup",
      [this, &ctl, &plant](const http::Request& req, http::Response& res) {
        const bool with_history = req.hasParam("history") && req.param("history") != "0" &&
                                  req.param("history") != "false";
        static std::atomic<unsigned> serial{0};
        const auto path = (std::filesystem::path(plant.data_dir) /
                           fmt::format(".backup-download-{}-{}.tar.gz", ::getpid(), ++serial))
                              .string();
        // Stamped with the wall time (the plant clock may run scaled).
        ops::BackupSource src{ctl.config_path, &plant,   ctl.history,
                              with_history,    version_, wallNowMs()};
        if (auto st = ops::createBackup(src, path); !st) {
          sendError(res, st.error().code == ErrorCode::kInvalidArgument ? 409 : 500, "",
                    st.error().message);
          return;
        }
        std::error_code ec;
        (void)std::filesystem::file_size(path, ec);
        auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
        if (ec || !*file) {
          std::filesystem::remove(path, ec);
          sendError(res, 500, "", "cannot read the backup just written");
          return;
        }
        // The file is gone from the directory at once; the open stream keeps it readable.
        std::filesystem::remove(path, ec);
        const auto name =
            fmt::format("equalis-backup-{}.tar.gz", formatIso8601(wallNowMs()).substr(0, 10));
        res.setHeader("Content-Disposition", fmt::format("attachment; filename=\"{}\"", name));
        res.setHeader("Cache-Control", "no-store");
        res.content_type = "application/gzip";
        res.stream = [file](const http::ChunkSink& sink) {
          std::array<char, 65536> buf{};
          while (*file) {
            file->read(buf.data(), static_cast<std::streamsize>(buf.size()));
            const auto n = static_cast<std::size_t>(file->gcount());
            if (n == 0 || !sink(std::string_view(buf.data(), n))) {
              return;
            }
          }
        };
      },
      kAdminSlow);

  // Restore (docs/operations.md): POST /api/v1/system/restore with the archive as the body. It
  // is checked completely here, staged through the command queue and applied at the next start.
  router_.post(
      "/api/v1/system/restore",
      [&ctl, &plant](const http::Request& req, http::Response& res) {
        if (req.body.empty()) {
          sendError(res, 400, "body", "the body must be a backup archive (equalisctl backup)");
          return;
        }
        const auto stamp = fmt::format("{}-{}", ::getpid(), ctl.clock.nowMs());
        const auto dir = std::filesystem::path(plant.data_dir);
        const auto upload = (dir / fmt::format(".restore-upload-{}.tar.gz", stamp)).string();
        const auto staging = (dir / fmt::format(".restore-staging-{}", stamp)).string();
        {
          std::ofstream out(upload, std::ios::binary | std::ios::trunc);
          out.write(req.body.data(), static_cast<std::streamsize>(req.body.size()));
          if (!out) {
            sendError(res, 500, "", "cannot store the upload in " + upload);
            return;
          }
        }
        auto staged = ops::stageBackup(upload, staging);
        std::error_code ec;
        std::filesystem::remove(upload, ec);
        if (!staged) {
          sendError(res, 400, "body", staged.error().message);
          return;
        }
        if (auto st = ops::checkRestoreTarget(*staged, {ctl.config_path, plant.data_dir}); !st) {
          std::filesystem::remove_all(staging, ec);
          sendError(res, 409, "", st.error().message);
          return;
        }
        const auto& m = staged->manifest;
        const auto description = fmt::format(
            "the backup of '{}' created {} (equalis {}, {} files{})", m.site, m.created,
            m.equalis_version, m.files.size(), staged->has_history ? ", with history" : "");
        auto done =
            ctl.commands.execute({command::StageRestore{staging, description}, originOf(req)});
        if (!done) {
          std::filesystem::remove_all(staging, ec);
          sendError(res, commandStatus(done.error()), "", done.error().message);
          return;
        }
        json files = json::array();
        for (const auto& f : m.files) {
          files.push_back(f.path);
        }
        sendJson(res,
                 json{{"message", done->message},
                      {"restart_needed", true},
                      {"site", m.site},
                      {"created", m.created},
                      {"format_version", staged->read_format_version},
                      {"files", std::move(files)}},
                 202);
      },
      restoreOptions());

  // I/O and sensor devices with their channels (docs/io.md).
  router_.get(
      "/api/v1/io",
      [&ctl](const http::Request&, http::Response& res) {
        const TimeMs now = ctl.clock.nowMs();
        const auto view = publishedNow(ctl);
        sendJson(res, ioJson(view->io_devices, view->io_channels, now));
      },
      kReadFast);

  // Output command: POST /api/v1/io/outputs/aux1.relay2 {"on": true} or {"pulse_ms": 500}.
  router_.post(
      "/api/v1/io/outputs/*",
      [&ctl](const http::Request& req, http::Response& res) {
        const std::string id = req.matches[1];
        const auto cmd = parseOutputCommand(req.body);
        if (const auto* e = std::get_if<OutputCommandError>(&cmd)) {
          sendError(res, 400, e->parameter, e->message);
          return;
        }
        const auto& c = std::get<OutputCommand>(cmd);
        command::Action action = command::SetOutput{id, c.on.value_or(false)};
        if (!c.on) {
          action = command::PulseOutput{id, *c.pulse_ms};
        }
        if (auto done = ctl.commands.execute({action, originOf(req)}); !done) {
          sendError(res, commandStatus(done.error()), "id", done.error().message);
          return;
        }
        sendChannel(ctl, res, id, "output");
      },
      kOperateWrite);

  // Channel name (admins): PUT /api/v1/io/channels/aux1.di3/name {"name": "Battery room door"};
  // "" gives it back its configured name.
  router_.put(
      "/api/v1/io/channels/*/name",
      [&ctl](const http::Request& req, http::Response& res) {
        const std::string id = req.matches[1];
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
          sendError(
              res, 400, "name",
              R"(the body must be a JSON object with the channel's name: {"name": "…"} ("" = the configured name))");
          return;
        }
        const command::Action action = command::RenameChannel{id, body["name"].get<std::string>()};
        if (auto done = ctl.commands.execute({action, originOf(req)}); !done) {
          sendError(res, commandStatus(done.error()),
                    done.error().code == ErrorCode::kNotFound ? "id" : "name",
                    done.error().message);
          return;
        }
        sendChannel(ctl, res, id, "channel");
      },
      kAdminWrite);

  // Prometheus text exposition: the plant's points, then the daemon's own figures.
  router_.get(
      "/metrics",
      [this, &ctl, &plant](const http::Request&, http::Response& res) {
        std::string text;
        SelfMetrics self;
        {
          state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
          text = renderMetrics(plant, r);
          self.state_version = r.version();
        }
        if (ctl.runtime != nullptr) {
          self.version = version_;
          self.runtime = ctl.runtime->snapshot();
          self.now = ops::Steady::now();
          self.command_queue_depth = ctl.commands.depth();
          if (auto* h = ctl.history) {
            if (auto st = h->stats()) {
              self.history_open = true;
              self.history_used_bytes = st->used_bytes;
              self.history_file_bytes = st->file_bytes;
              self.history_max_bytes = st->max_bytes;
              self.history_snapshots = st->snapshot_count;
            }
          }
          if (ctl.events != nullptr) {
            self.events_present = true;
            self.events = ctl.events->stats();
          }
          self.process = ops::processFigures();
          text += renderSelfMetrics(self);
        }
        res.setContent(text, "text/plain; version=0.0.4; charset=utf-8");
      },
      kReadFast);

  router_.get(
      "/api/**",
      [](const http::Request& req, http::Response& res) {
        sendError(res, 404, "", fmt::format("no such endpoint: {}", req.path));
      },
      kReadFast);

  router_.get(
      "/**",
      [](const http::Request& req, http::Response& res) {
        const auto* asset = web::findPage(req.path);
        if (asset == nullptr) {
          res.status = 404;
          res.setContent("not found\n", "text/plain");
          return;
        }
        res.setHeader("Cache-Control", "no-cache");
        res.setContent(std::string(asset->data, asset->size), std::string(asset->content_type));
      },
      kPublicFast);
}

}  // namespace equalis::rest
