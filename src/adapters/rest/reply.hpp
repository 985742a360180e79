// The API's reply shapes (docs/api.md): JSON documents, and errors as
// {"error": {"status", "code", "parameter", "message"}}. Internal to the REST server's sources.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "adapters/http/message.hpp"
#include "adapters/rest/request.hpp"

namespace equalis::rest {

inline void sendJson(http::Response& res, const nlohmann::ordered_json& body, int status = 200) {
  res.status = status;
  res.setHeader("Cache-Control", "no-store");
  res.setContent(body.dump(), "application/json");
}

// A document written with JsonWriter.
inline void sendDocument(http::Response& res, std::string body) {
  res.status = 200;
  res.setHeader("Cache-Control", "no-store");
  res.setContent(std::move(body), "application/json");
}

// 4xx with {"error": {"status", "code", "parameter", "message"}}.
inline void sendError(http::Response& res, int status, const std::string& parameter,
                      const std::string& message) {
  const char* code = "invalid_parameter";
  switch (status) {
    case 401:
      code = "unauthorized";
      break;
    case 403:
      code = "forbidden";
      break;
    case 404:
      code = "not_found";
      break;
    case 409:
      code = "conflict";
      break;
    case 429:
      code = "too_many_requests";
      break;
    case 503:
      code = "unavailable";
      break;
    default:
      code = status >= 500 ? "internal" : "invalid_parameter";
  }
  nlohmann::ordered_json err{{"status", status}, {"code", code}, {"message", message}};
  err["parameter"] =
      parameter.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(parameter);
  sendJson(res, nlohmann::ordered_json{{"error", err}}, status);
}

// 503 when every history-query slot stayed taken.
inline void sendHistoryBusy(http::Response& res) {
  sendError(res, 503, "", "too many history queries at once: try again in a few seconds");
  res.setHeader("Retry-After", "2");
}

// Sends the 4xx of a parameter that did not parse; true when it did so.
template <typename T>
bool failed(const Parsed<T>& p, http::Response& res) {
  if (const auto* e = std::get_if<ParamError>(&p)) {
    sendError(res, e->status, e->parameter, e->message);
    return true;
  }
  return false;
}

}  // namespace equalis::rest
