#include "events/curl_util.hpp"

#include <cctype>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace equalis::events::detail {

void curlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

int xferInfo(void* clientp, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
             curl_off_t /*ulnow*/) {
  const auto* abort = static_cast<const std::atomic<bool>*>(clientp);
  return abort != nullptr && abort->load() ? 1 : 0;
}

std::string lowerFirst(std::string s) {
  if (!s.empty() && std::isupper(static_cast<unsigned char>(s[0])) != 0 &&
      (s.size() < 2 || std::islower(static_cast<unsigned char>(s[1])) != 0)) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

}  // namespace

void setAbortFlag(CURL* c, const std::atomic<bool>* abort) {
  if (abort == nullptr) {
    return;
  }
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &xferInfo);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(abort));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

std::string curlErrorText(CURL* curl, CURLcode code, const char* errbuf) {
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return lowerFirst(std::strerror(static_cast<int>(os_errno)));  // "connection refused"
  }
  std::string text;
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      text = "connection refused or host unreachable";
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
      text = "cannot resolve host";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      text = "timed out";
      break;
    case CURLE_LOGIN_DENIED:
      text = "login denied (wrong username or password)";
      break;
    case CURLE_USE_SSL_FAILED:
      text = "STARTTLS required but the server does not offer it";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      text = "server certificate not trusted (set ca_file, or insecure = true for a test server)";
      break;
    case CURLE_SSL_CONNECT_ERROR:
      text = "TLS handshake failed";
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      text = "aborted (shutting down)";
      break;
    case CURLE_SSL_CACERT_BADFILE:
      text = "cannot read the CA file";
      break;
    default:
      text = lowerFirst(curl_easy_strerror(code));
      break;
  }
  std::string detail = errbuf != nullptr ? std::string(errbuf) : std::string();
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) {
    detail.pop_back();
  }
  if (!detail.empty() && detail != text) {
    return fmt::format("{} ({})", text, detail);
  }
  return text;
}

}  // namespace equalis::events::detail
