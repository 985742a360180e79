// HTTPS certificates: a self-signed one made at the first start when the site installs none,
// and the SHA-256 fingerprint printed so a user can check what the browser shows (OpenSSL).
#pragma once

#include <string>
#include <vector>

#include "adapters/http/server.hpp"
#include "core/result.hpp"

namespace equalis::http {

// `dir`/cert.pem and `dir`/key.pem, made when missing: an EC P-256 key (mode 0600) and a
// certificate valid for ten years for localhost, 127.0.0.1, ::1 and `names` (the first is its
// common name). `created` (optional) tells whether they were made now.
Result<TlsFiles> ensureSelfSigned(const std::string& dir, const std::vector<std::string>& names,
                                  bool* created = nullptr);

// "AB:CD:…" — SHA-256 of the certificate in a PEM file, as browsers show it.
Result<std::string> certificateFingerprint(const std::string& certificate_path);

}  // namespace equalis::http
