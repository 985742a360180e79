#include "adapters/snmp/snmp_agent.hpp"

#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "adapters/common/alarm_text.hpp"
#include "adapters/snmp/mib.hpp"
#include "adapters/snmp/netsnmp.hpp"
#include "adapters/snmp/options.hpp"
#include "core/log.hpp"

namespace equalis::snmp {

namespace {

constexpr const char* kAppName = "equalisd";
constexpr long kTickUs = 100000;  // loop wake-up: stop flag and queued notifications

std::vector<oid> toNetsnmp(const Oid& in) {
  return std::vector<oid>(in.begin(), in.end());
}

Oid fromNetsnmp(const oid* name, std::size_t length) {
  Oid out(length);
  for (std::size_t i = 0; i < length; ++i) {
    out[i] = static_cast<std::uint32_t>(name[i]);
  }
  return out;
}

void setValue(netsnmp_variable_list* var, const Value& v) {
  switch (v.kind) {
    case Value::Kind::kInteger:
      snmp_set_var_typed_integer(var, ASN_INTEGER, static_cast<long>(v.number));
      break;
    case Value::Kind::kGauge:
      snmp_set_var_typed_integer(var, ASN_GAUGE, static_cast<long>(v.number));
      break;
    case Value::Kind::kTimeTicks:
      snmp_set_var_typed_integer(var, ASN_TIMETICKS, static_cast<long>(v.number));
      break;
    case Value::Kind::kString:
      snmp_set_var_typed_value(var, ASN_OCTET_STR, v.text.data(), v.text.size());
      break;
    case Value::Kind::kOid: {
      const auto value = toNetsnmp(v.oid);
      snmp_set_var_typed_value(var, ASN_OBJECT_ID, value.data(), value.size() * sizeof(oid));
      break;
    }
  }
}

class SnmpAgent;

struct Registration {
  SnmpAgent* agent;
  TableDef* table;
};

std::mutex g_agent_mutex;
SnmpAgent* g_agent = nullptr;  // the one running agent (net-snmp state is process-global)
// net-snmp cannot be initialized again after snmp_shutdown() (it corrupts its heap), so the
// library is initialized at most once per process.
bool g_netsnmp_used = false;
// The agent the net-snmp callbacks work for. Not passed as their client argument: snmp_shutdown()
// free()s the client arguments of the callbacks still registered.
std::atomic<SnmpAgent*> g_callback_agent{nullptr};

int tableHandler(netsnmp_mib_handler* handler, netsnmp_handler_registration* reginfo,
                 netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests);
int accessCheck(int major, int minor, void* server_arg, void* client_arg);
void tick(unsigned int reg, void* client_arg);
int logToSpdlog(int major, int minor, void* server_arg, void* client_arg);

class SnmpAgent final : public adapters::Service {
 public:
  SnmpAgent(const adapters::Context& ctx, AgentOptions options)
      : ctx_(ctx), options_(std::move(options)), logger_(log::get("snmp")) {}

  ~SnmpAgent() override { stop(); }

  Status start() {
    std::promise<Status> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    Status st = started.get();
    if (!st) {
      thread_.join();
    }
    return st;
  }

  void stop() override {
    stop_requested_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::string describe() const override {
    std::string access;
    if (!options_.community.empty()) {
      access = "v1/v2c read-only community";
    }
    if (!options_.write_community.empty()) {
      access += std::string(access.empty() ? "" : ", ") + "v1/v2c write community";
    }
    if (options_.v3Enabled()) {
      access += std::string(access.empty() ? "" : ", ") + "v3 user '" + options_.v3_user +
                "' authPriv SHA/AES" + (options_.v3_write ? " read-write" : " read-only");
    }
    std::string text = "SNMP agent on udp " + options_.host + ":" + std::to_string(options_.port) +
                       " (" + (access.empty() ? "no access configured" : access) +
                       "; UPS-MIB battery group, EQUALIS-MIB " + toString(equalisMibOid()) + ")";
    if (options_.trapEnabled()) {
      text += std::string(options_.trap_version == 3 ? ", v3 " : ", v2c ") +
              (options_.inform ? "informs" : "traps") + " to " + options_.trap_host + ":" +
              std::to_string(options_.trap_port);
    }
    if (!engine_id_hex_.empty()) {
      text += ", engine id " + engine_id_hex_;
    }
    return text;
  }

  Status queue(const Notification& n) {
    if (!options_.trapEnabled()) {
      return makeError(ErrorCode::kUnavailable, "the SNMP agent has no trap receiver (trap=)");
    }
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(n);
    return {};
  }

  // --- called on the agent thread by net-snmp ---------------------------------------------
  void handle(TableDef& table, netsnmp_agent_request_info* reqinfo,
              netsnmp_request_info* requests) {
    if (table.refresh) {
      table.refresh(table);
    }
    // Reads hold the state's read lock; a SET submits an operator command, which the control
    // cycle can only commit once no reader holds the state, so it must not hold one.
    std::optional<state::StateStore::Reader> reader;
    if (reqinfo->mode == MODE_GET || reqinfo->mode == MODE_GETNEXT) {
      reader.emplace(ctx_.state, ctx_.clock.nowMs());
    }
    for (auto* request = requests; request != nullptr; request = request->next) {
      if (request->processed != 0) {
        continue;
      }
      auto* var = request->requestvb;
      const Oid name = fromNetsnmp(var->name, var->name_length);
      switch (reqinfo->mode) {
        case MODE_GET: {
          Cell cell{};
          const auto found = findCell(table, name, cell);
          std::optional<Value> value;
          if (found == Lookup::kFound) {
            value = table.get(*reader, cell.column, cell.row);
          }
          if (value) {
            setValue(var, *value);
          } else {
            netsnmp_set_request_error(
                reqinfo, request,
                found == Lookup::kNoSuchObject ? SNMP_NOSUCHOBJECT : SNMP_NOSUCHINSTANCE);
          }
          break;
        }
        case MODE_GETNEXT: {
          Oid from = name;
          while (const auto cell = nextCell(table, from)) {
            from = cellOid(table, *cell);
            if (const auto value = table.get(*reader, cell->column, cell->row)) {
              const auto answer = toNetsnmp(from);
              snmp_set_var_objid(var, answer.data(), answer.size());
              setValue(var, *value);
              break;
            }
          }
          break;  // nothing after `name` here: left unanswered, the agent moves on
        }
        case MODE_SET_RESERVE1:
          if (const int error = checkSet(table, reqinfo, name, var); error != SNMP_ERR_NOERROR) {
            netsnmp_set_request_error(reqinfo, request, error);
          }
          break;
        case MODE_SET_ACTION:
          if (const int error = applySet(table, name); error != SNMP_ERR_NOERROR) {
            netsnmp_set_request_error(reqinfo, request, error);
          }
          break;
        case MODE_SET_RESERVE2:
        case MODE_SET_COMMIT:
        case MODE_SET_FREE:
        case MODE_SET_UNDO:
          break;  // checked in RESERVE1, done in ACTION (an acknowledgement cannot be undone)
        default:
          netsnmp_set_request_error(reqinfo, request, SNMP_ERR_GENERR);
          break;
      }
    }
  }

  // May this request write (SET eqAlarmAcknowledged)?
  bool writeAllowed(const netsnmp_pdu* pdu) const {
    if (pdu == nullptr) {
      return false;
    }
    if (pdu->version == SNMP_VERSION_1 || pdu->version == SNMP_VERSION_2c) {
      const auto& community = options_.write_community;
      return !community.empty() && pdu->community != nullptr &&
             pdu->community_len == community.size() &&
             std::memcmp(pdu->community, community.data(), community.size()) == 0;
    }
    return pdu->version == SNMP_VERSION_3 && options_.v3_write && options_.v3Enabled() &&
           pdu->securityModel == SNMP_SEC_MODEL_USM && pdu->securityName != nullptr &&
           std::string_view(pdu->securityName, pdu->securityNameLen) == options_.v3_user &&
           pdu->securityLevel == SNMP_SEC_LEVEL_AUTHPRIV;
  }

  // The only writable object is eqAlarmAcknowledged.<id>, and only to true(1).
  int checkSet(const TableDef& table, netsnmp_agent_request_info* reqinfo, const Oid& name,
               const netsnmp_variable_list* var) const {
    if (table.base != eqAlarmEntryOid()) {
      return SNMP_ERR_NOTWRITABLE;
    }
    Cell cell{};
    const auto found = findCell(table, name, cell);
    if (found == Lookup::kNoSuchObject || name.size() != table.base.size() + 2 ||
        name[table.base.size()] != kAlarmAcknowledged) {
      return SNMP_ERR_NOTWRITABLE;
    }
    const netsnmp_pdu* pdu = reqinfo->asp != nullptr ? reqinfo->asp->pdu : nullptr;
    if (!writeAllowed(pdu) || !ctx_.acknowledge_alarm) {
      return SNMP_ERR_NOACCESS;
    }
    if (found == Lookup::kNoSuchInstance) {
      return SNMP_ERR_NOCREATION;  // no active alarm with that id
    }
    if (var->type != ASN_INTEGER) {
      return SNMP_ERR_WRONGTYPE;
    }
    if (var->val.integer == nullptr || *var->val.integer != kTruthTrue) {
      return SNMP_ERR_WRONGVALUE;  // an acknowledgement cannot be taken back
    }
    return SNMP_ERR_NOERROR;
  }

  int applySet(const TableDef& table, const Oid& name) {
    Cell cell{};
    if (findCell(table, name, cell) != Lookup::kFound || !ctx_.acknowledge_alarm) {
      return SNMP_ERR_COMMITFAILED;  // the alarm cleared between the phases
    }
    const auto id = name.back();
    for (const auto& a :
         ctx_.active_alarms ? ctx_.active_alarms() : std::vector<alarms::ActiveAlarm>{}) {
      if (adapters::protocolAlarmId(a) != id) {
        continue;
      }
      if (a.acknowledged) {
        return SNMP_ERR_NOERROR;
      }
      const auto done = ctx_.acknowledge_alarm(a.key, command::Origin{"", "", "snmp"});
      if (!done) {
        logger_->warn("SET eqAlarmAcknowledged.{} ({}): {}", id, a.key, done.error().message);
        return SNMP_ERR_COMMITFAILED;
      }
      logger_->info("alarm {} ({}) acknowledged over SNMP", id, a.key);
      return SNMP_ERR_NOERROR;
    }
    return SNMP_ERR_COMMITFAILED;
  }

  // VACM replacement: v1/v2c by community, v3 only the configured user with authPriv.
  int accessError(const netsnmp_pdu* pdu) const {
    if (pdu == nullptr) {
      return VACM_NOSECNAME;
    }
    if (pdu->version == SNMP_VERSION_1 || pdu->version == SNMP_VERSION_2c) {
      auto matches = [pdu](const std::string& community) {
        return !community.empty() && pdu->community != nullptr &&
               pdu->community_len == community.size() &&
               std::memcmp(pdu->community, community.data(), community.size()) == 0;
      };
      const bool ok = matches(options_.community) || matches(options_.write_community);
      return ok ? VACM_SUCCESS : VACM_NOSECNAME;
    }
    if (pdu->version == SNMP_VERSION_3) {
      if (!options_.v3Enabled() || pdu->securityModel != SNMP_SEC_MODEL_USM ||
          pdu->securityName == nullptr ||
          std::string_view(pdu->securityName, pdu->securityNameLen) != options_.v3_user) {
        return VACM_NOSECNAME;
      }
      return pdu->securityLevel == SNMP_SEC_LEVEL_AUTHPRIV ? VACM_SUCCESS : VACM_NOACCESS;
    }
    return VACM_NOSECNAME;
  }

  void onTick() {
    if (stop_requested_) {
      return;
    }
    // Keep upsSecondsOnBattery counting between requests.
    {
      const state::StateStore::Reader reader(ctx_.state, ctx_.clock.nowMs());
      tracker_.update(anyStringDischarging(reader, ctx_.state.stringCount()), reader.nowMs());
    }
    std::deque<Notification> pending;
    {
      std::lock_guard lock(queue_mutex_);
      pending.swap(queue_);
    }
    alarmNotifications(pending);
    for (const auto& n : pending) {
      sendNow(n);
    }
  }

  // Once a second: compares the active alarms with the last poll and queues equalisAlarmRaised
  // for new or escalated alarms and equalisAlarmCleared for alarms that are gone. Each alarm key
  // keeps one row id (the eqAlarmTable index of its varbinds) for the life of the agent.
  void alarmNotifications(std::deque<Notification>& out) {
    if (!ctx_.active_alarms) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_alarm_poll_ < std::chrono::seconds(1)) {
      return;
    }
    last_alarm_poll_ = now;
    std::map<std::string, alarms::ActiveAlarm> current;
    for (auto& a : ctx_.active_alarms()) {
      current.emplace(a.key, std::move(a));
    }
    auto notification = [](const alarms::ActiveAlarm& a, Notification::Kind kind) {
      Notification n;
      n.kind = kind;
      n.alarm_id = adapters::protocolAlarmId(a);
      n.code = a.rule_id;
      n.severity = alarmSeverity(a.level);
      n.string_number = a.string_number;
      n.block_number = a.block_number;
      n.text = kind == Notification::Kind::kAlarmCleared        ? "cleared: " + a.message
               : kind == Notification::Kind::kAlarmAcknowledged ? "acknowledged: " + a.message
                                                                : a.message;
      return n;
    };
    for (const auto& [key, a] : current) {
      const auto before = last_alarms_.find(key);
      if (before == last_alarms_.end() || before->second.level < a.level) {
        out.push_back(notification(a, Notification::Kind::kAlarmRaised));
      } else if (a.acknowledged && !before->second.acknowledged) {
        out.push_back(notification(a, Notification::Kind::kAlarmAcknowledged));
      }
    }
    for (const auto& [key, a] : last_alarms_) {
      if (current.find(key) == current.end()) {
        out.push_back(notification(a, Notification::Kind::kAlarmCleared));
      }
    }
    last_alarms_ = std::move(current);
  }

  bool stopRequested() const { return stop_requested_; }

 private:
  void run(std::promise<Status>& ready) {
    auto st = init();
    const bool ok = st.ok();
    ready.set_value(std::move(st));  // `ready` is gone after this
    if (!ok) {
      return;
    }
    while (!stop_requested_) {
      agent_check_and_process(1);  // returns at least every kTickUs (the tick alarm)
    }
    shutdown();
  }

  Status init() {
    std::error_code ec;
    const auto dir = std::filesystem::path(ctx_.plant.data_dir) / "snmp";
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return makeError(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
    }
    const std::string dir_text = std::filesystem::absolute(dir, ec).string();

    snmp_disable_log();
    g_callback_agent = this;
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, logToSpdlog, nullptr);
    snmp_enable_calllog();

    // No /etc/snmp, no /var/lib/snmp, no MIB files: everything comes from the spec.
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR, dir_text.c_str());
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_CONFIGURATION_DIR,
                          dir_text.c_str());
    // The agent needs no MIB files (numeric OIDs only): do not search for or report them.
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, dir_text.c_str());
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
    netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 0);  // master
    const bool ipv6 = options_.host.find(':') != std::string::npos;
    const std::string endpoint = (ipv6 ? "udp6:[" + options_.host + "]" : "udp:" + options_.host) +
                                 ":" + std::to_string(options_.port);
    netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_PORTS, endpoint.c_str());

    // Before init_snmp(): its post-config step enters the engine id in the USM time cache.
    if (!options_.engine_id.empty()) {
      const auto* bytes = reinterpret_cast<const u_char*>(options_.engine_id.data());
      if (set_exact_engineID(bytes, options_.engine_id.size()) != SNMPERR_SUCCESS) {
        return makeError(ErrorCode::kInvalidArgument, "net-snmp rejected the engine id");
      }
    }
    if (init_agent(kAppName) != 0) {
      return failInit("init_agent failed");
    }
    init_snmp(kAppName);
    initialized_ = true;

    snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_ACM_CHECK, accessCheck,
                           nullptr);
    snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_ACM_CHECK_INITIAL, accessCheck,
                           nullptr);
    snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_ACM_CHECK_SUBTREE, accessCheck,
                           nullptr);

    {
      u_char engine_id[64];
      const auto len = snmpv3_get_engineID(engine_id, sizeof engine_id);
      static constexpr char kHex[] = "0123456789abcdef";
      engine_id_hex_ = "0x";
      for (std::size_t i = 0; i < len; ++i) {
        engine_id_hex_ += kHex[engine_id[i] >> 4];
        engine_id_hex_ += kHex[engine_id[i] & 0x0F];
      }
    }
    if (options_.v3Enabled()) {
      std::string line =
          options_.v3_user + " SHA " + options_.v3_auth_pass + " AES " + options_.v3_priv_pass;
      usm_parse_create_usmUser("createUser", line.data());
      u_char engine_id[64];
      const auto engine_id_len = snmpv3_get_engineID(engine_id, sizeof engine_id);
      if (usm_get_user(engine_id, engine_id_len, options_.v3_user.c_str()) == nullptr) {
        return failInit("could not create the SNMPv3 user '" + options_.v3_user + "'");
      }
    }

    tables_ = buildTables(
        ctx_, [] { return static_cast<std::int64_t>(netsnmp_get_agent_uptime()); }, tracker_);
    registrations_.reserve(tables_.size());
    for (auto& table : tables_) {
      registrations_.push_back(Registration{this, &table});
      const auto base = toNetsnmp(table.base);
      const int modes = table.base == eqAlarmEntryOid() ? HANDLER_CAN_RWRITE : HANDLER_CAN_RONLY;
      auto* reg = netsnmp_create_handler_registration(table.name.c_str(), tableHandler, base.data(),
                                                      base.size(), modes);
      if (reg == nullptr) {
        return failInit("cannot create the handler for " + table.name);
      }
      reg->handler->myvoid = &registrations_.back();
      if (netsnmp_register_handler(reg) != MIB_REGISTERED_OK) {
        return failInit("cannot register " + table.name + " at " + toString(table.base));
      }
    }

    if (options_.trapEnabled()) {
      if (auto st = createNotificationSession(); !st) {
        return failInit(st.error().message);
      }
    }

    if (init_master_agent() != 0) {
      return failInit("cannot listen on " + endpoint + " (port in use or address not local?)");
    }
    timeval interval{0, kTickUs};
    tick_alarm_ = snmp_alarm_register_hr(interval, SA_REPEAT, tick, this);
    if (options_.trapEnabled()) {
      sendNow(Notification{});
    }
    logger_->info("listening on {}", endpoint);
    const bool loopback = options_.host.rfind("127.", 0) == 0 || options_.host == "::1" ||
                          options_.host == "localhost";
    if (options_.community == "public" && !loopback) {
      logger_->warn(
          "the default community 'public' is readable from the network on {}; set "
          "community=… (or community= with a v3 user)",
          endpoint);
    }
    return {};
  }

  // The notification receiver: v2c (community) or v3 (the USM user, authPriv SHA/AES), traps or
  // informs. A v3 trap is sent with the agent's engine id (the receiver must know it: engineid=);
  // a v3 inform discovers the receiver's.
  Status createNotificationSession() {
    const std::string port = std::to_string(options_.trap_port);
    const std::string target = options_.trap_host + ":" + port;
    if (options_.trap_version == 2) {
      if (netsnmp_create_v1v2_notification_session(
              options_.trap_host.c_str(), port.c_str(), options_.trap_community.c_str(), nullptr,
              SNMP_VERSION_2c, options_.inform ? SNMP_MSG_INFORM : SNMP_MSG_TRAP2, nullptr, nullptr,
              nullptr) == nullptr) {
        return makeError(ErrorCode::kUnavailable,
                         "cannot create the notification session to " + target);
      }
      return {};
    }
    // The same parser as snmpd.conf's "trapsess" line (passphrases → keys, engine id probing).
    std::string line = std::string(options_.inform ? "-Ci " : "") + "-v 3 -u " + options_.v3_user +
                       " -l authPriv -a SHA -A " + options_.v3_auth_pass + " -x AES -X " +
                       options_.v3_priv_pass + " udp:" + target;
    // It reports problems only through the log: count the errors logged meanwhile.
    const int errors_before = logged_errors_.load();
    snmpd_parse_config_trapsess("trapsess", line.data());
    if (logged_errors_.load() != errors_before) {
      return makeError(
          ErrorCode::kUnavailable,
          "cannot create the SNMPv3 notification session to " + target + " (see the log above)");
    }
    return {};
  }

  Status failInit(const std::string& message) {
    if (initialized_) {
      shutdown();
    }
    return makeError(ErrorCode::kUnavailable, message);
  }

  void shutdown() {
    if (tick_alarm_ != 0) {
      snmp_alarm_unregister(tick_alarm_);
      tick_alarm_ = 0;
    }
    for (const int minor : {SNMPD_CALLBACK_ACM_CHECK, SNMPD_CALLBACK_ACM_CHECK_INITIAL,
                            SNMPD_CALLBACK_ACM_CHECK_SUBTREE}) {
      snmp_unregister_callback(SNMP_CALLBACK_APPLICATION, minor, accessCheck, nullptr, 1);
    }
    snmp_shutdown(kAppName);
    shutdown_master_agent();
    shutdown_agent();
    snmp_unregister_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, logToSpdlog, nullptr, 1);
    g_callback_agent = nullptr;
    initialized_ = false;
  }

  void sendNow(const Notification& n) {
    static constexpr oid kSnmpTrapOid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
    netsnmp_variable_list* vars = nullptr;
    const Oid& trap = n.kind == Notification::Kind::kAlarmRaised    ? equalisAlarmRaisedOid()
                      : n.kind == Notification::Kind::kAlarmCleared ? equalisAlarmClearedOid()
                      : n.kind == Notification::Kind::kAlarmAcknowledged
                          ? equalisAlarmAcknowledgedOid()
                          : equalisAgentStartOid();
    const auto trap_oid = toNetsnmp(trap);
    snmp_varlist_add_variable(&vars, kSnmpTrapOid, std::size(kSnmpTrapOid), ASN_OBJECT_ID,
                              trap_oid.data(), trap_oid.size() * sizeof(oid));
    auto add = [&vars](const Oid& name, const Value& value) {
      const auto id = toNetsnmp(name);
      auto* var = snmp_varlist_add_variable(&vars, id.data(), id.size(), ASN_NULL, nullptr, 0);
      if (var != nullptr) {
        setValue(var, value);
      }
    };
    if (n.kind == Notification::Kind::kAgentStart) {
      add(concat(eqSystemOid(), {kSysSoftwareVersion, 0}), Value::string(ctx_.version));
      add(concat(eqSystemOid(), {kSysSiteName, 0}), Value::string(ctx_.plant.site.name));
    } else {
      const Oid entry = concat(eqAlarmsOid(), {2, 1});
      const std::uint32_t id = n.alarm_id;
      add(concat(entry, {2, id}), Value::string(n.code));
      add(concat(entry, {3, id}), Value::integer(n.severity));
      add(concat(entry, {4, id}), Value::integer(n.string_number));
      add(concat(entry, {5, id}), Value::integer(n.block_number));
      add(concat(entry, {6, id}), Value::string(n.text));
      if (n.kind == Notification::Kind::kAlarmAcknowledged) {
        add(concat(entry, {kAlarmAcknowledged, id}), Value::integer(kTruthTrue));
      }
    }
    send_v2trap(vars);
    snmp_free_varbind(vars);
    logger_->debug("sent notification {}", toString(trap));
  }

  const adapters::Context& ctx_;
  AgentOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  bool initialized_ = false;
  unsigned int tick_alarm_ = 0;
  std::chrono::steady_clock::time_point last_alarm_poll_{};
  std::map<std::string, alarms::ActiveAlarm> last_alarms_;
  std::string engine_id_hex_;
  std::atomic<int> logged_errors_{0};  // net-snmp messages at LOG_ERR or worse
  std::vector<TableDef> tables_;
  std::vector<Registration> registrations_;
  OnBatteryTracker tracker_;
  std::mutex queue_mutex_;
  std::deque<Notification> queue_;

  friend int logToSpdlog(int, int, void*, void*);
};

int tableHandler(netsnmp_mib_handler* handler, netsnmp_handler_registration* /*reginfo*/,
                 netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
  auto* reg = static_cast<Registration*>(handler->myvoid);
  reg->agent->handle(*reg->table, reqinfo, requests);
  return SNMP_ERR_NOERROR;
}

int accessCheck(int /*major*/, int /*minor*/, void* server_arg, void* /*client_arg*/) {
  auto* view = static_cast<view_parameters*>(server_arg);
  const auto* agent = g_callback_agent.load();
  if (agent == nullptr) {
    view->errorcode = VACM_NOSECNAME;
  } else {
    // net-snmp's own default (no VACM tables configured) denies; this check replaces it.
    view->errorcode = agent->accessError(view->pdu);
  }
  return SNMPERR_SUCCESS;
}

void tick(unsigned int /*reg*/, void* client_arg) {
  static_cast<SnmpAgent*>(client_arg)->onTick();
}

int logToSpdlog(int /*major*/, int /*minor*/, void* server_arg, void* /*client_arg*/) {
  const auto* message = static_cast<const snmp_log_message*>(server_arg);
  auto* agent = g_callback_agent.load();
  if (agent == nullptr || message == nullptr || message->msg == nullptr) {
    return SNMPERR_SUCCESS;
  }
  std::string text = message->msg;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  // Expected with our own access check instead of VACM tables, and MIB files we do not load.
  const bool expected = text.find("no access control information") != std::string::npos ||
                        text.find("Cannot find module") != std::string::npos ||
                        text.find("MIB search path") != std::string::npos;
  if (!expected && message->priority <= LOG_ERR) {
    agent->logger_->error("{}", text);
    ++agent->logged_errors_;
  } else if (!expected && message->priority == LOG_WARNING) {
    agent->logger_->warn("{}", text);
  } else {
    agent->logger_->debug("{}", text);
  }
  return SNMPERR_SUCCESS;
}

// Clears g_agent when the service is destroyed.
class AgentHandle final : public adapters::Service {
 public:
  explicit AgentHandle(std::unique_ptr<SnmpAgent> agent) : agent_(std::move(agent)) {}
  ~AgentHandle() override { AgentHandle::stop(); }
  void stop() override {
    std::lock_guard lock(g_agent_mutex);
    if (agent_) {
      agent_->stop();
      if (g_agent == agent_.get()) {
        g_agent = nullptr;
      }
    }
  }
  std::string describe() const override { return agent_->describe(); }

 private:
  std::unique_ptr<SnmpAgent> agent_;
};

}  // namespace

Status checkSpec(const adapters::Context& ctx, const std::string& spec) {
  auto options = parseSpec(spec, ctx.plant.protocols.snmp_options);
  return options ? Status{} : Status(options.error());
}

Result<adapters::ServicePtr> start(const adapters::Context& ctx, const std::string& spec) {
  auto options = parseSpec(spec, ctx.plant.protocols.snmp_options);
  if (!options) {
    return options.error();
  }
  std::lock_guard lock(g_agent_mutex);
  if (g_agent != nullptr) {
    return makeError(ErrorCode::kUnavailable, "an SNMP agent already runs in this process");
  }
  if (g_netsnmp_used) {
    return makeError(ErrorCode::kUnavailable,
                     "net-snmp can be started only once per process (an agent ran before)");
  }
  g_netsnmp_used = true;
  auto agent = std::make_unique<SnmpAgent>(ctx, std::move(options.value()));
  if (auto st = agent->start(); !st) {
    return st.error();
  }
  g_agent = agent.get();
  return adapters::ServicePtr(std::make_unique<AgentHandle>(std::move(agent)));
}

Status sendTrap(const Notification& notification) {
  std::lock_guard lock(g_agent_mutex);
  if (g_agent == nullptr) {
    return makeError(ErrorCode::kUnavailable, "no SNMP agent is running");
  }
  return g_agent->queue(notification);
}

}  // namespace equalis::snmp
