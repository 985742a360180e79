#include "events/webhook.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "events/curl_util.hpp"

namespace equalis::events {

namespace {

std::size_t discardBody(char* /*ptr*/, std::size_t size, std::size_t nmemb, void* /*userdata*/) {
  return size * nmemb;  // the receiver's answer is not used; only its status
}

}  // namespace

std::string webhookBody(const Event& e, std::string_view site, std::string_view text) {
  nlohmann::json j;
  j["site"] = site;
  j["event"] = e.event;
  j["level"] = e.level;
  j["rule"] = e.rule.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.rule);
  j["key"] = e.key.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.key);
  j["string"] = e.string_number > 0 ? nlohmann::json(e.string_number) : nlohmann::json(nullptr);
  j["block"] = e.block_number > 0 ? nlohmann::json(e.block_number) : nlohmann::json(nullptr);
  j["value"] = e.value ? nlohmann::json(*e.value) : nlohmann::json(nullptr);
  j["threshold"] = e.threshold ? nlohmann::json(*e.threshold) : nlohmann::json(nullptr);
  j["channel"] = e.channel.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.channel);
  j["message"] = text;
  j["time"] = formatIso8601(e.time_ms);
  j["time_ms"] = e.time_ms;
  // Invalid UTF-8 (never from our own messages) is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status postJson(const WebhookRequest& req, const std::string& json,
                const std::atomic<bool>* abort) {
  detail::curlInit();
  detail::CurlPtr curl(curl_easy_init());
  if (!curl) {
    return makeError(ErrorCode::kUnavailable, "cannot initialise libcurl");
  }
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist* headers_raw = curl_slist_append(nullptr, "Content-Type: application/json");
  headers_raw = curl_slist_append(headers_raw, "User-Agent: equalisd");
  std::string auth;
  if (!req.bearer_token.empty()) {
    auth = "Authorization: Bearer " + req.bearer_token;
    headers_raw = curl_slist_append(headers_raw, auth.c_str());
  }
  detail::SlistPtr headers(headers_raw);
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout_ms));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discardBody);
  if (!req.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, req.ca_file.c_str());
  }
  if (req.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  detail::setAbortFlag(c, abort);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return makeError(rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                     detail::curlErrorText(c, rc, errbuf));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    return makeError(ErrorCode::kProtocol, fmt::format("HTTP {}", status));
  }
  return {};
}

}  // namespace equalis::events
