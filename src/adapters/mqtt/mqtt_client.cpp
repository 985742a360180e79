#include "adapters/mqtt/mqtt_client.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <mosquitto.h>

#include "adapters/mqtt/mqtt_topics.hpp"
#include "adapters/mqtt/mqtt_url.hpp"
#include "core/log.hpp"

namespace equalis::mqtt {

namespace {

using namespace std::chrono_literals;

constexpr int kQos = 1;
constexpr std::chrono::milliseconds kInitialBackoff = 1s;
constexpr std::chrono::milliseconds kMaxBackoff = 60s;
constexpr std::chrono::milliseconds kStalenessPoll = 1s;  // re-read even without a new sweep
constexpr std::chrono::milliseconds kOfflineAckTimeout = 2s;
constexpr std::chrono::milliseconds kConnectTimeout = 15s;  // TCP + TLS + CONNACK
constexpr const char* kSystemCaPath = "/etc/ssl/certs";
constexpr const char* kOnline = "online";
constexpr const char* kOffline = "offline";

void initLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    mosquitto_lib_init();
    // A write to a socket the broker closed must not kill the daemon.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      std::signal(SIGPIPE, SIG_IGN);
    }
  });
}

class MqttService final : public adapters::Service {
 public:
  MqttService(const adapters::Context& ctx, MqttSettings settings)
      : plant_(ctx.plant),
        active_alarms_(ctx.active_alarms),
        state_(ctx.state),
        clock_(ctx.clock),
        version_(ctx.version),
        settings_(std::move(settings)),
        gate_(std::chrono::seconds(settings_.interval_s)),
        logger_(log::get("mqtt")) {
    topics_.prefix = settings_.prefix.empty() ? defaultPrefix(plant_) : settings_.prefix;
  }

  ~MqttService() override {
    stop();
    if (mosq_ != nullptr) {
      mosquitto_destroy(mosq_);
    }
  }

  MqttService(const MqttService&) = delete;
  MqttService& operator=(const MqttService&) = delete;

  Status start() {
    initLibrary();
    if (settings_.client_id.empty()) {
      settings_.client_id =
          fmt::format("equalisd-{}-{}", siteSlug(plant_.site.name).substr(0, 32), ::getpid());
    }
    mosq_ = mosquitto_new(settings_.client_id.c_str(), true, this);
    if (mosq_ == nullptr) {
      return makeError(ErrorCode::kUnavailable,
                       fmt::format("cannot create MQTT client: {}", std::strerror(errno)));
    }
    mosquitto_threaded_set(mosq_, true);
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (!settings_.username.empty()) {
      std::string password = settings_.password;
      bool has_password = settings_.has_password;
      if (!has_password) {
        if (const char* env = std::getenv("EQUALIS_MQTT_PASSWORD"); env != nullptr) {
          password = env;
          has_password = true;
        }
      }
      const int rc = mosquitto_username_pw_set(mosq_, settings_.username.c_str(),
                                               has_password ? password.c_str() : nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("MQTT user name rejected: {}", mosquitto_strerror(rc)));
      }
    }
    if (settings_.tls) {
      for (const auto& [what, path] :
           {std::pair<const char*, const std::string*>{"cafile", &settings_.cafile},
            {"certfile", &settings_.certfile},
            {"keyfile", &settings_.keyfile}}) {
        if (!path->empty() && !std::ifstream(*path).good()) {
          return makeError(ErrorCode::kIo, fmt::format("cannot read MQTT {} '{}'", what, *path));
        }
      }
      auto opt = [](const std::string& v) { return v.empty() ? nullptr : v.c_str(); };
      // Without a cafile: the system CA store (Debian: ca-certificates, /etc/ssl/certs).
      int rc = mosquitto_tls_set(mosq_, opt(settings_.cafile),
                                 settings_.cafile.empty() ? kSystemCaPath : nullptr,
                                 opt(settings_.certfile), opt(settings_.keyfile), nullptr);
      if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_tls_insecure_set(mosq_, settings_.insecure);
      }
      if (rc != MOSQ_ERR_SUCCESS) {
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("MQTT TLS setup failed: {} (cafile, certfile/keyfile: PEM "
                                     "files; the key must match the certificate)",
                                     mosquitto_strerror(rc)));
      }
    }
    const std::string will_topic = topics_.status();
    const int rc = mosquitto_will_set(
        mosq_, will_topic.c_str(), static_cast<int>(std::strlen(kOffline)), kOffline, kQos, true);
    if (rc != MOSQ_ERR_SUCCESS) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("MQTT last will rejected: {}", mosquitto_strerror(rc)));
    }
    mosquitto_connect_callback_set(mosq_, &MqttService::onConnect);
    mosquitto_disconnect_callback_set(mosq_, &MqttService::onDisconnect);
    mosquitto_publish_callback_set(mosq_, &MqttService::onPublish);
    mosquitto_message_callback_set(mosq_, &MqttService::onMessage);
    mosquitto_log_callback_set(mosq_, &MqttService::onLog);

    net_thread_ = std::thread([this] { networkLoop(); });
    publish_thread_ = std::thread([this] { publishLoop(); });
    return {};
  }

  void stop() override {
    std::call_once(stop_once_, [this] {
      stopping_ = true;
      state_.notifyAll();
      cv_.notify_all();
      if (publish_thread_.joinable()) {
        publish_thread_.join();
      }
      if (mosq_ != nullptr && connected_) {
        // A clean disconnect suppresses the last will, so say "offline" ourselves.
        int mid = 0;
        if (publish(topics_.status(), kOffline, &mid)) {
          std::unique_lock lock(mutex_);
          cv_.wait_for(lock, kOfflineAckTimeout, [&] { return acked_mid_ == mid || !connected_; });
        }
        mosquitto_disconnect(mosq_);
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 1s, [&] { return !connected_; });
      }
      net_stop_ = true;
      cv_.notify_all();
      if (net_thread_.joinable()) {
        net_thread_.join();
      }
    });
  }

  std::string describe() const override {
    return fmt::format("MQTT publisher {} (client id {}), topics {}/#, Home Assistant discovery {}",
                       redactedUrl(settings_), settings_.client_id, topics_.prefix,
                       settings_.discovery == DiscoveryMode::kOff
                           ? std::string("off")
                           : fmt::format("{}/sensor/ ({})", settings_.discovery_prefix,
                                         discoveryModeName(settings_.discovery)));
  }

  std::string condition() const override {
    if (connected_) {
      return {};
    }
    std::lock_guard lock(mutex_);
    return last_failure_.empty()
               ? std::string("connecting to the broker")
               : fmt::format("not connected to the broker: {} (retrying)", last_failure_);
  }

 private:
  static MqttService& self(void* obj) { return *static_cast<MqttService*>(obj); }

  static void onConnect(mosquitto* /*mosq*/, void* obj, int rc) {
    auto& s = self(obj);
    if (rc != 0) {
      s.last_connack_ = rc;
      return;
    }
    s.logger_->info("connected to MQTT broker {}", redactedUrl(s.settings_));
    s.backoff_ = kInitialBackoff;
    {
      std::lock_guard lock(s.mutex_);
      s.last_failure_.clear();
    }
    s.publish(s.topics_.status(), kOnline);
    if (s.settings_.discovery != DiscoveryMode::kOff) {
      const std::string birth = s.settings_.discovery_prefix + "/status";
      mosquitto_subscribe(s.mosq_, nullptr, birth.c_str(), 0);
    }
    {
      std::lock_guard lock(s.mutex_);
      s.connected_ = true;
      ++s.connection_epoch_;
    }
    s.cv_.notify_all();
    s.state_.notifyAll();  // wake the publisher: everything is due on a new connection
  }

  static void onDisconnect(mosquitto* /*mosq*/, void* obj, int rc) {
    auto& s = self(obj);
    bool was_connected = false;
    {
      std::lock_guard lock(s.mutex_);
      was_connected = s.connected_.exchange(false);
    }
    s.cv_.notify_all();
    if (was_connected && !s.stopping_) {
      s.logger_->warn("disconnected from MQTT broker {} ({})", redactedUrl(s.settings_),
                      rc == 0 ? std::string("clean") : std::string(mosquitto_strerror(rc)));
    }
  }

  static void onPublish(mosquitto* /*mosq*/, void* obj, int mid) {
    auto& s = self(obj);
    {
      std::lock_guard lock(s.mutex_);
      s.acked_mid_ = mid;
    }
    s.cv_.notify_all();
  }

  // libmosquitto's own errors name the cause (e.g. "OpenSSL Error[0]: … certificate verify
  // failed"); the retry warning alone would only say "A TLS error occurred".
  static void onLog(mosquitto* /*mosq*/, void* obj, int level, const char* text) {
    if (level == MOSQ_LOG_ERR && text != nullptr) {
      self(obj).logger_->warn("MQTT broker {}: {}", redactedUrl(self(obj).settings_), text);
    }
  }

  static void onMessage(mosquitto* /*mosq*/, void* obj, const mosquitto_message* msg) {
    auto& s = self(obj);
    if (msg == nullptr || msg->retain || msg->payload == nullptr) {
      return;
    }
    const std::string payload(static_cast<const char*>(msg->payload),
                              static_cast<std::size_t>(msg->payloadlen));
    if (payload == kOnline) {  // Home Assistant (re)started: send discovery again
      s.discovery_due_ = true;
      s.state_.notifyAll();
    }
  }

  bool publish(const std::string& topic, const std::string& payload, int* mid = nullptr,
               bool retain = true) {
    const int rc = mosquitto_publish(mosq_, mid, topic.c_str(), static_cast<int>(payload.size()),
                                     payload.data(), kQos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
      logger_->debug("publish {} failed: {}", topic, mosquitto_strerror(rc));
      return false;
    }
    return true;
  }

  std::string failureText(int rc, int saved_errno) const {
    if (rc == MOSQ_ERR_CONN_REFUSED) {
      return fmt::format("broker refused the connection: {}",
                         mosquitto_connack_string(last_connack_.load()));
    }
    if (rc == MOSQ_ERR_KEEPALIVE && !connected_) {
      return fmt::format("no connection within {} s", kConnectTimeout.count() / 1000);
    }
    if (rc == MOSQ_ERR_ERRNO) {
      return std::strerror(saved_errno);
    }
    return mosquitto_strerror(rc);
  }

  // Connects and keeps the connection: libmosquitto's own loop_forever() gives up for good on
  // DNS and TLS errors, so the retry policy lives here (exponential backoff 1 s … 60 s, reset
  // on every accepted connection).
  void networkLoop() {
    auto attempt_start = std::chrono::steady_clock::now();
    int rc = mosquitto_connect_async(mosq_, settings_.host.c_str(), settings_.port,
                                     settings_.keepalive_s);
    while (!net_stop_) {
      if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_loop(mosq_, 100, 1);
      }
      if (rc == MOSQ_ERR_SUCCESS && !connected_ && !stopping_) {
        // Connection (TCP/TLS handshake, CONNACK) pending: libmosquitto may spin here with TLS,
        // so pace it, and give up after a timeout (black-holed host, refused TLS port).
        if (std::chrono::steady_clock::now() - attempt_start > kConnectTimeout) {
          rc = MOSQ_ERR_KEEPALIVE;
        } else {
          std::this_thread::sleep_for(20ms);
        }
      }
      if (rc == MOSQ_ERR_SUCCESS) {
        continue;
      }
      const int saved_errno = errno;
      if (stopping_) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 100ms, [&] { return net_stop_.load(); });
        continue;
      }
      const auto delay = backoff_.load();
      const auto failure = failureText(rc, saved_errno);
      logger_->warn("MQTT broker {}: {}; retrying in {} s", redactedUrl(settings_), failure,
                    delay.count() / 1000.0);
      {
        std::lock_guard lock(mutex_);
        last_failure_ = failure;
      }
      backoff_ = std::min(delay * 2, kMaxBackoff);
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, delay, [&] { return stopping_.load(); });
      }
      if (!stopping_) {
        attempt_start = std::chrono::steady_clock::now();
        rc = mosquitto_reconnect_async(mosq_);
      }
    }
  }

  void publishLoop() {
    std::uint64_t seen = 0;
    std::uint64_t epoch_seen = 0;
    while (!stopping_) {
      seen = state_.waitForChange(seen, kStalenessPoll);
      if (stopping_ || !connected_) {
        continue;
      }
      const auto epoch = connection_epoch_.load();
      if (epoch != epoch_seen) {
        epoch_seen = epoch;
        gate_.reset();
        states_due_ = true;
        discovery_due_ = true;
      }
      if (discovery_due_.exchange(false)) {
        publishDiscovery();
      }
      publishAlarms(epoch);
      publishStates();
    }
  }

  void publishDiscovery() {
    DiscoveryOptions options{settings_.discovery, settings_.discovery_prefix, version_};
    const auto messages = discoveryMessages(plant_, topics_, options);
    for (const auto& m : messages) {
      if (stopping_ || !connected_) {
        discovery_due_ = true;
        return;
      }
      publish(m.topic, m.config.dump());
    }
    if (!messages.empty()) {
      logger_->info("published {} Home Assistant discovery configs", messages.size());
    }
  }

  // Retained <prefix>/alarms and <prefix>/alarm/state whenever the list changes (and after
  // every reconnect), and one non-retained <prefix>/alarm/event per change.
  void publishAlarms(std::uint64_t epoch) {
    if (!active_alarms_) {
      return;
    }
    auto list = active_alarms_();
    const std::string text = alarmsPayload(plant_, list).dump();
    if (text == last_alarms_text_ && epoch == alarms_epoch_) {
      return;
    }
    bool ok = publish(topics_.alarms(), text) &&
              publish(topics_.alarmState(), alarmStatePayload(plant_, list).dump());
    // Against what was last published: a reconnect sends no events, the first publish sends
    // "raised" for the alarms already active.
    const TimeMs now = clock_.nowMs();
    for (const auto& change : alarmChanges(last_alarms_, list)) {
      ok = publish(topics_.alarmEvent(), alarmEventPayload(plant_, change, now).dump(), nullptr,
                   false) &&
           ok;
    }
    if (ok) {
      last_alarms_text_ = text;
      last_alarms_ = std::move(list);
      alarms_epoch_ = epoch;
    }
  }

  // Every state topic whose payload changed, rate-limited by the gate. A pass builds all 4161
  // payloads of a 4096-block plant (0.1–0.3 s), so it runs only when something can have
  // changed: a new state version, a value turning stale, a payload held back by the interval
  // becoming due, a reconnect or a failed publish. Each string (with its blocks) is read under
  // its own Reader, so the control cycle never waits for a whole pass.
  void publishStates() {
    const auto now = std::chrono::steady_clock::now();
    const TimeMs now_ms = clock_.nowMs();
    const std::uint64_t version = state_.version();
    if (!states_due_ && version == states_version_ && now_ms < next_stale_ms_ &&
        now < gate_.heldUntil()) {
      return;
    }
    states_due_ = false;
    states_version_ = version;
    gate_.beginPass();
    std::vector<std::pair<std::string, std::string>> due;
    auto consider = [&](std::string topic, const nlohmann::ordered_json& payload) {
      std::string text = payload.dump();
      if (gate_.offer(topic, text, qualitySignature(payload), now)) {
        due.emplace_back(std::move(topic), std::move(text));
      }
    };
    {
      const state::StateStore::Reader r(state_, now_ms);
      next_stale_ms_ = firstStaleMs(plant_, r, state_.staleAfterMs());
      consider(topics_.system(), systemPayload(plant_, r));
    }
    for (std::size_t s = 0; s < plant_.strings.size(); ++s) {
      const state::StateStore::Reader r(state_, now_ms);
      consider(topics_.string(s + 1), stringPayload(plant_, r, s));
      for (int b = 0; b < plant_.strings[s].block_count; ++b) {
        const auto bi = static_cast<std::size_t>(b);
        consider(topics_.block(s + 1, bi + 1), blockPayload(r, s, bi));
      }
    }
    for (const auto& [topic, payload] : due) {
      if (!publish(topic, payload)) {
        gate_.forget(topic);
        states_due_ = true;  // try again at the next wake-up
      }
    }
  }

  const model::PlantConfig& plant_;
  std::function<std::vector<alarms::ActiveAlarm>()> active_alarms_;
  std::vector<alarms::ActiveAlarm> last_alarms_;  // publisher thread only
  std::string last_alarms_text_;
  std::uint64_t alarms_epoch_ = 0;
  state::StateStore& state_;
  Clock& clock_;
  std::string version_;
  MqttSettings settings_;
  Topics topics_;
  PublishGate gate_;  // publisher thread only
  // When publishStates() has to build the payloads again (publisher thread only).
  bool states_due_ = true;
  std::uint64_t states_version_ = 0;
  TimeMs next_stale_ms_ = 0;
  std::shared_ptr<spdlog::logger> logger_;
  mosquitto* mosq_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> net_stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> discovery_due_{false};
  std::atomic<std::uint64_t> connection_epoch_{0};
  std::atomic<int> last_connack_{0};
  std::atomic<std::chrono::milliseconds> backoff_{kInitialBackoff};
  int acked_mid_ = -1;        // guarded by mutex_
  std::string last_failure_;  // why the last connection attempt failed; guarded by mutex_
  std::once_flag stop_once_;
  std::thread net_thread_;
  std::thread publish_thread_;
};

}  // namespace

Result<adapters::ServicePtr> start(const adapters::Context& ctx, const std::string& spec) {
  auto settings = parseMqttUrl(spec);
  if (!settings) {
    return settings.error();
  }
  auto service = std::make_unique<MqttService>(ctx, std::move(settings.value()));
  if (auto st = service->start(); !st) {
    return st.error();
  }
  return adapters::ServicePtr(std::move(service));
}

}  // namespace equalis::mqtt
