// The event manager's rules for the settings page (docs/api.md, "Event rules"): GET
// /api/v1/events/rules lists them with their triggers, filters and actions (targets without
// credentials), POST /api/v1/events/test sends a test message through one rule's email, syslog
// and webhook actions and answers with each outcome. Admins only: the rules name the site's
// recipients and servers. Every test is in the audit trail and each delivery in the event log.
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/reply.hpp"
#include "adapters/rest/server.hpp"
#include "audit/audit.hpp"
#include "events/manager.hpp"

namespace equalis::rest {

namespace {

using json = nlohmann::ordered_json;

constexpr http::RouteOptions kAdminRead{.access = http::Access::kAdmin};
// A test waits for the senders (an SMTP server may take its whole timeout).
constexpr http::RouteOptions kAdminTest{.access = http::Access::kAdmin, .slow = true};

const char* levelName(int min_level) {
  switch (min_level) {
    case 1:
      return "warning";
    case 2:
      return "alarm";
    default:
      return "any";
  }
}

json ruleJson(const events::RuleView& v) {
  const auto& r = v.rule;
  json triggers = json::array();
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {  // only trigger bits are ever set
    if ((r.triggers & bit) != 0) {
      triggers.push_back(std::string(model::eventTriggerName(static_cast<model::Trigger>(bit))));
    }
  }
  json filters = json::object();
  if (!r.rule_pattern.empty()) {
    filters["rule"] = r.rule_pattern;
  }
  if (r.min_level != 0) {
    filters["min_level"] = levelName(r.min_level);
  }
  if (r.string_number != 0) {
    filters["string"] = r.string_number;
  }
  if (r.block_number != 0) {
    filters["block"] = r.block_number;
  }
  if (!r.input_pattern.empty()) {
    filters["input"] = r.input_pattern;
  }
  if (r.input_value) {
    filters["input_value"] = *r.input_value;
  }
  json schedule = json::object();
  if (r.daily_minute_utc >= 0) {
    schedule["daily_utc"] =
        fmt::format("{:02}:{:02}", r.daily_minute_utc / 60, r.daily_minute_utc % 60);
  }
  if (r.every_min > 0) {
    schedule["every_min"] = r.every_min;
  }
  json actions = json::array();
  for (std::size_t i = 0; i < r.actions.size(); ++i) {
    const auto& a = r.actions[i];
    json j{{"type", std::string(model::eventActionTypeName(a.type))},
           {"target", i < v.targets.size() ? v.targets[i] : std::string()}};
    if (a.delay_ms > 0) {
      j["delay_s"] = static_cast<double>(a.delay_ms) / 1000.0;
    }
    if (a.repeat_ms > 0) {
      j["repeat_s"] = static_cast<double>(a.repeat_ms) / 1000.0;
      j["repeat_count"] = a.repeat_count;
      j["until_cleared"] = a.until_cleared;
    }
    if (a.type == model::EventActionType::kEmail && !a.subject.empty()) {
      j["subject"] = a.subject;
    }
    if (a.pulse_ms > 0) {
      j["pulse_s"] = static_cast<double>(a.pulse_ms) / 1000.0;
    }
    actions.push_back(std::move(j));
  }
  return json{{"name", r.name},
              {"implicit", v.implicit},
              {"triggers", std::move(triggers)},
              {"filters", std::move(filters)},
              {"schedule", std::move(schedule)},
              {"actions", std::move(actions)}};
}

}  // namespace

void Server::eventRoutes() {
  auto& ctl = src_;

  router_.get(
      "/api/v1/events/rules",
      [&ctl](const http::Request&, http::Response& res) {
        if (ctl.events == nullptr) {
          sendError(res, 404, "", "no event manager");
          return;
        }
        json rules = json::array();
        for (const auto& v : ctl.events->rules()) {
          rules.push_back(ruleJson(v));
        }
        sendJson(res, json{{"rules", std::move(rules)}});
      },
      kAdminRead);

  // {"rule": "NAME"} → {"rule", "sent", "failed", "results": [{action, target, run, ok, text}]}.
  router_.post(
      "/api/v1/events/test",
      [this, &ctl](const http::Request& req, http::Response& res) {
        if (ctl.events == nullptr) {
          sendError(res, 404, "", "no event manager");
          return;
        }
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("rule") || !body["rule"].is_string() ||
            body["rule"].get<std::string>().empty()) {
          sendError(res, 400, "rule",
                    R"(the body must be a JSON object naming the event rule: {"rule": "…"})");
          return;
        }
        const std::string name = body["rule"].get<std::string>();
        auto results = ctl.events->sendTest(name, req.user.empty() ? "an admin" : req.user);
        if (!results) {
          record(req, audit::action::kEventTest, name, audit::outcome::kRefused,
                 results.error().message);
          sendError(res, 404, "rule", results.error().message);
          return;
        }
        int sent = 0;
        int failed = 0;
        json list = json::array();
        for (const auto& t : *results) {
          if (t.run) {
            (t.ok ? sent : failed) += 1;
          }
          list.push_back(json{{"action", t.action},
                              {"target", t.target},
                              {"run", t.run},
                              {"ok", t.ok},
                              {"text", t.text}});
        }
        const std::string summary = fmt::format("{} sent, {} failed, {} not run", sent, failed,
                                                static_cast<int>(results->size()) - sent - failed);
        record(req, audit::action::kEventTest, name,
               failed == 0 ? audit::outcome::kOk : audit::outcome::kFailed, summary);
        sendJson(
            res,
            json{{"rule", name}, {"sent", sent}, {"failed", failed}, {"results", std::move(list)}});
      },
      kAdminTest);
}

}  // namespace equalis::rest
