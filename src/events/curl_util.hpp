// Internal to the events library: libcurl set-up shared by the SMTP and webhook notifiers.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <string>

namespace equalis::events::detail {

// curl_global_init once per process (thread-safe).
void curlInit();

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Aborts a transfer when *abort becomes true (CURLOPT_XFERINFOFUNCTION).
void setAbortFlag(CURL* c, const std::atomic<bool>* abort);

// "connection refused", "login denied (wrong username or password)", "timed out (…)": the
// system error of a failed connect, else a short text for the code and curl's error buffer
// when that says more.
std::string curlErrorText(CURL* curl, CURLcode code, const char* errbuf);

}  // namespace equalis::events::detail
