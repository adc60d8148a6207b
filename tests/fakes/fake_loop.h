// SPDX-License-Identifier: GPL-2.0-only
// tgtd's event loop for unit tests of code hosted by rdma_host::Runtime: watches are recorded
// (the test runs them), the log is kept, and the clock moves only when the test says.
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::testing {

class FakeLoop final : public rdma_host::Loop {
 public:
  int watch(int fd, std::function<void()> ready) override {
    if (fail_watches > 0) {
      --fail_watches;
      return -ENOMEM;
    }
    watches[fd] = std::move(ready);
    return 0;
  }
  void unwatch(int fd) override { watches.erase(fd); }
  void log(bool error, const std::string& message) override {
    logs.push_back((error ? "E " : "I ") + message);
  }
  rdma_host::Clock::time_point now() const override { return now_; }
  void advance(std::chrono::milliseconds d) { now_ += d; }

  // Runs the callback of every watched fd that is readable now (eventfds, timerfds); returns
  // how many ran. What a turn of tgtd's loop does.
  std::size_t run_ready() {
    std::vector<std::pair<int, std::function<void()>>> ready;
    for (const auto& [fd, f] : watches) {
      pollfd p{fd, POLLIN, 0};
      if (fd >= 0 && ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) ready.emplace_back(fd, f);
    }
    for (auto& [fd, f] : ready)
      if (watches.count(fd)) f();
    return ready.size();
  }
  [[nodiscard]] bool logged(const std::string& part) const {
    for (const auto& l : logs)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }

  std::map<int, std::function<void()>> watches;
  std::vector<std::string> logs;
  int fail_watches = 0;

 private:
  rdma_host::Clock::time_point now_ = rdma_host::Clock::time_point{} + std::chrono::hours(1);
};

}  // namespace tgt_pmem::testing
