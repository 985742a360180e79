// The HTTP server on loopback with raw sockets: what a hostile or broken client sends, and what
// many clients at once do, against a small router.
#include "adapters/http/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace equalis::http {
namespace {

using namespace std::chrono_literals;

// A blocking loopback client.
class Conn {
 public:
  explicit Conn(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Conn() { ::close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return ok_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads what arrives until `until` is in the text, the peer closes, or the time passes.
  std::string read(std::chrono::milliseconds timeout, std::string_view until = {}) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (!until.empty() && buf_.find(until) != std::string::npos) {
        break;
      }
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) {
        continue;
      }
      char chunk[65536];
      const auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
    return buf_;
  }
  // One whole response with a Content-Length body; removed from the buffer.
  std::string response(std::chrono::milliseconds timeout = 5s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const auto head_end = buf_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        const auto cl = buf_.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) {
          length = std::stoul(buf_.substr(cl + 16));
        }
        if (buf_.size() >= head_end + 4 + length) {
          std::string out = buf_.substr(0, head_end + 4 + length);
          buf_.erase(0, out.size());
          return out;
        }
      }
      if (closed_) {
        break;
      }
      read(50ms);
    }
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }
  bool closedByPeer(std::chrono::milliseconds timeout) {
    read(timeout);
    return closed_;
  }

 private:
  int fd_;
  bool ok_ = false;
  bool closed_ = false;
  std::string buf_;
};

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Limits limits = {}, Gate gate = {}) {
    router_.get("/hello", [](const Request& req, Response& res) {
      res.setContent("hello " + req.param("name"), "text/plain");
    });
    router_.get(
        "/slow", [](const Request&, Response& res) { res.setContent("slow", "text/plain"); },
        RouteOptions{.slow = true});
    router_.post(
        "/echo", [](const Request& req, Response& res) { res.setContent(req.body, "text/plain"); },
        RouteOptions{.slow = true});
    router_.get("/throw", [](const Request&, Response&) { throw std::runtime_error("boom"); });
    router_.get(
        "/big",
        [](const Request&, Response& res) {
          res.content_type = "text/csv";
          res.stream = [](const ChunkSink& sink) {
            const std::string line(1000, 'x');
            for (int i = 0; i < 10'000; ++i) {
              if (!sink(line)) {
                return;
              }
            }
          };
        },
        RouteOptions{.slow = true});
    router_.get("/events", [](const Request&, Response& res) { res.event_stream = true; });
    server_ = std::make_unique<Server>(router_, limits, std::move(gate));
    auto port = server_->listen("127.0.0.1", 0, std::nullopt);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
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

  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  Conn c(port_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(get("/hello?name=a%20b") + get("/slow")));
  const auto first = c.response();
  EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0U) << first;
  EXPECT_NE(first.find("hello a b"), std::string::npos);
  EXPECT_NE(first.find("X-Content-Type-Options: nosniff"), std::string::npos);
  EXPECT_NE(first.find("Content-Security-Policy: "), std::string::npos);
  const auto second = c.response();
  EXPECT_NE(second.find("\r\n\r\nslow"), std::string::npos) << second;
  EXPECT_FALSE(c.closedByPeer(100ms));
}

TEST_F(ServerTest, OversizedHeaderIs431AndTheConnectionCloses) {
  Limits l;
  l.header_bytes = 4096;
  start(l);
  Conn c(port_);
  ASSERT_TRUE(c.send(get("/hello", "X-Junk: " + std::string(8000, 'a') + "\r\n")));
  const auto r = c.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0U) << r.substr(0, 200);
  EXPECT_TRUE(c.closedByPeer(2s));
}

TEST_F(ServerTest, OversizedBodyIsRefusedBeforeItIsRead) {
  start();
  Conn c(port_);
  // 200 MB announced, nothing sent: the answer must not wait for the body.
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: 209715200\r\n\r\n"));
  const auto r = c.response(3s);
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0U) << r;
  EXPECT_NE(r.find("larger than 65536 bytes"), std::string::npos) << r;
  EXPECT_TRUE(c.closedByPeer(2s));
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  start();
  Conn c(port_);
  std::string req = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string piece(std::size_t{32} * 1024, 'b');
  for (int i = 0; i < 3; ++i) {
    req += "8000\r\n" + piece + "\r\n";
  }
  c.send(req);
  const auto r = c.response(3s);
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0U) << r.substr(0, 200);
}

TEST_F(ServerTest, BodyWithinTheLimitReachesTheHandler) {
  start();
  Conn c(port_);
  const std::string body(60'000, 'z');
  c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\n" + body);
  const auto r = c.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0U) << r.substr(0, 200);
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), body);
}

TEST_F(ServerTest, OptionsAndWrongMethodsAreRefusedWithoutCors) {
  start();
  Conn c(port_);
  c.send(
      "OPTIONS /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
      "Access-Control-Request-Method: POST\r\n\r\n");
  const auto r = c.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0U) << r;
  EXPECT_EQ(r.find("Access-Control-Allow"), std::string::npos) << r;
  Conn d(port_);
  d.send("DELETE /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto r2 = d.response();
  EXPECT_EQ(r2.rfind("HTTP/1.1 405", 0), 0U) << r2;
  EXPECT_NE(r2.find("Allow: GET"), std::string::npos) << r2;
}

TEST_F(ServerTest, InvalidUtf8OrControlCharactersInThePathAre400) {
  start();
  for (const char* path : {"/hello%FF", "/hello?name=%C0%AF", "/hel%0alo"}) {
    Conn c(port_);
    c.send(get(path));
    const auto r = c.response();
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0U) << path << ": " << r;
    EXPECT_NE(r.find("not valid UTF-8"), std::string::npos) << r;
  }
  Conn c(port_);
  c.send("GARBAGE\r\n\r\n");
  EXPECT_EQ(c.response().rfind("HTTP/1.1 400", 0), 0U);
}

TEST_F(ServerTest, HandlerExceptionIs500AndTheServerGoesOn) {
  start();
  Conn c(port_);
  c.send(get("/throw") + get("/hello"));
  const auto r = c.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0U) << r;
  EXPECT_NE(r.find("boom"), std::string::npos);
  EXPECT_EQ(c.response().rfind("HTTP/1.1 200", 0), 0U);
}

TEST_F(ServerTest, GateAnswersBeforeTheBodyIsRead) {
  start({}, [](Request& req, const RouteOptions&, Response& res) {
    if (req.header("Authorization").empty()) {
      res.status = 401;
      res.setContent("login first", "text/plain");
      return false;
    }
    return true;
  });
  Conn c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n");
  const auto r = c.response(3s);
  EXPECT_EQ(r.rfind("HTTP/1.1 401", 0), 0U) << r;
  EXPECT_TRUE(c.closedByPeer(2s));
}

TEST_F(ServerTest, SecondServerOnTheSamePortFailsToStart) {
  start();
  Router other;
  Server second(other, {}, {});
  auto port = second.listen("127.0.0.1", port_, std::nullopt);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("in use"), std::string::npos) << port.error().message;
}

TEST_F(ServerTest, SlowHeaderClientsNeitherBlockOthersNorStayForever) {
  Limits l;
  l.header_timeout_ms = 500;
  start(l);
  std::vector<std::unique_ptr<Conn>> slow;
  for (int i = 0; i < 32; ++i) {
    slow.push_back(std::make_unique<Conn>(port_));
    slow.back()->send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ");
  }
  Conn c(port_);
  c.send(get("/hello?name=fast"));
  EXPECT_NE(c.response(2s).find("hello fast"), std::string::npos);
  for (auto& s : slow) {
    EXPECT_TRUE(s->closedByPeer(3s));
  }
  for (int i = 0; i < 100 && server_->stats().timeouts < 32; ++i) {
    std::this_thread::sleep_for(20ms);  // counted when the timer's handler has run
  }
  EXPECT_GE(server_->stats().timeouts, 32U);
}

TEST_F(ServerTest, ConnectionLimitRefusesTheExtraOnes) {
  Limits l;
  l.max_connections = 4;
  start(l);
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Conn>(port_));
    held.back()->send(get("/hello"));
    EXPECT_EQ(held.back()->response().rfind("HTTP/1.1 200", 0), 0U);
  }
  Conn extra(port_);
  EXPECT_TRUE(extra.closedByPeer(2s));
  EXPECT_GE(server_->stats().refused_connections, 1U);
  held.clear();
  for (int i = 0; i < 100 && server_->stats().connections > 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  Conn again(port_);
  again.send(get("/hello"));
  EXPECT_EQ(again.response().rfind("HTTP/1.1 200", 0), 0U);
}

// Removes chunked framing.
std::string dechunk(std::string_view body) {
  std::string out;
  while (true) {
    const auto eol = body.find("\r\n");
    const auto size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    if (size == 0) {
      return out;
    }
    out.append(body.substr(eol + 2, size));
    body.remove_prefix(eol + 2 + size + 2);
  }
}

TEST_F(ServerTest, StreamedBodyArrivesWhole) {
  start();
  Conn c(port_);
  c.send(get("/big"));
  const auto text = c.read(10s, "\r\n0\r\n\r\n");
  const auto head_end = text.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_NE(text.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(dechunk(std::string_view(text).substr(head_end + 4)).size(), 10'000'000U);
}

TEST_F(ServerTest, ClientLeavingAStreamStopsTheProducer) {
  start();
  {
    Conn c(port_);
    c.send(get("/big"));
    c.read(200ms);
  }  // closed after a few chunks
  Conn d(port_);
  d.send(get("/slow"));
  EXPECT_NE(d.response().find("slow"), std::string::npos);
  for (int i = 0; i < 200 && server_->stats().slow_in_flight > 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server_->stats().slow_in_flight, 0U);
}

TEST_F(ServerTest, LiveUpdatesReachEveryClientFromOneMessage) {
  start();
  std::vector<std::unique_ptr<Conn>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<Conn>(port_));
    clients.back()->send(get("/events"));
  }
  for (int i = 0; i < 1000 && server_->events().clients() < 200; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(server_->events().clients(), 200U);
  // Other requests are answered meanwhile.
  Conn c(port_);
  c.send(get("/hello?name=x"));
  EXPECT_NE(c.response().find("hello x"), std::string::npos);

  const auto text_of = [](const std::string& t) { return std::make_shared<const std::string>(t); };
  server_->events().publishState(
      http::StateEvent{1, text_of("event: snapshot\ndata: {\"n\":1}\n\n"), nullptr});
  for (auto& cl : clients) {
    const auto text = cl->read(5s, "data: {\"n\":1}");
    EXPECT_NE(text.find("text/event-stream"), std::string::npos);
    EXPECT_NE(text.find("retry: 2000"), std::string::npos);
    EXPECT_NE(text.find("data: {\"n\":1}"), std::string::npos);
  }
  // And the next one, and the one after: as their changes, since every client holds the state
  // before.
  for (int n = 2; n <= 3; ++n) {
    const std::string full = "data: {\"n\":" + std::to_string(n) + "}";
    const std::string delta = "data: {\"d\":" + std::to_string(n) + "}";
    server_->events().publishState(http::StateEvent{static_cast<std::uint64_t>(n),
                                                    text_of("event: snapshot\n" + full + "\n\n"),
                                                    text_of("event: delta\n" + delta + "\n\n")});
    for (auto& cl : clients) {
      const auto got = cl->read(5s, delta);
      EXPECT_NE(got.find("event: delta\n" + delta), std::string::npos) << n;
      EXPECT_EQ(got.find(full), std::string::npos) << n;
    }
  }
  // A keep-alive comment goes to everyone.
  server_->events().publishComment(text_of(": keep-alive\n\n"));
  for (auto& cl : clients) {
    EXPECT_NE(cl->read(5s, ": keep-alive").find(": keep-alive"), std::string::npos);
  }
  // A newcomer gets the newest state at once, whole: it holds nothing to apply changes to.
  Conn late(port_);
  late.send(get("/events"));
  const auto first = late.read(5s, "data: {\"n\":3}");
  EXPECT_NE(first.find("event: snapshot\ndata: {\"n\":3}"), std::string::npos);
  EXPECT_EQ(first.find("{\"d\":3}"), std::string::npos);
  // The next state reaches it as changes too.
  server_->events().publishState(http::StateEvent{4,
                                                  text_of("event: snapshot\ndata: {\"n\":4}\n\n"),
                                                  text_of("event: delta\ndata: {\"d\":4}\n\n")});
  EXPECT_NE(late.read(5s, "{\"d\":4}").find("event: delta\ndata: {\"d\":4}"), std::string::npos);
  // A state that does not follow the one the client holds is sent whole.
  server_->events().publishState(http::StateEvent{9,
                                                  text_of("event: snapshot\ndata: {\"n\":9}\n\n"),
                                                  text_of("event: delta\ndata: {\"d\":9}\n\n")});
  EXPECT_NE(late.read(5s, "{\"n\":9}").find("event: snapshot\ndata: {\"n\":9}"), std::string::npos);

  clients.clear();
  for (int i = 0; i < 1000 && server_->events().clients() > 1; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server_->events().clients(), 1U);
}

}  // namespace
}  // namespace equalis::http
