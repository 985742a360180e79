#include "adapters/http/tls.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include <fmt/format.h>

namespace equalis::http {

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Error sslError(const std::string& what) {
  return makeError(ErrorCode::kIo, fmt::format("{}: OpenSSL error", what));
}

// Adds a v3 extension ("subjectAltName", "DNS:a,IP:127.0.0.1").
bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return false;
  }
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Writes with mode 0600 (a private key must not be readable by others).
Status writePem(const std::string& path, const std::function<bool(std::FILE*)>& write) {
  const std::string tmp = path + ".tmp";
  std::filesystem::remove(tmp);
  const mode_t old = ::umask(077);
  File f(std::fopen(tmp.c_str(), "w"));
  ::umask(old);
  if (!f || !write(f.get()) || std::fflush(f.get()) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
  }
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", path, ec.message()));
  }
  return {};
}

}  // namespace

Result<TlsFiles> ensureSelfSigned(const std::string& dir, const std::vector<std::string>& names,
                                  bool* created) {
  TlsFiles files{dir + "/cert.pem", dir + "/key.pem"};
  if (created != nullptr) {
    *created = false;
  }
  if (std::filesystem::exists(files.certificate_path) && std::filesystem::exists(files.key_path)) {
    return files;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  Key key(EVP_EC_gen("P-256"));
  if (!key) {
    return sslError("generating an EC P-256 key");
  }
  Cert cert(X509_new());
  if (!cert) {
    return sslError("making a certificate");
  }
  X509_set_version(cert.get(), 2);
  // A random 64-bit serial, so a browser never sees two certificates with one serial.
  ASN1_INTEGER* serial = X509_get_serialNumber(cert.get());
  BIGNUM* bn = BN_new();
  BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(bn, serial);
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  const std::string cn = names.empty() ? std::string("equalis") : names.front();
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Equalis (self-signed)"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& n : names) {
    san += fmt::format(",DNS:{}", n);
  }
  if (!addExtension(cert.get(), NID_subject_alt_name, san) ||
      !addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(cert.get(), NID_ext_key_usage, "serverAuth")) {
    return sslError("adding the certificate's extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return sslError("signing the certificate");
  }
  if (auto st = writePem(files.key_path,
                         [&](std::FILE* f) {
                           return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                                       nullptr) == 1;
                         });
      !st) {
    return st.error();
  }
  if (auto st = writePem(files.certificate_path,
                         [&](std::FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
      !st) {
    return st.error();
  }
  if (created != nullptr) {
    *created = true;
  }
  return files;
}

Result<std::string> certificateFingerprint(const std::string& certificate_path) {
  File f(std::fopen(certificate_path.c_str(), "r"));
  if (!f) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", certificate_path));
  }
  Cert cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} holds no PEM certificate", certificate_path));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
    return sslError("hashing the certificate");
  }
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += fmt::format("{}{:02X}", i == 0 ? "" : ":", md[i]);
  }
  return out;
}

}  // namespace equalis::http
