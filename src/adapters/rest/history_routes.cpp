// History routes that read more than one series (docs/api.md, "History"): a string's block
// pattern on one time axis and its recorded discharges. The documents are rendered by
// history_view.cpp; the routes parse, take a history-query slot and answer.
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/discharge_report_view.hpp"
#include "adapters/rest/health_view.hpp"
#include "adapters/rest/history_view.hpp"
#include "adapters/rest/reply.hpp"
#include "adapters/rest/request.hpp"
#include "adapters/rest/server.hpp"
#include "command/published.hpp"
#include "persist/files.hpp"

namespace equalis::rest {

namespace {

constexpr http::RouteOptions kReadSlow{.access = http::Access::kRead, .slow = true};
constexpr http::RouteOptions kRead{.access = http::Access::kRead};

// Sends a rendered document, or 500 with the store's error.
void answer(http::Response& res, Result<std::string> doc) {
  if (!doc) {
    sendError(res, 500, "", doc.error().message);
    return;
  }
  sendDocument(res, std::move(*doc));
}

// A discharge id (its start, epoch ms), or none after a 400.
std::optional<TimeMs> parseDischargeId(const std::string& id_text, http::Response& res) {
  TimeMs id_ms = 0;
  const auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id_ms);
  if (ec != std::errc() || p != id_text.data() + id_text.size()) {
    sendError(res, 400, "id",
              fmt::format("a discharge id is its start in epoch milliseconds, got '{}'", id_text));
    return std::nullopt;
  }
  return id_ms;
}

// The string's discharge reports, or none after a 500 naming the damaged file.
std::optional<std::vector<analysis::DischargeRecord>> reportsOrAnswer(
    const model::PlantConfig& plant, int string_index, http::Response& res) {
  auto reports = loadDischargeReports(plant, string_index);
  if (!reports) {
    sendError(res, 500, "", reports.error().message);
    return std::nullopt;
  }
  return std::move(reports.value());
}

}  // namespace

void Server::historyRoutes() {
  auto& ctl = src_;
  const auto& plant = ctl.plant;
  const int string_count = static_cast<int>(plant.strings.size());

  // The store and a query slot, or the 503 that says why not.
  auto open_store = [this,
                     &ctl](http::Response& res) -> std::pair<history::Store*, QuerySlots::Slot> {
    if (ctl.history == nullptr) {
      sendError(res, 503, "", "history store is not open");
      return {nullptr, nullptr};
    }
    auto slot = history_slots_.acquire(kHistoryWaitMs);
    if (!slot) {
      sendHistoryBusy(res);
      return {nullptr, nullptr};
    }
    return {ctl.history, std::move(slot)};
  };

  // Every block of a string on one time axis: ?quantity=&from=&to=&limit=&max_points=.
  router_.get(
      "/api/v1/strings/*/blocks/history",
      [&ctl, string_count, open_store](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        const std::string field = req.hasParam("quantity") ? req.param("quantity") : "voltage_v";
        const auto* def = historyPoint(model::Scope::kBlock, field);
        const auto q = history::parseBlockQuantity(field);
        if (def == nullptr || !q) {
          sendError(res, 400, "quantity",
                    fmt::format("quantity '{}' is not recorded for blocks; use one of: {}", field,
                                quantityList(model::Scope::kBlock)));
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
        auto [h, slot] = open_store(res);
        if (h == nullptr) {
          return;
        }
        const auto& rg = std::get<Range>(range);
        auto doc = blockPatternDocument(*h, si, *q, *def, rg.from_ms, rg.to_ms, rg.limit,
                                        std::get<std::optional<std::size_t>>(max_points));
        answer(res, std::move(doc));
      },
      kReadSlow);

  // Recorded discharges of a string, newest first: ?from=&to=.
  router_.get(
      "/api/v1/strings/*/discharges",
      [&ctl, &plant, string_count, open_store](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto range = parseRange(req.params, ctl.clock.nowMs());
        if (failed(range, res)) {
          return;
        }
        auto [h, slot] = open_store(res);
        if (h == nullptr) {
          return;
        }
        const auto& rg = std::get<Range>(range);
        const auto reports = reportsOrAnswer(plant, std::get<int>(s) - 1, res);
        if (!reports) {
          return;
        }
        answer(res, dischargeListDocument(*h, plant, std::get<int>(s) - 1, rg.from_ms, rg.to_ms,
                                          ctl.clock.nowMs(), *reports));
      },
      kReadSlow);

  // One discharge (id = its start, epoch ms) with its series and end of discharge: ?max_points=.
  router_.get(
      "/api/v1/strings/*/discharges/*",
      [&ctl, &plant, string_count, open_store](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const auto id = parseDischargeId(req.matches[2], res);
        if (!id) {
          return;
        }
        const TimeMs id_ms = *id;
        const auto max_points = parseMaxPoints(req.params, kDischargeDefaultPoints);
        if (failed(max_points, res)) {
          return;
        }
        auto [h, slot] = open_store(res);
        if (h == nullptr) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        const auto reports = reportsOrAnswer(plant, si, res);
        if (!reports) {
          return;
        }
        auto doc =
            dischargeDetailDocument(*h, plant, si, id_ms, ctl.clock.nowMs(),
                                    *std::get<std::optional<std::size_t>>(max_points), *reports);
        if (!doc) {
          sendError(res, 500, "", doc.error().message);
          return;
        }
        if (!*doc) {
          sendError(res, 404, "id",
                    fmt::format("string {} has no recorded discharge that started at {} ({})",
                                si + 1, id_ms, formatIso8601(id_ms)));
          return;
        }
        sendDocument(res, std::move(**doc));
      },
      kReadSlow);

  // The blocks' health as the controller last assessed it (hourly; analysis/health.hpp).
  const auto health_of = [&ctl](int si) -> std::shared_ptr<const analysis::HealthTracker> {
    const state::StateStore::Reader r(ctl.state, ctl.clock.nowMs());
    const auto p = command::published(r);
    return static_cast<std::size_t>(si) < p->health.size() ? p->health[static_cast<std::size_t>(si)]
                                                           : nullptr;
  };
  router_.get(
      "/api/v1/strings/*/health",
      [&ctl, string_count, health_of](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        const auto h = health_of(si);
        if (!h) {
          sendError(res, 503, "", "no health assessment yet: the first sweep has not run");
          return;
        }
        sendDocument(res, healthDocument(*h, si, ctl.clock.nowMs()));
      },
      kRead);
  router_.get(
      "/api/v1/strings/*/blocks/*/health",
      [&ctl, &plant, string_count, health_of](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        const auto b = parseIndex(req.matches[2], "block",
                                  plant.strings[static_cast<std::size_t>(si)].block_count);
        if (failed(b, res)) {
          return;
        }
        const auto h = health_of(si);
        if (!h) {
          sendError(res, 503, "", "no health assessment yet: the first sweep has not run");
          return;
        }
        sendDocument(res,
                     blockHealthDocument(*h, si, static_cast<std::size_t>(std::get<int>(b) - 1),
                                         ctl.clock.nowMs()));
      },
      kRead);

  // Hours in band and life used per block, as last written by the controller (hourly).
  router_.get(
      "/api/v1/strings/*/hours-in-band",
      [&plant, string_count](const http::Request& req, http::Response& res) {
        const auto s = parseIndex(req.matches[1], "string", string_count);
        if (failed(s, res)) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        const auto& cfg = plant.strings[static_cast<std::size_t>(si)];
        const auto path = persist::bandHoursPath(plant, static_cast<std::size_t>(si));
        const auto text = persist::readFile(path);
        if (!text) {
          sendError(res, 500, "", text.error().message);
          return;
        }
        if (!text->has_value()) {
          sendError(res, 404, "",
                    fmt::format("string {} has no hours in band yet: they are written after the "
                                "first hour of monitoring",
                                si + 1));
          return;
        }
        const auto bands = analysis::BandHours::deserialize(
            **text, static_cast<std::size_t>(cfg.block_count), cfg.chemistry);
        if (!bands) {
          sendError(res, 500, "", path + ": " + bands.error().message);
          return;
        }
        const auto as_of = nlohmann::json::parse(**text, nullptr, false);
        const TimeMs time_ms =
            as_of.is_object() && as_of.contains("time_ms") && as_of["time_ms"].is_number_integer()
                ? as_of["time_ms"].get<TimeMs>()
                : 0;
        sendDocument(res, hoursInBandDocument(*bands, si, time_ms));
      },
      http::RouteOptions{.access = http::Access::kRead});

  // The report of one discharge (id: its start, epoch ms) as JSON, CSV (one row per block) or a
  // printable HTML page. Read from the reports file: it needs no history store.
  for (const char* form : {"report", "report.csv", "report.html"}) {
    const std::string kind = form;
    router_.get(
        std::string("/api/v1/strings/*/discharges/*/") + form,
        [&plant, string_count, kind](const http::Request& req, http::Response& res) {
          const auto s = parseIndex(req.matches[1], "string", string_count);
          if (failed(s, res)) {
            return;
          }
          const auto id = parseDischargeId(req.matches[2], res);
          if (!id) {
            return;
          }
          const int si = std::get<int>(s) - 1;
          const auto reports = reportsOrAnswer(plant, si, res);
          if (!reports) {
            return;
          }
          const auto* r = findReport(*reports, *id);
          if (r == nullptr) {
            sendError(res, 404, "id",
                      fmt::format("string {} has no discharge report for a discharge that "
                                  "started at {} ({}); the last {} are kept",
                                  si + 1, *id, formatIso8601(*id), analysis::kMaxDischargeRecords));
            return;
          }
          const auto& cfg = plant.strings[static_cast<std::size_t>(si)];
          res.status = 200;
          res.setHeader("Cache-Control", "no-store");
          if (kind == "report.csv") {
            res.setHeader("Content-Disposition",
                          fmt::format("attachment; filename=\"discharge-string-{}-{}.csv\"", si + 1,
                                      r->start_ms));
            res.setContent(reportCsv(*r, cfg), "text/csv; charset=utf-8");
          } else if (kind == "report.html") {
            res.setHeader("Content-Security-Policy", reportHtmlPolicy());
            res.setContent(reportHtml(*r, cfg, plant.site.name), "text/html; charset=utf-8");
          } else {
            std::string out;
            JsonWriter w(out);
            w.beginObject().member("string", si + 1);
            writeReport(w, *r, cfg);
            w.endObject();
            sendDocument(res, std::move(out));
          }
        },
        http::RouteOptions{.access = http::Access::kRead});
  }
}

}  // namespace equalis::rest
