#include "adapters/http/tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
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
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

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

// "AB:CD:…": the SHA-256 of the certificate's DER form.
Result<std::string> fingerprintOf(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &len) != 1) {
    return sslError("hashing the certificate");
  }
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += fmt::format("{}{:02X}", i == 0 ? "" : ":", md[i]);
  }
  return out;
}

// A read-only memory BIO over `text` (which must outlive it).
Bio memoryBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(std::min<std::size_t>(
                                              text.size(), static_cast<std::size_t>(INT_MAX)))));
}

// What a memory BIO holds.
std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(len))
                                    : std::string();
}

std::string nameText(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    return {};
  }
  return bioText(bio.get());
}

TimeMs timeMs(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return static_cast<TimeMs>(::timegm(&tm)) * 1000;
}

std::vector<std::string> altNames(X509* cert) {
  std::vector<std::string> out;
  const Names names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      const auto* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<std::size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      const auto* s = g->d.iPAddress;
      const int len = ASN1_STRING_length(s);
      std::array<char, INET6_ADDRSTRLEN> buf{};
      if ((len == 4 || len == 16) &&
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf.data(),
                      static_cast<socklen_t>(buf.size())) != nullptr) {
        out.push_back(std::string("IP:") + buf.data());
      }
    }
  }
  return out;
}

// "EC P-256", "RSA 2048", or the algorithm's name.
std::string keyType(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) {
    return fmt::format("RSA {}", EVP_PKEY_get_bits(key));
  }
  if (id == EVP_PKEY_EC) {
    std::array<char, 80> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) != 1) {
      return "EC";
    }
    const std::string curve(group.data(), len);
    if (curve == "prime256v1") {
      return "EC P-256";
    }
    if (curve == "secp384r1") {
      return "EC P-384";
    }
    if (curve == "secp521r1") {
      return "EC P-521";
    }
    return "EC " + curve;
  }
  const char* name = OBJ_nid2sn(id);
  return name != nullptr ? std::string(name) : std::string("unknown");
}

Result<CertificateInfo> describe(X509* cert, std::size_t chain_certificates) {
  CertificateInfo info;
  info.subject = nameText(X509_get_subject_name(cert));
  info.issuer = nameText(X509_get_issuer_name(cert));
  info.names = altNames(cert);
  info.not_before_ms = timeMs(X509_get0_notBefore(cert));
  info.not_after_ms = timeMs(X509_get0_notAfter(cert));
  auto fingerprint = fingerprintOf(cert);
  if (!fingerprint) {
    return fingerprint.error();
  }
  info.fingerprint = *fingerprint;
  if (EVP_PKEY* key = X509_get0_pubkey(cert); key != nullptr) {
    info.key_type = keyType(key);
  }
  info.chain_certificates = chain_certificates;
  return info;
}

// Not valid yet, expired, or expiring within kCertificateWarnDays.
std::vector<std::string> validityWarnings(const CertificateInfo& info, TimeMs now_ms) {
  constexpr TimeMs kDayMs = TimeMs{24} * 3600 * 1000;
  std::vector<std::string> out;
  if (info.not_before_ms > now_ms) {
    out.push_back(
        fmt::format("the certificate is not valid before {}: browsers refuse it until then (is the "
                    "controller's clock right?)",
                    formatIso8601(info.not_before_ms)));
  }
  if (info.not_after_ms <= now_ms) {
    out.push_back(fmt::format("the certificate expired on {}: install a new one",
                              formatIso8601(info.not_after_ms)));
  } else if (info.not_after_ms - now_ms < kCertificateWarnDays * kDayMs) {
    out.push_back(fmt::format("the certificate expires on {}, in {} days: renew it soon",
                              formatIso8601(info.not_after_ms),
                              (info.not_after_ms - now_ms) / kDayMs));
  }
  return out;
}

// An encrypted key would make OpenSSL ask for its passphrase on the terminal: refused instead.
int noPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

struct Parsed {
  std::vector<Cert> chain;  // the server's certificate first
  Key key;
};

// Parses a certificate chain and key and checks that they belong together and that the key is
// strong enough. `install`: an expired certificate is an error, and more is warned about.
Result<CertificateCheck> inspect(std::string_view certificate_pem, std::string_view key_pem,
                                 TimeMs now_ms, bool install, std::string* bad_part) {
  const auto fail = [bad_part](const char* part, std::string message) -> Error {
    if (bad_part != nullptr) {
      *bad_part = part;
    }
    return makeError(ErrorCode::kInvalidArgument, std::move(message));
  };
  if (certificate_pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    return fail("certificate",
                "the certificate holds a private key: send the key separately, as \"key\"");
  }
  Parsed p;
  std::size_t blocks = 0;
  for (auto at = certificate_pem.find("-----BEGIN "); at != std::string_view::npos;
       at = certificate_pem.find("-----BEGIN ", at + 1)) {
    ++blocks;
  }
  {
    Bio bio = memoryBio(certificate_pem);
    while (bio) {
      Cert c(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
      if (!c) {
        break;
      }
      p.chain.push_back(std::move(c));
    }
    ERR_clear_error();
  }
  if (p.chain.empty()) {
    return fail("certificate",
                "the certificate is not a PEM certificate (\"-----BEGIN CERTIFICATE-----\" …)");
  }
  if (p.chain.size() != blocks) {
    return fail("certificate",
                fmt::format("PEM block {} of the certificate is not a valid certificate",
                            p.chain.size() + 1));
  }
  if (key_pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
      key_pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    return fail("key",
                "the key is encrypted with a passphrase: install it unencrypted (openssl pkey "
                "-in key.pem -out plain-key.pem); equalisd starts unattended");
  }
  {
    Bio bio = memoryBio(key_pem);
    p.key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
    ERR_clear_error();
  }
  if (!p.key) {
    return fail("key", "the key is not a PEM private key (\"-----BEGIN PRIVATE KEY-----\" …)");
  }
  const int id = EVP_PKEY_get_base_id(p.key.get());
  if (id == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(p.key.get()) < 2048) {
      return fail("key", fmt::format("the key is RSA of {} bits: at least 2048 are needed",
                                     EVP_PKEY_get_bits(p.key.get())));
    }
  } else if (id != EVP_PKEY_EC) {
    return fail("key", fmt::format("the key is {}: use an EC (P-256, P-384) or RSA (2048 bits or "
                                   "more) key, which every browser accepts",
                                   keyType(p.key.get())));
  }
  X509* leaf = p.chain.front().get();
  const bool matches = X509_check_private_key(leaf, p.key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return fail("key",
                "the key does not belong to the certificate (the first certificate must be the "
                "server's own, the one made for this key)");
  }
  CertificateCheck out;
  auto info = describe(leaf, p.chain.size() - 1);
  if (!info) {
    return info.error();
  }
  out.info = std::move(info.value());
  if (install && out.info.not_after_ms <= now_ms) {
    return fail("certificate",
                fmt::format("the certificate expired on {}", formatIso8601(out.info.not_after_ms)));
  }
  out.warnings = validityWarnings(out.info, now_ms);
  if (install) {
    // Signed by its own key (X509_check_issued would also want it to be allowed to sign
    // certificates, which a server's own self-signed certificate need not be).
    EVP_PKEY* own = X509_get0_pubkey(leaf);
    if (X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0 &&
        own != nullptr && X509_verify(leaf, own) == 1) {
      out.warnings.emplace_back(
          "the certificate is self-signed: browsers warn about it unless it is trusted on "
          "each client");
    }
    for (std::size_t i = 1; i < p.chain.size(); ++i) {
      if (X509_check_issued(p.chain[i].get(), p.chain[i - 1].get()) != X509_V_OK) {
        out.warnings.push_back(fmt::format(
            "certificate {} of the chain did not issue certificate {}: the chain should go "
            "from the server's certificate to the one that issued it, and so on",
            i + 1, i));
      }
    }
  }
  ERR_clear_error();
  Bio cert_out(BIO_new(BIO_s_mem()));
  Bio key_out(BIO_new(BIO_s_mem()));
  if (!cert_out || !key_out) {
    return sslError("encoding the certificate");
  }
  for (const auto& c : p.chain) {
    if (PEM_write_bio_X509(cert_out.get(), c.get()) != 1) {
      return sslError("encoding the certificate");
    }
  }
  if (PEM_write_bio_PrivateKey(key_out.get(), p.key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return sslError("encoding the key");
  }
  out.certificate_pem = bioText(cert_out.get());
  out.key_pem = bioText(key_out.get());
  return out;
}

// A whole (small) file; an error when it cannot be read.
Result<std::string> readSmallFile(const std::string& path) {
  constexpr std::size_t kMaxBytes = std::size_t{1} << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", path));
  }
  std::string text;
  std::array<char, 4096> buf{};
  while (in && text.size() <= kMaxBytes) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (text.size() > kMaxBytes) {
    return makeError(ErrorCode::kInvalidArgument, fmt::format("{} is larger than 1 MiB", path));
  }
  return text;
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
  return fingerprintOf(cert.get());
}

Result<CertificateCheck> checkCertificate(std::string_view certificate_pem,
                                          std::string_view key_pem, TimeMs now_ms,
                                          std::string* bad_part) {
  return inspect(certificate_pem, key_pem, now_ms, true, bad_part);
}

Result<CertificateInfo> readCertificateInfo(const std::string& certificate_path) {
  auto text = readSmallFile(certificate_path);
  if (!text) {
    return text.error();
  }
  Bio bio = memoryBio(*text);
  std::vector<Cert> chain;
  while (bio) {
    Cert c(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
    if (!c) {
      break;
    }
    chain.push_back(std::move(c));
  }
  ERR_clear_error();
  if (chain.empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} holds no PEM certificate", certificate_path));
  }
  return describe(chain.front().get(), chain.size() - 1);
}

const char* certificateSourceName(CertificateSource source) {
  switch (source) {
    case CertificateSource::kConfig:
      return "config";
    case CertificateSource::kInstalled:
      return "installed";
    case CertificateSource::kSelfSigned:
      break;
  }
  return "self-signed";
}

std::string tlsDirectory(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "tls").string();
}

TlsFiles installedCertificateFiles(const std::string& tls_dir) {
  return TlsFiles{tls_dir + "/site-cert.pem", tls_dir + "/site-key.pem"};
}

Result<ChosenCertificate> chooseCertificate(const std::string& tls_dir,
                                            const std::optional<TlsFiles>& configured,
                                            const std::vector<std::string>& names, TimeMs now_ms) {
  ChosenCertificate out;
  if (configured) {
    out.files = *configured;
    out.source = CertificateSource::kConfig;
    auto info = readCertificateInfo(configured->certificate_path);
    if (!info) {
      return info.error();
    }
    out.warnings = validityWarnings(*info, now_ms);
    return out;
  }
  const TlsFiles installed = installedCertificateFiles(tls_dir);
  std::error_code ec;
  if (std::filesystem::exists(installed.certificate_path, ec) ||
      std::filesystem::exists(installed.key_path, ec)) {
    auto cert = readSmallFile(installed.certificate_path);
    auto key = readSmallFile(installed.key_path);
    std::string why;
    if (!cert || !key) {
      why = !cert ? cert.error().message : key.error().message;
    } else if (auto checked = inspect(*cert, *key, now_ms, false, nullptr); !checked) {
      why = checked.error().message;
    } else {
      out.files = installed;
      out.source = CertificateSource::kInstalled;
      out.warnings = std::move(checked->warnings);
      return out;
    }
    out.warnings.push_back(
        fmt::format("the installed certificate {} is not used, the self-signed one is: {}",
                    installed.certificate_path, why));
  }
  auto made = ensureSelfSigned(tls_dir, names, &out.created);
  if (!made) {
    return made.error();
  }
  out.files = *made;
  out.source = CertificateSource::kSelfSigned;
  return out;
}

}  // namespace equalis::http
