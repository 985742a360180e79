// Serves a LineResponder on a pseudo-terminal or a TCP port, one thread per line, pacing the
// bytes at the baud rate: a pty or a socket is otherwise instant, which would make every timing
// figure meaningless. The master's bytes are taken to arrive one character time each from when
// they are read (as on a real line), and every reply frame is written at the moment its last
// byte would leave a real UART. Used by equalis-sim, the wire tests and the sweep benchmark.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bus/responder.hpp"
#include "core/result.hpp"

namespace equalis::bus {

class LineServer {
 public:
  // A new pty in raw mode at `baud`; path() is its device (e.g. /dev/pts/7).
  static Result<std::unique_ptr<LineServer>> openPty(LineResponder& responder,
                                                     std::mutex& plant_mutex);
  // Listens on host:port (port 0: any free port; path() then says which).
  static Result<std::unique_ptr<LineServer>> listenTcp(LineResponder& responder,
                                                       std::mutex& plant_mutex,
                                                       const std::string& host, int port);
  ~LineServer();
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  // "/dev/pts/7" or "127.0.0.1:4001".
  const std::string& path() const { return path_; }
  // The line URL a master uses to reach it at `baud`.
  std::string url(std::uint32_t baud) const;
  void start();
  void stop();

 private:
  LineServer(LineResponder& responder, std::mutex& plant_mutex)
      : responder_(responder), plant_mutex_(plant_mutex) {}
  void run();
  void serve(int fd);

  LineResponder& responder_;
  std::mutex& plant_mutex_;  // held while the responder reads or writes the plant
  bool tcp_ = false;
  int fd_ = -1;       // pty master or listening socket
  int keep_fd_ = -1;  // pty: the slave kept open, so the line survives a client's close
  int wake_[2] = {-1, -1};
  std::string path_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace equalis::bus
