// HTTP webhook notifier: POSTs a JSON document with libcurl (http:// or https:// with a CA
// file), optional "Authorization: Bearer" token, bounded by a timeout. 2xx = delivered.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "events/event.hpp"
#include "model/events.hpp"

namespace equalis::events {

struct WebhookRequest {
  std::string url;
  std::string bearer_token;  // "" = no Authorization header
  std::string ca_file;
  bool insecure = false;
  DurationMs timeout_ms = 10 * kSecondMs;
};

// The JSON body of an event: site, event, level, rule, key, string, block, value, threshold,
// message (the expanded template), time (ISO 8601), time_ms; absent numbers are null.
std::string webhookBody(const Event& e, std::string_view site, std::string_view text);

// Errors: "HTTP 500 Internal Server Error", curl's failure ("connection refused …").
Status postJson(const WebhookRequest& req, const std::string& json,
                const std::atomic<bool>* abort = nullptr);

}  // namespace equalis::events
