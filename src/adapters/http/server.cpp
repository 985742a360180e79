#include "adapters/http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "adapters/http/checks.hpp"
#include "core/log.hpp"

namespace equalis::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Ms = std::chrono::milliseconds;

constexpr std::size_t kPipeBytes =
    std::size_t{1024} * 1024;  // a streamed body buffered ahead of the client

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// The REST error shape (docs/api.md) for errors the server answers itself.
Response errorResponse(int status, std::string_view code, std::string_view message) {
  Response res;
  res.status = status;
  res.setHeader("Cache-Control", "no-store");
  res.setContent(
      fmt::format(R"({{"error":{{"status":{},"code":{},"parameter":null,"message":{}}}}})", status,
                  jsonString(code), jsonString(message)),
      "application/json");
  return res;
}

std::string statusLine(int status) {
  const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return fmt::format("HTTP/1.1 {} {}\r\n", status, std::string_view(reason.data(), reason.size()));
}

// The response header; `length` empty = chunked.
std::string buildHeader(const Response& res, std::optional<std::size_t> length, bool keep_alive) {
  std::string h = statusLine(res.status);
  h += "Content-Type: " + res.content_type + "\r\n";
  if (length) {
    h += fmt::format("Content-Length: {}\r\n", *length);
  } else {
    h += "Transfer-Encoding: chunked\r\n";
  }
  h += keep_alive ? "" : "Connection: close\r\n";
  for (const auto& x : res.headers) {
    if (x.name.find_first_of("\r\n:") != std::string::npos ||
        x.value.find_first_of("\r\n") != std::string::npos) {
      continue;  // never let a value split the header
    }
    h += x.name + ": " + x.value + "\r\n";
  }
  h += "\r\n";
  return h;
}

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void deliver(StateEvent message) = 0;
};

class Hub final : public EventHub {
 public:
  void publishState(StateEvent state) override {
    {
      const std::lock_guard lock(mutex_);
      latest_ = state;
    }
    send(state);
  }
  void publishComment(std::shared_ptr<const std::string> comment) override {
    send(StateEvent{0, std::move(comment), nullptr});
  }
  std::size_t clients() const override { return count_.load(); }

  // The newest state for a new subscriber (its full form only: it holds nothing yet).
  StateEvent subscribe(std::weak_ptr<Subscriber> s) {
    const std::lock_guard lock(mutex_);
    subscribers_.push_back(std::move(s));
    return StateEvent{latest_.seq, latest_.full, nullptr};
  }
  void subscribed() { ++count_; }
  // The last subscriber gone: the newest state is no longer kept, so that the next viewer
  // never gets an old state as its first.
  // Viewers that have gone are forgotten at once: a weak_ptr left behind would keep the memory
  // of its connection (allocated with its control block) until the next publish.
  void unsubscribed() {
    const bool last = --count_ == 0;
    const std::lock_guard lock(mutex_);
    std::erase_if(subscribers_, [](const std::weak_ptr<Subscriber>& w) { return w.expired(); });
    if (last) {
      latest_ = {};
    }
  }

 private:
  void send(const StateEvent& message) {
    std::vector<std::shared_ptr<Subscriber>> live;
    {
      const std::lock_guard lock(mutex_);
      live.reserve(subscribers_.size());
      std::erase_if(subscribers_, [&live](const std::weak_ptr<Subscriber>& w) {
        auto s = w.lock();
        if (!s) {
          return true;  // a viewer that has gone
        }
        live.push_back(std::move(s));
        return false;
      });
    }
    for (auto& s : live) {
      s->deliver(message);
    }
  }

  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<Subscriber>> subscribers_;
  StateEvent latest_;
  std::atomic<std::size_t> count_{0};
};

// A streamed body between the worker producing it and the connection's strand writing it.
struct Pipe {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> queue;
  std::size_t bytes = 0;
  bool writing = false;
  bool dead = false;
  bool last_queued = false;
};

}  // namespace

struct Server::Impl {
  Impl(const Router& r, Limits l, Gate g)
      : router(r),
        limits(l),
        gate(std::move(g)),
        ioc(static_cast<int>(l.io_threads)),
        workers(l.workers) {}

  // An acceptor: the main one, or the plain-HTTP one that only redirects to HTTPS.
  struct Listener {
    explicit Listener(net::io_context& ioc) : acceptor(ioc), retry(ioc) {}
    tcp::acceptor acceptor;
    net::steady_timer retry;  // after an accept error
    int redirect_port = 0;    // the HTTPS port redirected to; 0: serves the routes
  };

  const Router& router;
  Limits limits;
  Gate gate;
  // The TLS context new connections start with (null: plain HTTP). Each connection holds its
  // own reference, so a replaced context lives until the last connection using it ends.
  mutable std::mutex tls_mutex;
  std::shared_ptr<ssl::context> tls;
  std::atomic<bool> tls_on{false};
  // Declared before the I/O context: sessions still queued in it when it is destroyed use the
  // hub and the counters.
  Hub hub;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> slow_in_flight{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> busy{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::mutex clients_mutex;
  std::unordered_map<std::string, std::size_t> per_client;
  net::io_context ioc;
  net::thread_pool workers;
  Listener primary{ioc};
  Listener redirector{ioc};

  std::shared_ptr<ssl::context> tlsContext() const {
    const std::lock_guard lock(tls_mutex);
    return tls;
  }

  // Counts a new connection from `addr`; false when a limit refuses it.
  bool admit(const std::string& addr) {
    if (connections.load() >= limits.max_connections) {
      return false;
    }
    const std::lock_guard lock(clients_mutex);
    auto& n = per_client[addr];
    if (!isLoopback(addr) && n >= limits.max_connections_per_client) {
      return false;
    }
    ++n;
    ++connections;
    return true;
  }
  void release(const std::string& addr) {
    const std::lock_guard lock(clients_mutex);
    auto it = per_client.find(addr);
    if (it != per_client.end() && --it->second == 0) {
      per_client.erase(it);
    }
    --connections;
  }

  void accept(Listener& l);
  template <class Stream>
  void startSession(std::string addr, tcp::socket socket, std::shared_ptr<ssl::context> context,
                    int redirect_port);
};

namespace {

template <class Stream>
class Session final : public Subscriber, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(Server::Impl& sh, std::string addr, tcp::socket socket,
          std::shared_ptr<ssl::context> context, int redirect_port)
      : sh_(sh),
        addr_(std::move(addr)),
        context_(std::move(context)),
        redirect_port_(redirect_port),
        stream_(makeStream(std::move(socket), context_.get())) {}
  ~Session() override {
    if (subscribed_) {
      sh_.hub.unsubscribed();
    }
    sh_.release(addr_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void deliver(StateEvent message) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), message = std::move(message)]() mutable {
                if (message.seq == 0 && self->pending_event_.full) {
                  return;  // a keep-alive never replaces a state waiting to be written
                }
                self->pending_event_ = std::move(message);
                if (!self->writing_ && !self->closed_) {
                  self->writeEvent();
                }
              });
  }

 private:
  static Stream makeStream(tcp::socket socket, ssl::context* context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void begin() {
    if constexpr (kTls) {
      lowest().expires_after(Ms(sh_.limits.header_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  return;  // not TLS, or a client that went away
                                }
                                self->readHeader();
                              });
    } else {
      readHeader();
    }
  }

  void readHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(sh_.limits.header_bytes));
    // No limit while the header is read (Beast would check Content-Length against it and
    // fail the header): the route's limit is set once the route is known.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest().expires_after(Ms(sh_.limits.header_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->onHeader(ec);
                             });
  }

  void refuse(int status, std::string_view code, std::string_view message) {
    close_after_ = true;
    send(errorResponse(status, code, message));
  }

  void onHeader(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      ++sh_.timeouts;
      return;
    }
    if (ec == bhttp::error::header_limit) {
      return refuse(
          431, "header_too_large",
          fmt::format("the request header is larger than {} bytes", sh_.limits.header_bytes));
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        ec == ssl::error::stream_truncated) {
      return;
    }
    if (ec) {
      return refuse(400, "bad_request", "malformed request: " + ec.message());
    }
    auto& msg = parser_->get();
    req_ = Request{};
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    req_.remote_addr = addr_;
    req_.tls = kTls;
    for (const auto& f : msg) {
      req_.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    const auto length = parser_->content_length();
    const bool has_body = parser_->chunked() || (length && *length > 0);
    close_after_ = false;
    if (redirect_port_ != 0) {
      return redirect(has_body);
    }

    if (const auto why = decodeTarget(req_); !why.empty()) {
      return refuse(400, "bad_request", why);
    }
    if (req_.method == "OPTIONS") {
      return refuse(405, "method_not_allowed",
                    "OPTIONS is not served: this server does not allow cross-origin requests");
    }
    auto match = sh_.router.find(req_.method, req_.path);
    if (match.route == nullptr) {
      if (match.other_method) {
        Response res = errorResponse(405, "method_not_allowed",
                                     fmt::format("{} is not allowed here; use {}",
                                                 escapeForLog(req_.method, 20), match.allowed));
        res.setHeader("Allow", match.allowed);
        close_after_ = has_body;
        return send(std::move(res));
      }
      close_after_ = has_body;
      return send(errorResponse(404, "not_found",
                                fmt::format("no such endpoint: {}", escapeForLog(req_.path))));
    }
    route_ = match.route;
    req_.matches = std::move(match.matches);
    Response gate_res;
    if (sh_.gate && !sh_.gate(req_, route_->options, gate_res)) {
      close_after_ = has_body;
      return send(std::move(gate_res));
    }
    if (!has_body) {
      return dispatch();
    }
    const std::size_t limit = route_->options.body_limit_bytes;
    if (length && *length > limit) {
      return refuse(413, "body_too_large",
                    fmt::format("the request body is larger than {} bytes", limit));
    }
    parser_->body_limit(limit);
    lowest().expires_after(Ms(sh_.limits.body_timeout_ms));
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      interim_ = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(interim_),
                       [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                         if (!e) {
                           self->readBody();
                         }
                       });
      return;
    }
    readBody();
  }

  // The redirect listener: the same target over HTTPS. A body is never read (the connection
  // closes after the answer when there is one).
  void redirect(bool has_body) {
    ++sh_.requests;
    close_after_ = has_body;
    const auto location = httpsRedirectLocation(req_.header("Host"), req_.target, redirect_port_);
    if (location.empty()) {
      return refuse(400, "bad_request",
                    "cannot redirect to HTTPS: the request needs a Host header with a host name "
                    "or IP address, and a path");
    }
    Response res;
    res.status = 308;
    res.setHeader("Location", location);
    // Browsers keep a permanent redirect; an hour lets a changed port or HTTPS turned off reach
    // them again.
    res.setHeader("Cache-Control", "max-age=3600");
    res.setContent(fmt::format("This controller is served over HTTPS: {}\n", location),
                   "text/plain; charset=utf-8");
    send(std::move(res));
  }

  void readBody() {
    lowest().expires_after(Ms(sh_.limits.body_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec == bhttp::error::body_limit) {
                          return self->refuse(
                              413, "body_too_large",
                              fmt::format("the request body is larger than {} bytes",
                                          self->route_->options.body_limit_bytes));
                        }
                        if (ec) {
                          if (ec == beast::error::timeout) {
                            ++self->sh_.timeouts;
                          }
                          return;
                        }
                        self->req_.body = std::move(self->parser_->get().body());
                        self->dispatch();
                      });
  }

  void runHandler(Response& res) {
    try {
      route_->handler(req_, res);
    } catch (const std::exception& e) {
      log::get("http")->error("{} {}: {}", req_.method, escapeForLog(req_.path), e.what());
      res = errorResponse(500, "internal", e.what());
    }
  }

  void dispatch() {
    ++sh_.requests;
    if (!route_->options.slow) {
      Response res;
      runHandler(res);
      return send(std::move(res));
    }
    if (sh_.slow_in_flight.load() >= sh_.limits.max_queued_slow + sh_.limits.workers) {
      ++sh_.busy;
      Response res = errorResponse(503, "busy", "the server is busy; try again shortly");
      res.setHeader("Retry-After", "2");
      return send(std::move(res));
    }
    ++sh_.slow_in_flight;
    net::post(sh_.workers, [self = this->shared_from_this()] {
      Response res;
      self->runHandler(res);
      --self->sh_.slow_in_flight;
      if (res.stream) {
        return self->produce(std::move(res));
      }
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }

  void send(Response res) {
    addSecurityHeaders(res, kTls && sh_.limits.hsts);
    if (res.event_stream) {
      return startEvents(std::move(res));
    }
    if (res.stream) {
      net::post(sh_.workers, [self = this->shared_from_this(), res = std::move(res)]() mutable {
        self->produce(std::move(res));
      });
      return;
    }
    const bool keep = keep_alive_ && !close_after_;
    res_ = std::move(res);
    header_ = buildHeader(res_, res_.bodySize(), keep);
    const std::array<net::const_buffer, 2> bufs{
        net::buffer(header_),
        head_ ? net::const_buffer() : net::buffer(res_.bodyView().data(), res_.bodyView().size())};
    lowest().expires_after(Ms(sh_.limits.write_timeout_ms));
    gatherWrite(bufs, [self = this->shared_from_this(), keep](beast::error_code ec, std::size_t) {
      self->res_ = Response{};
      if (ec) {
        return;
      }
      if (keep) {
        return self->readHeader();
      }
      self->shutdown();
    });
  }

  // Writes a buffer sequence completely. Over TLS it is copied into one buffer first: with Boost
  // 1.81, net::async_write of a multi-buffer sequence on beast::ssl_stream completes after the
  // first buffer when the sequence exceeds the 16 kB that flat_stream coalesces — the client got
  // a header and no body (tls_test.py, responses above 16 kB). The copy costs far less than the
  // encryption of the same bytes.
  template <class Buffers, class Handler>
  void gatherWrite(const Buffers& bufs, Handler&& handler) {
    if constexpr (kTls) {
      tls_out_.resize(net::buffer_size(bufs));
      net::buffer_copy(net::buffer(tls_out_), bufs);
      net::async_write(stream_, net::buffer(tls_out_),
                       [self = this->shared_from_this(), h = std::forward<Handler>(handler)](
                           beast::error_code ec, std::size_t n) mutable {
                         self->tls_out_.clear();
                         h(ec, n);
                       });
    } else {
      net::async_write(stream_, bufs, std::forward<Handler>(handler));
    }
  }

  void shutdown() {
    if constexpr (kTls) {
      lowest().expires_after(Ms(2000));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // A streamed body, on a worker thread: chunks go through a bounded pipe to the strand.
  void produce(const Response& res) {
    auto pipe = std::make_shared<Pipe>();
    push(pipe, buildHeader(res, std::nullopt, false), false);
    const ChunkSink sink = [this, &pipe](std::string_view data) {
      if (data.empty()) {
        const std::lock_guard lock(pipe->mutex);
        return !pipe->dead;
      }
      std::string frame = fmt::format("{:x}\r\n", data.size());
      frame.append(data);
      frame += "\r\n";
      return push(pipe, std::move(frame), false);
    };
    try {
      res.stream(sink);
    } catch (const std::exception& e) {
      log::get("http")->error("{} {}: {}", req_.method, escapeForLog(req_.path), e.what());
    }
    push(pipe, "0\r\n\r\n", true);
  }

  bool push(const std::shared_ptr<Pipe>& pipe, std::string data, bool last) {
    std::unique_lock lock(pipe->mutex);
    pipe->cv.wait(lock, [&] { return pipe->dead || pipe->bytes < kPipeBytes; });
    if (pipe->dead) {
      return false;
    }
    pipe->bytes += data.size();
    pipe->queue.push_back(std::move(data));
    pipe->last_queued = pipe->last_queued || last;
    if (!pipe->writing) {
      pipe->writing = true;
      net::post(stream_.get_executor(),
                [self = this->shared_from_this(), pipe] { self->pipeWrite(pipe); });
    }
    return true;
  }

  void pipeWrite(const std::shared_ptr<Pipe>& pipe) {
    const std::string* front = nullptr;
    {
      const std::lock_guard lock(pipe->mutex);
      front = &pipe->queue.front();  // deque references survive push_back
    }
    lowest().expires_after(Ms(sh_.limits.write_timeout_ms));
    net::async_write(stream_, net::buffer(*front),
                     [self = this->shared_from_this(), pipe](beast::error_code ec, std::size_t) {
                       std::unique_lock lock(pipe->mutex);
                       if (ec) {
                         pipe->dead = true;
                         pipe->cv.notify_all();
                         return;
                       }
                       pipe->bytes -= pipe->queue.front().size();
                       pipe->queue.pop_front();
                       pipe->cv.notify_all();
                       if (!pipe->queue.empty()) {
                         lock.unlock();
                         return self->pipeWrite(pipe);
                       }
                       pipe->writing = false;
                       if (pipe->last_queued) {
                         lock.unlock();
                         self->shutdown();
                       }
                     });
  }

  // Live updates: the header, then each event the hub delivers as one chunk (the same bytes
  // for every subscriber); a client still busy with one event gets only the newest next.
  void startEvents(Response res) {
    if (sh_.hub.clients() >= sh_.limits.max_event_clients) {
      close_after_ = true;
      return send(errorResponse(503, "busy", "too many live-update clients"));
    }
    res.content_type = "text/event-stream";
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("X-Accel-Buffering", "no");
    prefix_ = buildHeader(res, std::nullopt, false);
    const std::string_view hello = "retry: 2000\n\n";
    prefix_ += fmt::format("{:x}\r\n{}\r\n", hello.size(), hello);
    subscribed_ = true;
    sh_.hub.subscribed();
    if (auto latest = sh_.hub.subscribe(this->weak_from_this()); latest.full) {
      pending_event_ = std::move(latest);
    }
    // A live-update client sends nothing more: readable means it closed (or misbehaves).
    lowest().expires_never();
    watchClose();
    writeEvent();
  }

  // Waits until the client's side of an event stream closes. Readiness can be reported without
  // anything to read, so it is checked with a non-blocking peek.
  void watchClose() {
    lowest().socket().async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
          if (!ec && !self->closed_) {
            char byte = 0;
            const auto n =
                ::recv(self->lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
              return self->watchClose();
            }
          }
          self->closed_ = true;
          beast::error_code ignored;
          self->lowest().socket().close(ignored);
        });
  }

  void writeEvent() {
    if (closed_ || (!pending_event_.full && prefix_.empty())) {
      writing_ = false;
      return;
    }
    writing_ = true;
    // The changes when this client holds the state just before, else the whole state.
    if (pending_event_.seq != 0) {
      const bool follows =
          pending_event_.delta && written_seq_ != 0 && pending_event_.seq == written_seq_ + 1;
      current_event_ = follows ? pending_event_.delta : pending_event_.full;
      written_seq_ = pending_event_.seq;
    } else {
      current_event_ = pending_event_.full;
    }
    pending_event_ = {};
    const std::string_view body = current_event_ ? std::string_view(*current_event_) : "";
    size_line_ = body.empty() ? std::string() : fmt::format("{:x}\r\n", body.size());
    const std::array<net::const_buffer, 4> bufs{
        net::buffer(prefix_), net::buffer(size_line_), net::buffer(body.data(), body.size()),
        body.empty() ? net::const_buffer() : net::buffer("\r\n", 2)};
    lowest().expires_after(Ms(sh_.limits.write_timeout_ms));
    gatherWrite(bufs, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->prefix_.clear();
      self->current_event_.reset();
      if (ec) {
        self->closed_ = true;
        beast::error_code ignored;
        self->lowest().socket().close(ignored);
        return;
      }
      self->writeEvent();
    });
  }

  Server::Impl& sh_;
  std::string addr_;
  std::shared_ptr<ssl::context> context_;  // TLS: the context this connection began with
  int redirect_port_ = 0;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const Route* route_ = nullptr;
  Request req_;
  Response res_;
  std::string header_;
  std::string interim_;
  std::string tls_out_;  // gatherWrite's copy over TLS
  bool keep_alive_ = false;
  bool close_after_ = false;
  bool head_ = false;
  // Live updates.
  bool subscribed_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::string prefix_;
  std::string size_line_;
  StateEvent pending_event_;
  std::uint64_t written_seq_ = 0;  // the state this client holds (0: none yet)
  std::shared_ptr<const std::string> current_event_;
};

}  // namespace

template <class Stream>
void Server::Impl::startSession(std::string addr, tcp::socket socket,
                                std::shared_ptr<ssl::context> context, int redirect_port) {
  std::make_shared<Session<Stream>>(*this, std::move(addr), std::move(socket), std::move(context),
                                    redirect_port)
      ->start();
}

void Server::Impl::accept(Listener& l) {
  l.acceptor.async_accept(net::make_strand(ioc),
                          [this, &l](beast::error_code ec, tcp::socket socket) {
                            if (ec == net::error::operation_aborted || !l.acceptor.is_open()) {
                              return;
                            }
                            if (ec) {
                              // Out of file descriptors and the like: try again shortly instead of
                              // spinning.
                              log::get("http")->warn("accept: {}", ec.message());
                              l.retry.expires_after(Ms(100));
                              l.retry.async_wait([this, &l](beast::error_code e) {
                                if (!e) {
                                  accept(l);
                                }
                              });
                              return;
                            }
                            beast::error_code e;
                            const auto remote = socket.remote_endpoint(e);
                            std::string addr = e ? std::string("?") : remote.address().to_string();
                            if (!admit(addr)) {
                              ++refused;
                              socket.close(e);
                            } else {
                              socket.set_option(tcp::no_delay(true), e);
                              auto context = l.redirect_port == 0 ? tlsContext() : nullptr;
                              if (context) {
                                startSession<beast::ssl_stream<beast::tcp_stream>>(
                                    std::move(addr), std::move(socket), std::move(context), 0);
                              } else {
                                startSession<beast::tcp_stream>(std::move(addr), std::move(socket),
                                                                nullptr, l.redirect_port);
                              }
                            }
                            accept(l);
                          });
}

namespace {

// A TLS 1.2+ server context with the certificate chain and key of `tls`.
Result<std::shared_ptr<ssl::context>> makeTlsContext(const TlsFiles& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  beast::error_code ec;
  // An encrypted key must fail here, not make OpenSSL ask for a passphrase on the terminal.
  ctx->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); }, ec);
  ctx->use_certificate_chain_file(tls.certificate_path, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("TLS certificate {}: {}", tls.certificate_path, ec.message()));
  }
  ctx->use_private_key_file(tls.key_path, ssl::context::pem, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("TLS key {}: {}", tls.key_path, ec.message()));
  }
  return ctx;
}

// Opens, binds and listens: SO_REUSEADDR (a restart may bind while old connections linger in
// TIME_WAIT) but never SO_REUSEPORT, so a second daemon on the same port fails here.
Result<int> bindAcceptor(tcp::acceptor& acceptor, const std::string& host, int port) {
  const std::string where = fmt::format("{}:{}", host, port);
  beast::error_code ec;
  const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("cannot listen on {}: '{}' is not an IP address", where, host));
  }
  const tcp::endpoint ep(address, static_cast<unsigned short>(port));
  acceptor.open(ep.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(ep, ec);
  }
  if (!ec) {
    acceptor.listen(1024, ec);
  }
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return makeError(ErrorCode::kIo, fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  return static_cast<int>(acceptor.local_endpoint().port());
}

}  // namespace

Server::Server(const Router& router, Limits limits, Gate gate)
    : impl_(std::make_unique<Impl>(router, limits, std::move(gate))) {}

Server::~Server() {
  try {
    stop();
    impl_->workers.join();
  } catch (const std::exception& e) {
    log::get("http")->error("stopping the HTTP server: {}", e.what());
  }
}

Result<int> Server::listen(const std::string& host, int port, const std::optional<TlsFiles>& tls) {
  auto& im = *impl_;
  if (tls) {
    auto ctx = makeTlsContext(*tls);
    if (!ctx) {
      return ctx.error();
    }
    const std::lock_guard lock(im.tls_mutex);
    im.tls = std::move(*ctx);
    im.tls_on = true;
  }
  auto bound = bindAcceptor(im.primary.acceptor, host, port);
  if (bound) {
    im.accept(im.primary);
  }
  return bound;
}

Result<int> Server::listenRedirect(const std::string& host, int port, int https_port) {
  auto& im = *impl_;
  if (https_port <= 0 || https_port > 65535) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("cannot redirect to HTTPS port {}", https_port));
  }
  auto bound = bindAcceptor(im.redirector.acceptor, host, port);
  if (bound) {
    im.redirector.redirect_port = https_port;
    im.accept(im.redirector);
  }
  return bound;
}

Status Server::useCertificate(const TlsFiles& tls) {
  auto& im = *impl_;
  if (!im.tls_on) {
    return makeError(ErrorCode::kUnavailable, "this server serves plain HTTP, not HTTPS");
  }
  auto ctx = makeTlsContext(tls);
  if (!ctx) {
    return ctx.error();
  }
  const std::lock_guard lock(im.tls_mutex);
  im.tls = std::move(*ctx);
  return {};
}

void Server::run() {
  auto& im = *impl_;
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < std::max(1U, im.limits.io_threads); ++i) {
    extra.emplace_back([&im] { im.ioc.run(); });
  }
  im.ioc.run();
  for (auto& t : extra) {
    t.join();
  }
}

void Server::stop() {
  auto& im = *impl_;
  net::post(im.ioc, [&im] {
    beast::error_code ignored;
    im.primary.acceptor.close(ignored);
    im.redirector.acceptor.close(ignored);
  });
  im.ioc.stop();
}

EventHub& Server::events() {
  return impl_->hub;
}

ServerStats Server::stats() const {
  const auto& im = *impl_;
  ServerStats s;
  s.connections = im.connections.load();
  s.event_clients = im.hub.clients();
  s.requests = im.requests.load();
  s.refused_connections = im.refused.load();
  s.busy = im.busy.load();
  s.timeouts = im.timeouts.load();
  s.slow_in_flight = im.slow_in_flight.load();
  return s;
}

bool Server::tls() const {
  return impl_->tls_on;
}

}  // namespace equalis::http
