// HTTPS certificates (OpenSSL): a self-signed one made at the first start when the site installs
// none, the SHA-256 fingerprint printed so a user can check what the browser shows, the checks a
// certificate installed over REST passes, and which certificate equalisd serves.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/server.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::http {

// `dir`/cert.pem and `dir`/key.pem, made when missing: an EC P-256 key (mode 0600) and a
// certificate valid for ten years for localhost, 127.0.0.1, ::1 and `names` (the first is its
// common name). `created` (optional) tells whether they were made now.
Result<TlsFiles> ensureSelfSigned(const std::string& dir, const std::vector<std::string>& names,
                                  bool* created = nullptr);

// "AB:CD:…" — SHA-256 of the certificate in a PEM file, as browsers show it.
Result<std::string> certificateFingerprint(const std::string& certificate_path);

// What a certificate says.
struct CertificateInfo {
  std::string subject;  // RFC 2253: "CN=bms.example.org,O=Example"
  std::string issuer;   // the same for a self-signed certificate
  std::vector<std::string>
      names;  // subject alternative names: "DNS:bms.example.org", "IP:10.0.0.5"
  TimeMs not_before_ms = 0;
  TimeMs not_after_ms = 0;
  std::string fingerprint;             // SHA-256, "AB:CD:…"
  std::string key_type;                // "EC P-256", "RSA 2048"
  std::size_t chain_certificates = 0;  // intermediate certificates after the first
};

// A certificate and key that passed checkCertificate().
struct CertificateCheck {
  CertificateInfo info;
  // Accepted, but worth telling: not valid yet, expires within 30 days, self-signed.
  std::vector<std::string> warnings;
  std::string certificate_pem;  // the chain, re-encoded (text around the PEM blocks dropped)
  std::string key_pem;          // the key, re-encoded as unencrypted PKCS #8
};

// A certificate expiring within this many days is accepted with a warning.
inline constexpr int kCertificateWarnDays = 30;

// Checks a certificate (chain: the server's certificate first, then intermediates) and its
// private key, both PEM text, before they are installed: both parse (an encrypted key is
// refused: the daemon starts unattended), the key belongs to the first certificate, the key is
// RSA of at least 2048 bits or EC, and the certificate has not expired at `now_ms`. Errors
// (kInvalidArgument) say what is wrong; `bad_part` (optional) is set to "certificate" or "key".
Result<CertificateCheck> checkCertificate(std::string_view certificate_pem,
                                          std::string_view key_pem, TimeMs now_ms,
                                          std::string* bad_part = nullptr);

// What the first certificate of a PEM file says.
Result<CertificateInfo> readCertificateInfo(const std::string& certificate_path);

// Where HTTPS gets its certificate from: [http] certificate_file/key_file, the files installed
// over REST (PUT /api/v1/system/certificate), or the self-signed one.
enum class CertificateSource { kConfig, kInstalled, kSelfSigned };
const char* certificateSourceName(CertificateSource source);  // "config", "installed", …

// <data_dir>/tls: the self-signed certificate and the installed one.
std::string tlsDirectory(const std::string& data_dir);

// `tls_dir`/site-cert.pem and site-key.pem: a certificate installed over REST.
TlsFiles installedCertificateFiles(const std::string& tls_dir);

struct ChosenCertificate {
  TlsFiles files;
  CertificateSource source = CertificateSource::kSelfSigned;
  bool created = false;  // a self-signed certificate made now
  // Served anyway, but to be logged: an installed certificate passed over (and why), one that
  // has expired or expires soon.
  std::vector<std::string> warnings;
};

// The certificate to serve, first of: `configured` (when given); the one installed in `tls_dir`
// when both files are there, parse and belong together; the self-signed one in `tls_dir`, made
// when missing (see ensureSelfSigned). An installed certificate that has expired is still
// served (with a warning).
Result<ChosenCertificate> chooseCertificate(const std::string& tls_dir,
                                            const std::optional<TlsFiles>& configured,
                                            const std::vector<std::string>& names, TimeMs now_ms);

}  // namespace equalis::http
