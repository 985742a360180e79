// History routes that read more than one series (docs/api.md, "History"): a string's block
// pattern on one time axis and its recorded discharges. The documents are rendered by
// history_view.cpp; the routes parse, take a history-query slot and answer.
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "adapters/rest/history_view.hpp"
#include "adapters/rest/reply.hpp"
#include "adapters/rest/request.hpp"
#include "adapters/rest/server.hpp"

namespace equalis::rest {

namespace {

constexpr http::RouteOptions kReadSlow{.access = http::Access::kRead, .slow = true};

// Sends a rendered document, or 500 with the store's error.
void answer(http::Response& res, Result<std::string> doc) {
  if (!doc) {
    sendError(res, 500, "", doc.error().message);
    return;
  }
  sendDocument(res, std::move(*doc));
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
        answer(res, dischargeListDocument(*h, plant, std::get<int>(s) - 1, rg.from_ms, rg.to_ms,
                                          ctl.clock.nowMs()));
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
        const std::string& id_text = req.matches[2];
        TimeMs id_ms = 0;
        const auto [p, ec] =
            std::from_chars(id_text.data(), id_text.data() + id_text.size(), id_ms);
        if (ec != std::errc() || p != id_text.data() + id_text.size()) {
          sendError(
              res, 400, "id",
              fmt::format("a discharge id is its start in epoch milliseconds, got '{}'", id_text));
          return;
        }
        const auto max_points = parseMaxPoints(req.params, kDischargeDefaultPoints);
        if (failed(max_points, res)) {
          return;
        }
        auto [h, slot] = open_store(res);
        if (h == nullptr) {
          return;
        }
        const int si = std::get<int>(s) - 1;
        auto doc = dischargeDetailDocument(*h, plant, si, id_ms, ctl.clock.nowMs(),
                                           *std::get<std::optional<std::size_t>>(max_points));
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
}

}  // namespace equalis::rest
