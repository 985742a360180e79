// The protocol adapters for the settings page (docs/api.md, "Protocol adapters"):
// GET /api/v1/system/protocols lists Modbus TCP, Modbus RTU, SNMP and MQTT with the spec in
// force (secrets masked), where it comes from and whether the adapter serves;
// PUT /api/v1/system/protocols/{name} {"spec": "…"} changes one at once ("" = off);
// DELETE /api/v1/system/protocols/{name} takes it back to the configuration file's spec.
// Admins only; every change is in the audit trail with the old and new spec (secrets masked).
#include <string>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/protocol_set.hpp"
#include "adapters/rest/reply.hpp"
#include "adapters/rest/server.hpp"
#include "audit/audit.hpp"

namespace equalis::rest {

namespace {

using json = nlohmann::ordered_json;

constexpr http::RouteOptions kAdminRead{.access = http::Access::kAdmin};
// A change stops and starts an adapter (threads joined, sockets bound): on the worker pool.
constexpr http::RouteOptions kAdminChange{.access = http::Access::kAdmin, .slow = true};

std::string masked(const ProtocolStatus& p, const std::string& spec) {
  return model::redactedProtocolSpec(p.kind->key, spec);
}

json protocolJson(const ProtocolStatus& p) {
  json j{{"name", p.kind->key},
         {"label", p.kind->label},
         {"spec", masked(p, p.spec)},
         {"source", protocolSourceName(p.source)},
         {"config_spec", masked(p, p.config_spec)},
         {"config_key", p.kind->config},
         {"flag", p.kind->flag},
         {"form", p.kind->form},
         {"built", p.built},
         {"running", p.running},
         {"description", p.description},
         {"error", p.error},
         {"condition", p.condition},
         {"restart_needed", p.restart_needed},
         {"pending_spec", masked(p, p.pending_spec)}};
  return j;
}

}  // namespace

void Server::protocolRoutes() {
  router_.get(
      "/api/v1/system/protocols",
      [this](const http::Request&, http::Response& res) {
        if (src_.protocols == nullptr) {
          sendError(res, 404, "", "this server has no protocol adapters to manage");
          return;
        }
        json list = json::array();
        for (const auto& p : src_.protocols->list()) {
          list.push_back(protocolJson(p));
        }
        sendJson(res, json{{"protocols", std::move(list)}});
      },
      kAdminRead);

  // One handler for PUT (change) and DELETE (back to the configuration file).
  const auto change_route = [this](bool revert) {
    return [this, revert](const http::Request& req, http::Response& res) {
      const std::string name = req.matches[1];
      const char* action = revert ? audit::action::kProtocolRevert : audit::action::kProtocolChange;
      if (src_.protocols == nullptr) {
        sendError(res, 404, "", "this server has no protocol adapters to manage");
        return;
      }
      std::string spec;
      if (!revert) {
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("spec") || !body["spec"].is_string()) {
          const std::string why =
              R"(the body must be a JSON object with the adapter's spec: {"spec": "…"} ("" = off))";
          record(req, action, name, audit::outcome::kRefused, why);
          sendError(res, 400, "spec", why);
          return;
        }
        spec = body["spec"].get<std::string>();
      }
      const auto outcome =
          revert ? src_.protocols->revert(name) : src_.protocols->change(name, spec);
      if (const auto* refused = std::get_if<ProtocolRefusal>(&outcome)) {
        record(req, action, name,
               refused->status >= 500 ? audit::outcome::kFailed : audit::outcome::kRefused,
               refused->message);
        sendError(res, refused->status, refused->status == 404 ? "name" : "spec", refused->message);
        return;
      }
      const auto& done = std::get<ProtocolSet::Changed>(outcome);
      const auto off = [](const std::string& s) { return s.empty() ? std::string("off") : s; };
      if (done.after.restart_needed) {
        record(req, action, name, audit::outcome::kOk,
               "stored: applies when equalisd starts again (the adapter runs once per process)",
               off(masked(done.before, done.before.spec)),
               off(masked(done.after, done.after.pending_spec)));
      } else {
        record(req, action, name, audit::outcome::kOk,
               done.after.description.empty() ? std::string("off") : done.after.description,
               off(masked(done.before, done.before.spec)),
               off(masked(done.after, done.after.spec)));
      }
      sendJson(res, json{{"protocol", protocolJson(done.after)}});
    };
  };
  router_.put("/api/v1/system/protocols/*", change_route(false), kAdminChange);
  router_.del("/api/v1/system/protocols/*", change_route(true), kAdminChange);
}

}  // namespace equalis::rest
