#include "adapters/rest/protocol_set.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/log.hpp"
#include "persist/files.hpp"

namespace equalis::rest {

namespace {

const std::string& configured(const model::ProtocolConfig& c, std::string_view key) {
  if (key == "modbus_tcp") {
    return c.modbus_tcp;
  }
  if (key == "modbus_rtu") {
    return c.modbus_rtu;
  }
  if (key == "snmp") {
    return c.snmp;
  }
  return c.mqtt;
}

std::string builtWithout(const model::ProtocolKind& kind) {
  return fmt::format("this equalisd was built without {}", kind.flag.substr(2));
}

}  // namespace

std::string_view protocolSourceName(ProtocolSource s) {
  switch (s) {
    case ProtocolSource::kChangedHere:
      return "changed here";
    case ProtocolSource::kCommandLine:
      return "command line";
    case ProtocolSource::kConfig:
      break;
  }
  return "config";
}

ProtocolSet::ProtocolSet(Hooks hooks, std::string file)
    : hooks_(std::move(hooks)), file_(std::move(file)) {
  for (const auto& kind : model::kProtocolKinds) {
    Slot s;
    s.kind = &kind;
    s.built = hooks_.built(kind);
    slots_.push_back(std::move(s));
  }
}

ProtocolSet::~ProtocolSet() {
  stopAll();
}

void ProtocolSet::stopAll() {
  const std::lock_guard lock(mutex_);
  for (auto& s : slots_) {
    if (s.service) {
      s.service->stop();
      s.service.reset();
    }
  }
}

ProtocolSet::Slot* ProtocolSet::find(std::string_view key) {
  const auto it =
      std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.kind->key == key; });
  return it == slots_.end() ? nullptr : &*it;
}

ProtocolStatus ProtocolSet::statusOf(const Slot& s) const {
  return ProtocolStatus{s.kind,
                        s.spec,
                        s.config_spec,
                        s.source,
                        s.built,
                        s.service != nullptr,
                        s.description,
                        s.error,
                        s.service ? s.service->condition() : std::string(),
                        s.pending.has_value(),
                        s.pending.value_or(std::string())};
}

std::vector<ProtocolStatus> ProtocolSet::list() const {
  const std::lock_guard lock(mutex_);
  std::vector<ProtocolStatus> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) {
    out.push_back(statusOf(s));
  }
  return out;
}

Status ProtocolSet::startAll(const model::ProtocolConfig& config,
                             const std::map<std::string, std::string>& flags,
                             const std::map<std::string, std::string>& changed) {
  const std::lock_guard lock(mutex_);
  changed_ = changed;
  for (auto& s : slots_) {
    const std::string key(s.kind->key);
    s.config_spec = configured(config, key);
    s.spec = s.config_spec;
    s.source = ProtocolSource::kConfig;
    if (const auto c = changed.find(key); c != changed.end()) {
      s.spec = c->second;
      s.source = ProtocolSource::kChangedHere;
    }
    if (const auto f = flags.find(key); f != flags.end()) {
      s.spec = f->second;
      s.source = ProtocolSource::kCommandLine;
    }
    if (s.spec.empty()) {
      continue;
    }
    if (auto st = serve(s, s.spec); !st) {
      if (s.source != ProtocolSource::kChangedHere) {
        return makeError(st.error().code,
                         fmt::format("{} {}: {}", s.kind->flag,
                                     model::redactedProtocolSpec(key, s.spec), st.error().message));
      }
      s.error = st.error().message;
      log::get("config")->error("{} changed on the settings page ({}) did not start: {}",
                                s.kind->label, model::redactedProtocolSpec(key, s.spec), s.error);
    }
  }
  return {};
}

Status ProtocolSet::serve(Slot& s, const std::string& spec) {
  auto started =
      s.built
          ? hooks_.start(*s.kind, spec)
          : Result<adapters::ServicePtr>(makeError(ErrorCode::kUnavailable, builtWithout(*s.kind)));
  if (!started) {
    return started.error();
  }
  s.service = std::move(started.value());
  s.ran = true;
  s.description = s.service->describe();
  s.error.clear();
  return {};
}

Status ProtocolSet::restart(Slot& s, const std::string& spec) {
  const std::string previous = s.service ? s.spec : std::string();
  if (s.service) {
    s.service->stop();
    s.service.reset();
  }
  s.description.clear();
  if (spec.empty()) {
    s.error.clear();
    return {};
  }
  auto started = serve(s, spec);
  if (!started && !previous.empty()) {
    if (auto again = serve(s, previous); !again) {
      s.error = again.error().message;  // the previous spec no longer starts either
    }
  }
  return started;
}

Status ProtocolSet::store(const std::map<std::string, std::string>& changed) const {
  if (file_.empty()) {
    return {};
  }
  return persist::writeFileDurably(file_, model::protocolsFileText(changed));
}

ProtocolSet::Outcome ProtocolSet::apply(std::string_view key, const std::string& spec,
                                        ProtocolSource source) {
  const std::lock_guard lock(mutex_);
  Slot* s = find(key);
  if (s == nullptr) {
    return ProtocolRefusal{404, fmt::format("no protocol '{}' (one of modbus_tcp, modbus_rtu, "
                                            "snmp, mqtt)",
                                            key)};
  }
  if (s->source == ProtocolSource::kCommandLine) {
    return ProtocolRefusal{
        409, fmt::format("{} is set on the command line ({} {}), which comes "
                         "first: remove the flag and restart equalisd to "
                         "change it here",
                         s->kind->label, s->kind->flag, model::redactedProtocolSpec(key, s->spec))};
  }
  const std::string next = source == ProtocolSource::kConfig
                               ? s->config_spec
                               : model::protocolSpecKeepingSecrets(key, spec, s->spec);
  if (const auto problem = model::protocolSpecProblem(next); !problem.empty()) {
    return ProtocolRefusal{400, problem};
  }
  if (!s->built && !next.empty()) {
    return ProtocolRefusal{409, builtWithout(*s->kind)};
  }
  // An adapter that ran once in this process cannot start again: the change is checked, stored
  // and applies at the next start.
  const bool deferred = s->ran && hooks_.once_per_process(*s->kind);
  if (deferred && !next.empty()) {
    if (auto st = hooks_.check(*s->kind, next); !st) {
      return ProtocolRefusal{
          400, fmt::format("{} {}: {}", s->kind->label, model::redactedProtocolSpec(key, next),
                           st.error().message)};
    }
  }
  const ProtocolStatus before = statusOf(*s);
  auto changed = changed_;
  if (source == ProtocolSource::kConfig) {
    changed.erase(std::string(key));
  } else {
    changed[std::string(key)] = next;
  }
  // Stored before it starts, so that a daemon stopped in between comes back with it; taken back
  // when it does not start.
  if (auto st = store(changed); !st) {
    return ProtocolRefusal{500,
                           fmt::format("{} could not be written: {}", file_, st.error().message)};
  }
  if (deferred && !next.empty()) {
    changed_ = std::move(changed);
    if (next == s->spec && s->service != nullptr) {
      s->pending.reset();  // back to what runs
      s->source = source;
    } else {
      s->pending = next;
    }
    return Changed{before, statusOf(*s)};
  }
  s->pending.reset();
  const bool same = s->service != nullptr && next == s->spec;
  if (!same) {
    if (auto st = restart(*s, next); !st) {
      (void)store(changed_);
      return ProtocolRefusal{
          400, fmt::format("{} {}: {}", s->kind->label, model::redactedProtocolSpec(key, next),
                           st.error().message)};
    }
  }
  changed_ = std::move(changed);
  s->spec = next;
  s->source = source;
  return Changed{before, statusOf(*s)};
}

ProtocolSet::Outcome ProtocolSet::change(std::string_view key, const std::string& spec) {
  return apply(key, spec, ProtocolSource::kChangedHere);
}

ProtocolSet::Outcome ProtocolSet::revert(std::string_view key) {
  return apply(key, {}, ProtocolSource::kConfig);
}

}  // namespace equalis::rest
