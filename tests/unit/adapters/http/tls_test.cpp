// HTTPS certificates: the checks a certificate installed over REST passes, which certificate
// equalisd serves at start, the certificate replaced while serving (seen by a real TLS client),
// and the plain-HTTP port that redirects to HTTPS.
#include "adapters/http/tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "adapters/http/checks.hpp"
#include "adapters/http/server.hpp"
#include "functional/temp_dir.hpp"

namespace equalis::http {
namespace {

using namespace std::chrono_literals;

constexpr long kDayS = 24L * 3600;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Cert = std::unique_ptr<X509, CertFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Key ecKey() {
  return Key(EVP_EC_gen("P-256"));
}

Key rsaKey(unsigned bits) {
  return Key(EVP_RSA_gen(bits));
}

std::string keyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bioText(bio.get());
}

std::string certPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bioText(bio.get());
}

// A certificate for `key`, valid from now + `from_s` to now + `to_s`, signed by `issuer_key`
// (itself when null) with `issuer` as the issuer's certificate (itself when null).
Cert makeCert(EVP_PKEY* key, long from_s, long to_s, const std::string& cn,
              EVP_PKEY* issuer_key = nullptr, X509* issuer = nullptr) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer)
                                                     : X509_get_subject_name(cert.get()));
  X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

bool hasWarning(const CertificateCheck& c, const std::string& part) {
  for (const auto& w : c.warnings) {
    if (w.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// checkCertificate

TEST(CertificateCheck, AcceptsAMatchingEcPairAndDescribesIt) {
  test::TempDir dir;
  auto files = ensureSelfSigned(dir.str(), {"bms.example.org"});
  ASSERT_TRUE(files.ok()) << files.error().message;
  const auto cert = readFile(files->certificate_path);
  const auto key = readFile(files->key_path);
  auto checked = checkCertificate("some text before\n" + cert, key, wallNowMs());
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(checked->info.fingerprint, *certificateFingerprint(files->certificate_path));
  EXPECT_EQ(checked->info.key_type, "EC P-256");
  EXPECT_NE(checked->info.subject.find("CN=bms.example.org"), std::string::npos)
      << checked->info.subject;
  EXPECT_EQ(checked->info.subject, checked->info.issuer);
  const auto& names = checked->info.names;
  for (const char* n : {"DNS:localhost", "IP:127.0.0.1", "IP:::1", "DNS:bms.example.org"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_LT(checked->info.not_before_ms, wallNowMs());
  EXPECT_GT(checked->info.not_after_ms, wallNowMs() + 3650LL * kDayS * 1000 - kDayS * 1000 * 3);
  EXPECT_TRUE(hasWarning(*checked, "self-signed"));
  // Re-encoded: the text around the PEM block is gone; the key is PKCS #8.
  EXPECT_EQ(checked->certificate_pem, cert);
  EXPECT_EQ(checked->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0U);
}

TEST(CertificateCheck, RefusesAKeyOfAnotherCertificate) {
  const auto a = ecKey();
  const auto b = ecKey();
  const auto cert = makeCert(a.get(), -60, 90 * kDayS, "a");
  std::string part;
  auto checked = checkCertificate(certPem(cert.get()), keyPem(b.get()), wallNowMs(), &part);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(part, "key");
  EXPECT_NE(checked.error().message.find("does not belong to the certificate"), std::string::npos)
      << checked.error().message;
  EXPECT_TRUE(checkCertificate(certPem(cert.get()), keyPem(a.get()), wallNowMs()).ok());
}

TEST(CertificateCheck, RefusesAnExpiredCertificate) {
  const auto key = ecKey();
  const auto cert = makeCert(key.get(), -400 * kDayS, -kDayS, "old");
  std::string part;
  auto checked = checkCertificate(certPem(cert.get()), keyPem(key.get()), wallNowMs(), &part);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(part, "certificate");
  EXPECT_NE(checked.error().message.find("expired on"), std::string::npos)
      << checked.error().message;
}

TEST(CertificateCheck, WarnsAboutOneNotValidYetOrExpiringSoon) {
  const auto key = ecKey();
  const auto later = makeCert(key.get(), 2 * kDayS, 90 * kDayS, "later");
  auto checked = checkCertificate(certPem(later.get()), keyPem(key.get()), wallNowMs());
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_TRUE(hasWarning(*checked, "not valid before"));
  EXPECT_FALSE(hasWarning(*checked, "expires on"));

  const auto soon = makeCert(key.get(), -60, 10 * kDayS, "soon");
  checked = checkCertificate(certPem(soon.get()), keyPem(key.get()), wallNowMs());
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_TRUE(hasWarning(*checked, "expires on"));
  EXPECT_FALSE(hasWarning(*checked, "not valid before"));

  const auto fine = makeCert(key.get(), -60, 90 * kDayS, "fine");
  checked = checkCertificate(certPem(fine.get()), keyPem(key.get()), wallNowMs());
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_FALSE(hasWarning(*checked, "expires on"));
}

TEST(CertificateCheck, RefusesGarbageAndMisplacedParts) {
  const auto key = ecKey();
  const auto cert = makeCert(key.get(), -60, 90 * kDayS, "x");
  const auto good_cert = certPem(cert.get());
  const auto good_key = keyPem(key.get());
  std::string part;
  const auto now = wallNowMs();

  auto c = checkCertificate("not a certificate", good_key, now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "certificate");
  c = checkCertificate("", good_key, now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "certificate");
  // A damaged second block is not silently dropped.
  c = checkCertificate(good_cert + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                       good_key, now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "certificate");
  EXPECT_NE(c.error().message.find("PEM block 2"), std::string::npos) << c.error().message;
  // The key pasted into the certificate field.
  c = checkCertificate(good_cert + good_key, good_key, now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "certificate");
  EXPECT_NE(c.error().message.find("private key"), std::string::npos);

  c = checkCertificate(
      good_cert, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "key");
  c = checkCertificate(good_cert, good_cert, now, &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "key");
}

TEST(CertificateCheck, RefusesAnEncryptedKey) {
  const auto key = ecKey();
  const auto cert = makeCert(key.get(), -60, 90 * kDayS, "x");
  Bio bio(BIO_new(BIO_s_mem()));
  char pass[] = "passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), pass,
                                          static_cast<int>(sizeof(pass) - 1), nullptr, nullptr),
            1);
  std::string part;
  auto c = checkCertificate(certPem(cert.get()), bioText(bio.get()), wallNowMs(), &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "key");
  EXPECT_NE(c.error().message.find("encrypted"), std::string::npos) << c.error().message;
}

TEST(CertificateCheck, RsaNeedsAtLeast2048Bits) {
  const auto weak = rsaKey(1024);
  const auto weak_cert = makeCert(weak.get(), -60, 90 * kDayS, "weak");
  std::string part;
  auto c = checkCertificate(certPem(weak_cert.get()), keyPem(weak.get()), wallNowMs(), &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "key");
  EXPECT_NE(c.error().message.find("at least 2048"), std::string::npos) << c.error().message;

  const auto strong = rsaKey(2048);
  const auto strong_cert = makeCert(strong.get(), -60, 90 * kDayS, "strong");
  c = checkCertificate(certPem(strong_cert.get()), keyPem(strong.get()), wallNowMs());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->info.key_type, "RSA 2048");
}

TEST(CertificateCheck, ChainServerCertificateFirst) {
  const auto ca_key = ecKey();
  const auto ca = makeCert(ca_key.get(), -60, 900 * kDayS, "Site CA");
  const auto key = ecKey();
  const auto leaf = makeCert(key.get(), -60, 90 * kDayS, "bms", ca_key.get(), ca.get());
  auto c =
      checkCertificate(certPem(leaf.get()) + certPem(ca.get()), keyPem(key.get()), wallNowMs());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->info.chain_certificates, 1U);
  EXPECT_EQ(c->info.issuer, "CN=Site CA");
  EXPECT_FALSE(hasWarning(*c, "self-signed"));
  EXPECT_FALSE(hasWarning(*c, "did not issue"));
  EXPECT_EQ(c->certificate_pem, certPem(leaf.get()) + certPem(ca.get()));
  // The other way round, the key belongs to the second certificate: refused.
  std::string part;
  c = checkCertificate(certPem(ca.get()) + certPem(leaf.get()), keyPem(key.get()), wallNowMs(),
                       &part);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(part, "key");
  // An unrelated certificate after the server's: a warning.
  const auto other_key = ecKey();
  const auto other = makeCert(other_key.get(), -60, 90 * kDayS, "other");
  c = checkCertificate(certPem(leaf.get()) + certPem(other.get()), keyPem(key.get()), wallNowMs());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(hasWarning(*c, "did not issue"));
}

// ---------------------------------------------------------------------------------------------
// chooseCertificate: configured > installed > self-signed

TEST(ChooseCertificate, ConfiguredThenInstalledThenSelfSigned) {
  test::TempDir dir;
  const std::string tls_dir = tlsDirectory(dir.str());
  EXPECT_EQ(tls_dir, dir.str() + "/tls");
  auto chosen = chooseCertificate(tls_dir, std::nullopt, {}, wallNowMs());
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(chosen->source, CertificateSource::kSelfSigned);
  EXPECT_TRUE(chosen->created);
  EXPECT_EQ(chosen->files.certificate_path, tls_dir + "/cert.pem");
  EXPECT_STREQ(certificateSourceName(chosen->source), "self-signed");

  const auto key = ecKey();
  const auto cert = makeCert(key.get(), -60, 10 * kDayS, "installed");
  const auto installed = installedCertificateFiles(tls_dir);
  writeFile(installed.certificate_path, certPem(cert.get()));
  writeFile(installed.key_path, keyPem(key.get()));
  chosen = chooseCertificate(tls_dir, std::nullopt, {}, wallNowMs());
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(chosen->source, CertificateSource::kInstalled);
  EXPECT_EQ(chosen->files.certificate_path, installed.certificate_path);
  EXPECT_EQ(chosen->files.key_path, installed.key_path);
  ASSERT_EQ(chosen->warnings.size(), 1U);  // expires in 10 days
  EXPECT_NE(chosen->warnings[0].find("expires on"), std::string::npos);
  // An installed certificate that expired meanwhile is still served, with a warning.
  chosen = chooseCertificate(tls_dir, std::nullopt, {}, wallNowMs() + 20 * kDayS * 1000);
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(chosen->source, CertificateSource::kInstalled);
  ASSERT_EQ(chosen->warnings.size(), 1U);
  EXPECT_NE(chosen->warnings[0].find("expired on"), std::string::npos);

  const TlsFiles configured{tls_dir + "/cert.pem", tls_dir + "/key.pem"};
  chosen = chooseCertificate(tls_dir, configured, {}, wallNowMs());
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(chosen->source, CertificateSource::kConfig);
  EXPECT_EQ(chosen->files.certificate_path, configured.certificate_path);

  // A pair that does not match (a crash between the two writes) is passed over.
  writeFile(installed.key_path, keyPem(ecKey().get()));
  chosen = chooseCertificate(tls_dir, std::nullopt, {}, wallNowMs());
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(chosen->source, CertificateSource::kSelfSigned);
  EXPECT_FALSE(chosen->created);
  ASSERT_EQ(chosen->warnings.size(), 1U);
  EXPECT_NE(chosen->warnings[0].find("is not used"), std::string::npos) << chosen->warnings[0];

  // A configured file that cannot be read is an error (the daemon does not start).
  EXPECT_FALSE(chooseCertificate(tls_dir,
                                 TlsFiles{dir.str() + "/none.pem", dir.str() + "/none-key.pem"}, {},
                                 wallNowMs())
                   .ok());
}

// ---------------------------------------------------------------------------------------------
// The redirect's Location

TEST(HttpsRedirectLocation, KeepsTheHostDropsItsPortAndKeepsTheTarget) {
  EXPECT_EQ(httpsRedirectLocation("bms.example.org", "/api/v1/status?x=1", 8443),
            "https://bms.example.org:8443/api/v1/status?x=1");
  EXPECT_EQ(httpsRedirectLocation("BMS.example.org:80", "/", 443), "https://bms.example.org/");
  EXPECT_EQ(httpsRedirectLocation("10.0.0.5:8080", "/a", 8443), "https://10.0.0.5:8443/a");
  EXPECT_EQ(httpsRedirectLocation("[::1]:80", "/a", 8443), "https://[::1]:8443/a");
  EXPECT_EQ(httpsRedirectLocation("[fe80::1]", "/a", 443), "https://[fe80::1]/a");
  for (const char* bad : {"", ":80", "evil.org:80x", "a b", "a/b", "user@host", "[::1", "::1",
                          "[not-ip]:80", "host:", "x\"y"}) {
    EXPECT_EQ(httpsRedirectLocation(bad, "/", 8443), "") << bad;
  }
  EXPECT_EQ(httpsRedirectLocation("host", "*", 8443), "");
  EXPECT_EQ(httpsRedirectLocation("host", "http://other/", 8443), "");
  EXPECT_EQ(httpsRedirectLocation("host", "/", 0), "");
}

// ---------------------------------------------------------------------------------------------
// The server: a certificate replaced while serving; the redirect listener

int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// A TLS client (OpenSSL) on a blocking loopback socket, verifying nothing: the tests compare
// the certificate's fingerprint.
class TlsClient {
 public:
  explicit TlsClient(int port) : ctx_(SSL_CTX_new(TLS_client_method())), fd_(connectTo(port)) {
    if (ctx_ == nullptr || fd_ < 0) {
      return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    if (fd_ >= 0) {
      ::close(fd_);
    }
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ok_; }
  // "AB:CD:…" of the certificate the server sent.
  std::string fingerprint() const {
    Cert peer(SSL_get1_peer_certificate(ssl_));
    if (!peer) {
      return {};
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    X509_digest(peer.get(), EVP_sha256(), md.data(), &len);
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%02X", md[i]);
      out += (i == 0 ? "" : ":") + std::string(hex);
    }
    return out;
  }
  // One request on the connection; the response's first line.
  std::string get(const std::string& path) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) {
      return {};
    }
    std::string buf;
    std::array<char, 4096> chunk{};
    while (buf.find("\r\n\r\n") == std::string::npos) {
      const int n = SSL_read(ssl_, chunk.data(), static_cast<int>(chunk.size()));
      if (n <= 0) {
        break;
      }
      buf.append(chunk.data(), static_cast<std::size_t>(n));
    }
    return buf.substr(0, buf.find("\r\n"));
  }

 private:
  SSL_CTX* ctx_;
  int fd_;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

// Sends `request` on a plain connection and returns everything until the peer closes or 2 s.
std::string plainExchange(int port, const std::string& request, bool* closed = nullptr) {
  const int fd = connectTo(port);
  if (fd < 0) {
    return {};
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  const auto end = std::chrono::steady_clock::now() + 2s;
  bool eof = false;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) {
      continue;
    }
    std::array<char, 4096> chunk{};
    const auto n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      eof = true;
      break;
    }
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (closed != nullptr) {
    *closed = eof;
  }
  return out;
}

class TlsServerTest : public ::testing::Test {
 protected:
  void start(bool tls) {
    router_.get("/hello",
                [](const Request&, Response& res) { res.setContent("hi", "text/plain"); });
    router_.post(
        "/echo", [](const Request& req, Response& res) { res.setContent(req.body, "text/plain"); },
        RouteOptions{});
    server_ = std::make_unique<Server>(router_, Limits{}, Gate{});
    auto a = ensureSelfSigned(dir_a_.str(), {"a.example.org"});
    ASSERT_TRUE(a.ok()) << a.error().message;
    files_a_ = *a;
    auto port = server_->listen("127.0.0.1", 0, tls ? std::optional(files_a_) : std::nullopt);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }
  void run() {
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
  }

  test::TempDir dir_a_;
  test::TempDir dir_b_;
  TlsFiles files_a_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(TlsServerTest, NewConnectionsGetTheNewCertificateOpenOnesKeepTheirs) {
  start(true);
  run();
  ASSERT_TRUE(server_->tls());
  const auto fp_a = *certificateFingerprint(files_a_.certificate_path);
  auto b = ensureSelfSigned(dir_b_.str(), {"b.example.org"});
  ASSERT_TRUE(b.ok()) << b.error().message;
  const auto fp_b = *certificateFingerprint(b->certificate_path);
  ASSERT_NE(fp_a, fp_b);

  TlsClient before(port_);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.fingerprint(), fp_a);
  EXPECT_EQ(before.get("/hello"), "HTTP/1.1 200 OK");

  ASSERT_TRUE(server_->useCertificate(*b).ok());
  TlsClient after(port_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.fingerprint(), fp_b);
  EXPECT_EQ(after.get("/hello"), "HTTP/1.1 200 OK");
  // The connection opened before goes on with its certificate.
  EXPECT_EQ(before.get("/hello"), "HTTP/1.1 200 OK");
  EXPECT_EQ(before.fingerprint(), fp_a);

  // A certificate that does not load changes nothing.
  const TlsFiles broken{dir_b_.str() + "/missing.pem", b->key_path};
  EXPECT_FALSE(server_->useCertificate(broken).ok());
  const TlsFiles mismatched{files_a_.certificate_path, b->key_path};
  EXPECT_FALSE(server_->useCertificate(mismatched).ok());
  TlsClient still(port_);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still.fingerprint(), fp_b);

  // And back again.
  ASSERT_TRUE(server_->useCertificate(files_a_).ok());
  TlsClient again(port_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.fingerprint(), fp_a);
}

TEST_F(TlsServerTest, PlainServerHasNoCertificateToReplace) {
  start(false);
  EXPECT_FALSE(server_->tls());
  auto st = server_->useCertificate(files_a_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("plain HTTP"), std::string::npos);
}

TEST_F(TlsServerTest, RedirectListenerAnswers308WithoutReadingTheBody) {
  start(true);
  auto redirect = server_->listenRedirect("127.0.0.1", 0, 8443);
  ASSERT_TRUE(redirect.ok()) << redirect.error().message;
  ASSERT_NE(*redirect, port_);
  run();
  const int rport = *redirect;

  auto r = plainExchange(rport, "GET /api/v1/status?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" +
                                    std::to_string(rport) + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 308 Permanent Redirect\r\n", 0), 0U) << r;
  EXPECT_NE(r.find("\r\nLocation: https://127.0.0.1:8443/api/v1/status?x=1\r\n"), std::string::npos)
      << r;
  EXPECT_EQ(r.find("Strict-Transport-Security"), std::string::npos) << r;

  // A route that exists on the main port is not served here either.
  r = plainExchange(rport,
                    "GET /hello HTTP/1.1\r\nHost: bms.example.org\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("\r\nLocation: https://bms.example.org:8443/hello\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.find("\r\n\r\nhi"), std::string::npos) << r;

  // A write with a body: redirected at once, the body never read, the connection closed.
  bool closed = false;
  r = plainExchange(rport,
                    "POST /echo HTTP/1.1\r\nHost: 10.1.2.3\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n{",
                    &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 308", 0), 0U) << r;
  EXPECT_NE(r.find("\r\nLocation: https://10.1.2.3:8443/echo\r\n"), std::string::npos) << r;
  EXPECT_TRUE(closed);

  // No Host, or a malformed one: 400.
  r = plainExchange(rport, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0U) << r;
  r = plainExchange(rport, "GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0U) << r;

  // The HTTPS port still serves.
  TlsClient client(port_);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client.get("/hello"), "HTTP/1.1 200 OK");
}

TEST_F(TlsServerTest, RedirectPortInUseFailsWithAClearMessage) {
  start(true);
  auto redirect = server_->listenRedirect("127.0.0.1", port_, 8443);
  ASSERT_FALSE(redirect.ok());
  EXPECT_NE(redirect.error().message.find("in use"), std::string::npos) << redirect.error().message;
}

}  // namespace
}  // namespace equalis::http
