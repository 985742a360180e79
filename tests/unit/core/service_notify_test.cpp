// The service-manager notifications against a fake NOTIFY_SOCKET: a datagram socket of the test
// standing in for systemd. The watchdog must ping only while its progress counter advances.
#include "core/service_notify.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

namespace equalis::service {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// A bound AF_UNIX datagram socket, exported as NOTIFY_SOCKET while it lives.
class FakeNotifySocket {
 public:
  FakeNotifySocket() {
    path_ = (std::filesystem::temp_directory_path() /
             ("equalis-notify-" + std::to_string(::getpid()) + ".sock"))
                .string();
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeNotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) {
      ::close(fd_);
    }
    ::unlink(path_.c_str());
  }
  FakeNotifySocket(const FakeNotifySocket&) = delete;
  FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

  bool bound() const { return bound_; }

  // The next datagram, or nothing within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
      return std::nullopt;
    }
    std::array<char, 4096> buf{};
    const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      return std::nullopt;
    }
    return std::string(buf.data(), static_cast<std::size_t>(n));
  }

  // Datagrams until one contains `needle`; false if none does within `timeout`. Counts the
  // watchdog pings seen on the way.
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout, int* pings = nullptr) {
    const auto deadline = Steady::now() + timeout;
    while (Steady::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      auto msg = receive(std::max(left, 1ms));
      if (!msg) {
        continue;
      }
      if (pings != nullptr && *msg == "WATCHDOG=1") {
        ++*pings;
      }
      if (msg->find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// Sets WATCHDOG_USEC for this process while it lives.
class WatchdogEnv {
 public:
  explicit WatchdogEnv(std::chrono::microseconds timeout) {
    ::setenv("WATCHDOG_USEC", std::to_string(timeout.count()).c_str(), 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  }
  ~WatchdogEnv() {
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  WatchdogEnv(const WatchdogEnv&) = delete;
  WatchdogEnv& operator=(const WatchdogEnv&) = delete;
};

TEST(ServiceNotify, WithoutNotifySocketEverythingIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_FALSE(notifyEnabled());
  EXPECT_FALSE(notifyReady("ready"));
  EXPECT_FALSE(notifyStopping("bye"));
  EXPECT_EQ(watchdogTimeout().count(), 0);
  Watchdog dog([] { return std::uint64_t{0}; }, watchdogTimeout(), 1000ms);
  dog.start();
  EXPECT_FALSE(dog.active());
  dog.stop();
}

TEST(ServiceNotify, SendsReadyStatusAndStopping) {
  FakeNotifySocket sock;
  ASSERT_TRUE(sock.bound());
  EXPECT_TRUE(notifyEnabled());
  EXPECT_TRUE(notifyReady("Serving on 127.0.0.1:8080"));
  EXPECT_EQ(sock.receive(2000ms).value_or(""), "READY=1\nSTATUS=Serving on 127.0.0.1:8080");
  EXPECT_TRUE(notifyStatus("sweep 3"));
  EXPECT_EQ(sock.receive(2000ms).value_or(""), "STATUS=sweep 3");
  EXPECT_TRUE(notifyStopping("signal 15"));
  EXPECT_EQ(sock.receive(2000ms).value_or(""), "STOPPING=1\nSTATUS=signal 15");
}

TEST(ServiceNotify, WatchdogTimeoutIsForThisProcessOnly) {
  FakeNotifySocket sock;
  {
    WatchdogEnv env(200ms);
    EXPECT_EQ(watchdogTimeout(), std::chrono::microseconds(200ms));
  }
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(watchdogTimeout().count(), 0);  // meant for another process
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

// The watchdog pings while the counter advances, stops once it has stood still for stall_after
// (and says so in STATUS=), sends no ping at all while stalled, and resumes with the counter.
TEST(ServiceNotify, WatchdogPingsOnlyWhileProgressAdvances) {
  FakeNotifySocket sock;
  ASSERT_TRUE(sock.bound());
  WatchdogEnv env(200ms);  // ticks every 50 ms
  constexpr auto kStallAfter = 400ms;

  std::atomic<std::uint64_t> sweeps{0};
  std::atomic<bool> advancing{true};
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> last_sweep_ns{Steady::now().time_since_epoch().count()};
  std::thread cycle([&] {
    while (!done) {
      if (advancing) {
        ++sweeps;
        last_sweep_ns = Steady::now().time_since_epoch().count();
      }
      std::this_thread::sleep_for(20ms);
    }
  });

  Watchdog dog([&] { return sweeps.load(); }, watchdogTimeout(), kStallAfter);
  EXPECT_EQ(dog.stallAfter(), kStallAfter);
  dog.start();
  ASSERT_TRUE(dog.active());

  // 1. Progressing: pings keep coming.
  int pings = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sock.waitFor("WATCHDOG=1", 5000ms)) << "ping " << i << " while progressing";
    ++pings;
  }

  // 2. The cycle stops: the watchdog declares the stall, not before stall_after has passed
  // since the last sweep.
  advancing = false;
  ASSERT_TRUE(sock.waitFor("STATUS=Stalled", 10'000ms));
  const auto stalled_after =
      Steady::now() - Steady::time_point(Steady::duration(last_sweep_ns.load()));
  EXPECT_GE(stalled_after, kStallAfter);

  // 3. While stalled: no ping at all, over many ticks.
  int stalled_pings = 0;
  const auto until = Steady::now() + 1000ms;
  while (Steady::now() < until) {
    if (auto msg = sock.receive(50ms); msg && *msg == "WATCHDOG=1") {
      ++stalled_pings;
    }
  }
  EXPECT_EQ(stalled_pings, 0);

  // 4. The cycle progresses again: the pings resume.
  advancing = true;
  ASSERT_TRUE(sock.waitFor("STATUS=Running", 10'000ms));
  ASSERT_TRUE(sock.waitFor("WATCHDOG=1", 5000ms));

  dog.stop();
  EXPECT_FALSE(dog.active());
  done = true;
  cycle.join();
}

TEST(ServiceNotify, StallAfterIsAtLeastTheTimeout) {
  Watchdog dog([] { return std::uint64_t{0}; }, std::chrono::microseconds(30s), 5000ms);
  EXPECT_EQ(dog.stallAfter(), std::chrono::milliseconds(30s));
}

}  // namespace
}  // namespace equalis::service
