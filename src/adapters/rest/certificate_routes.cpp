// The site's HTTPS certificate over REST (docs/security.md, "Installing a certificate"):
// GET, PUT and DELETE /api/v1/system/certificate, and the plain-HTTP port that redirects to
// HTTPS. An installed certificate is checked before anything is written, stored durably in
// <data_dir>/tls/site-cert.pem and site-key.pem (0600) and served to new connections at once.
#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/http/tls.hpp"
#include "adapters/rest/reply.hpp"
#include "adapters/rest/server.hpp"
#include "audit/audit.hpp"
#include "core/log.hpp"
#include "persist/files.hpp"

namespace equalis::rest {

// What HTTPS serves; changed by the routes below, one change at a time.
struct Server::Certificates {
  std::mutex mutex;  // guards everything below
  std::string tls_dir;
  std::optional<http::TlsFiles> served;  // what new HTTPS connections get; empty: plain HTTP
  http::CertificateSource source = http::CertificateSource::kSelfSigned;
  int https_port = 0;
};

namespace {

using json = nlohmann::ordered_json;

// Admins only; on the worker pool (files are read, written and synced).
constexpr http::RouteOptions kAdminOnly{.access = http::Access::kAdmin, .slow = true};

json certificateJson(const http::CertificateInfo& info, TimeMs now_ms) {
  constexpr TimeMs kDayMs = TimeMs{24} * 3600 * 1000;
  return json{{"subject", info.subject},
              {"issuer", info.issuer},
              {"subject_alt_names", info.names},
              {"not_before", formatIso8601(info.not_before_ms)},
              {"not_after", formatIso8601(info.not_after_ms)},
              {"expires_in_days", (info.not_after_ms - now_ms) / kDayMs},
              {"fingerprint_sha256", info.fingerprint},
              {"key_type", info.key_type},
              {"chain_certificates", info.chain_certificates}};
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// The SHA-256 fingerprint of a certificate file, "" when there is none.
std::string fingerprintOrEmpty(const std::optional<http::TlsFiles>& files) {
  if (!files || !exists(files->certificate_path)) {
    return {};
  }
  return http::certificateFingerprint(files->certificate_path).valueOr(std::string());
}

// Writes `text` to `path` durably with mode 0600 (a temporary file left by an interrupted
// write is removed first, so the new one is created 0600).
Status writePrivate(const std::string& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::remove(path + ".tmp", ec);
  return persist::writeFileDurably(path, text);
}

}  // namespace

void Server::servingCertificate(const std::optional<http::TlsFiles>& tls, int port) {
  auto& c = *certificates_;
  const std::lock_guard lock(c.mutex);
  c.served = tls;
  c.https_port = tls ? port : 0;
  if (!tls) {
    return;
  }
  const auto& configured = src_.plant.http.certificate_file;
  if (!configured.empty() && tls->certificate_path == configured) {
    c.source = http::CertificateSource::kConfig;
  } else if (tls->certificate_path == http::installedCertificateFiles(c.tls_dir).certificate_path) {
    c.source = http::CertificateSource::kInstalled;
  } else {
    c.source = http::CertificateSource::kSelfSigned;
  }
}

Result<int> Server::bindRedirect(const std::string& host, int port) {
  int https_port = 0;
  {
    const std::lock_guard lock(certificates_->mutex);
    https_port = certificates_->https_port;
  }
  if (https_port == 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     "[http] redirect_port needs HTTPS, and this server serves plain HTTP "
                     "([http] tls)");
  }
  auto bound = http_->listenRedirect(host, port, https_port);
  if (!bound) {
    return makeError(bound.error().code,
                     fmt::format("{} ([http] redirect_port)", bound.error().message));
  }
  return bound;
}

void Server::certificateRoutes() {
  certificates_ = std::make_shared<Certificates>();
  certificates_->tls_dir = http::tlsDirectory(src_.plant.data_dir);
  constexpr const char* kPath = "/api/v1/system/certificate";

  // The certificate HTTPS serves (on a plain-HTTP server: the one it would serve).
  router_.get(
      kPath,
      [this](const http::Request&, http::Response& res) {
        auto& c = *certificates_;
        std::optional<http::TlsFiles> files;
        auto source = http::CertificateSource::kSelfSigned;
        {
          const std::lock_guard lock(c.mutex);
          files = c.served;
          source = c.source;
        }
        const bool https = files.has_value();
        const auto& cfg = src_.plant.http;
        const auto installed = http::installedCertificateFiles(c.tls_dir);
        if (!https) {
          if (!cfg.certificate_file.empty()) {
            files = http::TlsFiles{cfg.certificate_file, cfg.key_file};
            source = http::CertificateSource::kConfig;
          } else if (exists(installed.certificate_path)) {
            files = installed;
            source = http::CertificateSource::kInstalled;
          } else if (exists(c.tls_dir + "/cert.pem")) {
            files = http::TlsFiles{c.tls_dir + "/cert.pem", c.tls_dir + "/key.pem"};
          }
        }
        json j{{"https", https}};
        if (!files) {
          j["source"] = nullptr;
          j["message"] =
              "this server serves plain HTTP ([http] tls) and has no certificate yet: a "
              "self-signed one is made when HTTPS is turned on";
          sendJson(res, j);
          return;
        }
        auto info = http::readCertificateInfo(files->certificate_path);
        if (!info) {
          sendError(res, 500, "", info.error().message);
          return;
        }
        j["source"] = http::certificateSourceName(source);
        j["file"] = files->certificate_path;
        j.update(certificateJson(*info, wallNowMs()));
        if (!https) {
          j["message"] =
              "this server serves plain HTTP ([http] tls): this certificate is used once "
              "HTTPS is on";
        }
        sendJson(res, j);
      },
      kAdminOnly);

  // Install: checked, stored, and served to new connections at once.
  router_.put(
      kPath,
      [this](const http::Request& req, http::Response& res) {
        auto& c = *certificates_;
        const auto files = http::installedCertificateFiles(c.tls_dir);
        const auto refuse = [&](int status, const std::string& parameter, const std::string& why) {
          record(req, audit::action::kCertificateInstall, files.certificate_path,
                 audit::outcome::kRefused, why);
          sendError(res, status, parameter, why);
        };
        const auto& cfg = src_.plant.http;
        if (!cfg.certificate_file.empty()) {
          refuse(409, "",
                 fmt::format("the configuration names the certificate files ([http] "
                             "certificate_file = \"{}\", key_file = \"{}\"), and they come "
                             "first: replace those files and restart equalisd, or remove both "
                             "keys to install certificates over REST",
                             cfg.certificate_file, cfg.key_file));
          return;
        }
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("certificate") || !body.contains("key") ||
            !body["certificate"].is_string() || !body["key"].is_string()) {
          refuse(400, "body",
                 R"(the body must be {"certificate": "<PEM chain>", "key": "<PEM private key>"})");
          return;
        }
        std::string bad_part;
        const TimeMs now_ms = wallNowMs();
        auto checked = http::checkCertificate(body["certificate"].get<std::string>(),
                                              body["key"].get<std::string>(), now_ms, &bad_part);
        if (!checked) {
          const bool invalid = checked.error().code == ErrorCode::kInvalidArgument;
          refuse(invalid ? 400 : 500, bad_part, checked.error().message);
          return;
        }
        const auto& info = checked->info;
        const std::lock_guard lock(c.mutex);
        const std::string old_fingerprint =
            fingerprintOrEmpty(c.served ? c.served : std::optional<http::TlsFiles>(files));
        const auto failed = [&](const std::string& why) {
          record(req, audit::action::kCertificateInstall, files.certificate_path,
                 audit::outcome::kFailed, why, old_fingerprint, info.fingerprint);
          sendError(res, 500, "", why);
        };
        std::error_code ec;
        std::filesystem::create_directories(c.tls_dir, ec);
        ::chmod(c.tls_dir.c_str(), 0700);
        // The key, then the certificate: a crash between the two leaves a pair that does not
        // match, which the next start passes over (serving the self-signed certificate).
        if (auto st = writePrivate(files.key_path, checked->key_pem); !st) {
          failed(st.error().message);
          return;
        }
        if (auto st = writePrivate(files.certificate_path, checked->certificate_pem); !st) {
          failed(st.error().message);
          return;
        }
        const bool https = c.served.has_value();
        if (https) {
          if (auto st = http_->useCertificate(files); !st) {
            failed(fmt::format("stored, but not served: {}; restart equalisd", st.error().message));
            return;
          }
          c.served = files;
          c.source = http::CertificateSource::kInstalled;
        }
        std::string detail = fmt::format("{}, {}, valid until {}", info.subject, info.key_type,
                                         formatIso8601(info.not_after_ms));
        for (const auto& w : checked->warnings) {
          detail += "; " + w;
        }
        record(req, audit::action::kCertificateInstall, files.certificate_path, audit::outcome::kOk,
               detail, old_fingerprint, info.fingerprint);
        log::get("rest")->info("certificate installed by '{}': {} (SHA-256 fingerprint {}){}",
                               req.user, info.subject, info.fingerprint,
                               https ? ", serving it now" : "");
        json j{{"installed", true}, {"applied", https}, {"source", "installed"}};
        j["message"] = https ? std::string(
                                   "installed: new HTTPS connections get it now (connections "
                                   "already open keep the previous one until they close)")
                             : fmt::format(
                                   "stored in {}: this server serves plain HTTP ([http] tls), so "
                                   "the certificate takes effect when HTTPS is on, at the next "
                                   "start",
                                   c.tls_dir);
        j["warnings"] = checked->warnings;
        j["file"] = files.certificate_path;
        j.update(certificateJson(info, now_ms));
        sendJson(res, j);
      },
      kAdminOnly);

  // Remove the installed certificate: back to the self-signed one.
  router_.del(
      kPath,
      [this](const http::Request& req, http::Response& res) {
        auto& c = *certificates_;
        const auto files = http::installedCertificateFiles(c.tls_dir);
        const auto refuse = [&](int status, const std::string& why) {
          record(req, audit::action::kCertificateRemove, files.certificate_path,
                 audit::outcome::kRefused, why);
          sendError(res, status, "", why);
        };
        const auto& cfg = src_.plant.http;
        if (!cfg.certificate_file.empty()) {
          refuse(409, fmt::format("the configuration names the certificate files ([http] "
                                  "certificate_file = \"{}\"): nothing installed over REST is "
                                  "served",
                                  cfg.certificate_file));
          return;
        }
        const std::lock_guard lock(c.mutex);
        if (!exists(files.certificate_path) && !exists(files.key_path)) {
          refuse(404, "no certificate is installed: the self-signed one is in use");
          return;
        }
        const std::string old_fingerprint = fingerprintOrEmpty(files);
        const bool https = c.served.has_value();
        std::optional<http::TlsFiles> self_signed;
        if (https) {
          // Made (or found) before anything is removed, so HTTPS always has a certificate.
          auto made = http::ensureSelfSigned(c.tls_dir, cfg.server_names);
          if (!made) {
            record(req, audit::action::kCertificateRemove, files.certificate_path,
                   audit::outcome::kFailed, made.error().message, old_fingerprint);
            sendError(res, 500, "", made.error().message);
            return;
          }
          self_signed = *made;
        }
        std::error_code ec;
        std::filesystem::remove(files.certificate_path, ec);
        std::error_code key_ec;
        std::filesystem::remove(files.key_path, key_ec);
        if (ec || key_ec) {
          const auto why = fmt::format("cannot remove the installed certificate: {}",
                                       (ec ? ec : key_ec).message());
          record(req, audit::action::kCertificateRemove, files.certificate_path,
                 audit::outcome::kFailed, why, old_fingerprint);
          sendError(res, 500, "", why);
          return;
        }
        std::string new_fingerprint;
        if (self_signed) {
          if (auto st = http_->useCertificate(*self_signed); !st) {
            const auto why = fmt::format(
                "removed, but the self-signed certificate is not "
                "served: {}; restart equalisd",
                st.error().message);
            record(req, audit::action::kCertificateRemove, files.certificate_path,
                   audit::outcome::kFailed, why, old_fingerprint);
            sendError(res, 500, "", why);
            return;
          }
          c.served = self_signed;
          c.source = http::CertificateSource::kSelfSigned;
          new_fingerprint = fingerprintOrEmpty(self_signed);
        }
        record(req, audit::action::kCertificateRemove, files.certificate_path, audit::outcome::kOk,
               https ? "back to the self-signed certificate" : "", old_fingerprint,
               new_fingerprint);
        log::get("rest")->info("installed certificate removed by '{}'{}", req.user,
                               https ? ": serving the self-signed one" : "");
        json j{{"removed", true}, {"applied", https}, {"source", "self-signed"}};
        j["fingerprint_sha256"] = new_fingerprint.empty() ? json(nullptr) : json(new_fingerprint);
        j["message"] = https ? "removed: new HTTPS connections get the self-signed certificate"
                             : "removed: HTTPS will use the self-signed certificate";
        sendJson(res, j);
      },
      kAdminOnly);
}

}  // namespace equalis::rest
