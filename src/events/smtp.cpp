#include "events/smtp.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "events/curl_util.hpp"

namespace equalis::events {

namespace {

constexpr std::size_t kEncodedWordMax = 75;  // RFC 2047 §2
constexpr std::size_t kBase64LineChars = 76;
constexpr std::size_t kLineMax = 998;  // RFC 5322 §2.1.1

// Base64 (RFC 4648) written here: a dozen lines are simpler than pulling OpenSSL's BIO chain in.
std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) {
      n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string stripLineBreaks(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c != '\r' && c != '\n') {
      out += c;
    }
  }
  return out;
}

bool printableAscii(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 32 && u < 127;
  });
}

// Length of the UTF-8 sequence starting with lead byte `c` (1 for anything malformed).
std::size_t utf8Length(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) {
    return 4;
  }
  if (c >= 0xE0) {
    return c < 0xF0 ? 3 : 1;
  }
  if (c >= 0xC0) {
    return 2;
  }
  return 1;
}

// Lines of the body with CRLF ends.
std::string crlfLines(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') {
      continue;
    }
    if (body[i] == '\n') {
      out += "\r\n";
    } else {
      out += body[i];
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) {
    out += "\r\n";
  }
  return out;
}

bool sevenBitShortLines(std::string_view body) {
  std::size_t line = 0;
  for (const char c : body) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 128 || u == 0) {
      return false;
    }
    line = c == '\n' ? 0 : line + 1;
    if (line > kLineMax) {
      return false;
    }
  }
  return true;
}

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t readUpload(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* up = static_cast<Upload*>(userdata);
  const std::size_t n = std::min(size * nitems, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

}  // namespace

std::string encodeHeader(std::string_view value) {
  std::string v = stripLineBreaks(value);
  if (printableAscii(v)) {
    return v;
  }
  // "=?UTF-8?B?" + base64 + "?=" ≤ 75 → at most 45 bytes of text per word (60 base64 chars).
  constexpr std::size_t kOverhead = 12;
  constexpr std::size_t kMaxBytes = (kEncodedWordMax - kOverhead) / 4 * 3;
  std::string out;
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t end = i;
    while (end < v.size()) {
      const std::size_t len = utf8Length(static_cast<unsigned char>(v[end]));
      if (end + len - i > kMaxBytes) {
        break;
      }
      end += std::min(len, v.size() - end);
    }
    if (end == i) {
      end = i + 1;  // never stall on a malformed byte
    }
    if (!out.empty()) {
      out += "\r\n ";
    }
    out += "=?UTF-8?B?" + base64(std::string_view(v).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string rfc5322Date(TimeMs t_ms) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t secs = static_cast<std::time_t>(t_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday],
                     tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

std::string newMessageId(std::string_view from, TimeMs now_ms) {
  const std::string addr = model::mailAddress(from);
  const auto at = addr.find('@');
  const std::string domain = at == std::string::npos ? "equalis.invalid" : addr.substr(at + 1);
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mutex;
  std::uint64_t r = 0;
  {
    std::lock_guard lock(mutex);
    r = rng();
  }
  return fmt::format("{}.{:016x}@{}", now_ms, r, domain);
}

std::string formatMail(const MailMessage& m, TimeMs date_ms, std::string_view message_id) {
  std::string to;
  for (const auto& r : m.to) {
    to += (to.empty() ? "" : ", ") + stripLineBreaks(r);
  }
  std::string out;
  out += "Date: " + rfc5322Date(date_ms) + "\r\n";
  out += "From: " + stripLineBreaks(m.from) + "\r\n";
  out += "To: " + to + "\r\n";
  out += "Subject: " + encodeHeader(m.subject) + "\r\n";
  out += fmt::format("Message-ID: <{}>\r\n", stripLineBreaks(message_id));
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "X-Mailer: equalisd\r\n";
  if (sevenBitShortLines(m.body)) {
    out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
    out += crlfLines(m.body);
  } else {
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    const std::string encoded = base64(m.body);
    for (std::size_t i = 0; i < encoded.size(); i += kBase64LineChars) {
      out += encoded.substr(i, kBase64LineChars) + "\r\n";
    }
  }
  return out;
}

Status sendMail(const model::SmtpConfig& cfg, const MailMessage& m,
                const std::atomic<bool>* abort) {
  detail::curlInit();
  detail::CurlPtr curl(curl_easy_init());
  if (!curl) {
    return makeError(ErrorCode::kUnavailable, "cannot initialise libcurl");
  }
  if (m.to.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "no recipients");
  }
  CURL* c = curl.get();
  const TimeMs now = wallNowMs();
  const std::string text = formatMail(m, now, newMessageId(m.from, now));
  Upload upload{text, 0};
  char errbuf[CURL_ERROR_SIZE] = {};
  const std::string from = "<" + model::mailAddress(m.from) + ">";
  curl_slist* rcpt_raw = nullptr;
  for (const auto& r : m.to) {
    rcpt_raw = curl_slist_append(rcpt_raw, ("<" + model::mailAddress(r) + ">").c_str());
  }
  detail::SlistPtr rcpt(rcpt_raw);

  curl_easy_setopt(c, CURLOPT_URL, cfg.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg.timeout_ms));
  if (cfg.url.rfind("smtps://", 0) != 0) {
    const long use_ssl = cfg.starttls == model::StartTls::kRequired        ? CURLUSESSL_ALL
                         : cfg.starttls == model::StartTls::kOpportunistic ? CURLUSESSL_TRY
                                                                           : CURLUSESSL_NONE;
    curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl);
  }
  if (!cfg.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, cfg.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, cfg.password.c_str());
  }
  if (!cfg.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, cfg.ca_file.c_str());
  }
  if (cfg.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &readUpload);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text.size()));
  detail::setAbortFlag(c, abort);

  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    long reply = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
    std::string why = detail::curlErrorText(c, rc, errbuf);
    if (reply >= 400 && rc != CURLE_LOGIN_DENIED) {
      why += fmt::format(", server replied {}", reply);
    }
    return makeError(rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                     why);
  }
  return {};
}

}  // namespace equalis::events
