// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push-hostile: a misbehaving push-mode peer for the rdma-hostile e2e scenario (issue
// 14). Test-only, not installed. Each mode does one thing an attacker on the fabric, or a
// broken client, would do to tgtd, and prints one line of what it saw, for the scenario to
// check:
//
//   idle N SECONDS     N RDMA CM connections that never send a byte (no CONNECT), held up to
//                      SECONDS: how many the target accepted or refused, and when it closed
//                      the accepted ones (the handshake timeout)
//   storm SECONDS LEN  CONNECT, REGISTER [0, LEN) read-write, then COMMITs of the whole region
//                      back to back for SECONDS
//   churn SECONDS LEN  CONNECT, then REGISTER / UNREGISTER of [0, LEN) back to back for SECONDS
//   hold LEN SECONDS   CONNECT, REGISTER [0, LEN) read-write, print "holding", then sleep: for
//                      a scenario that cuts this peer's link (it never disconnects itself)
//
// Options before the mode: --address A --port P --initiator NAME --target IQN --lun N.
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/connection.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace tgt_pmem;

struct Options {
  std::string address;
  std::uint16_t port = 5566;
  std::string initiator = "iqn.2024-01.org.tgt-pmem:hostile";
  std::string target;
  std::uint64_t lun = 1;
  std::vector<std::string> mode;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "tgtpmem-push-hostile: %s\n"
               "usage: tgtpmem-push-hostile --address A [--port P] [--initiator NAME] "
               "[--target IQN] [--lun N] {idle N SECONDS | storm SECONDS LEN | churn SECONDS LEN "
               "| hold LEN SECONDS}\n",
               why);
  std::exit(2);
}

std::uint64_t number(const std::string& s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || end == nullptr) usage(("not a number: " + s).c_str());
  std::uint64_t mult = 1;
  if (*end == 'K' || *end == 'k') mult = 1 << 10, ++end;
  else if (*end == 'M' || *end == 'm') mult = 1 << 20, ++end;
  else if (*end == 'G' || *end == 'g') mult = 1ull << 30, ++end;
  if (*end != '\0') usage(("not a number: " + s).c_str());
  return v * mult;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// --- idle -----------------------------------------------------------------------------------

struct Idle {
  std::unique_ptr<rdma::Connection> conn;
  std::vector<std::byte> buf = std::vector<std::byte>(64);
  std::unique_ptr<rdma::MemoryRegion> mr;
  std::optional<double> closed_after;  // seconds from the start
};

int idle(const Options& o, std::uint64_t count, std::uint64_t seconds) {
  const auto start = Clock::now();
  std::vector<Idle> links;
  std::uint64_t refused = 0, failed = 0;
  std::string first_error;
  rdma::QueueLimits q;
  q.send_depth = 2;
  q.recv_depth = 1;
  q.max_sge = 1;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto c = rdma::connect(o.address, o.port, {}, q, std::chrono::seconds(5));
    if (!c) {
      if (c.error() == std::errc::connection_refused) ++refused; else ++failed;
      if (first_error.empty()) first_error = c.error().message();
      continue;
    }
    Idle l;
    l.conn = std::move(*c);
    auto mr = l.conn->register_memory(l.buf.data(), l.buf.size(), rdma::kLocalWrite);
    if (!mr || !l.conn->post_recv(1, {l.buf.data(), 64, (*mr)->lkey()}) || !l.conn->arm()) {
      ++failed;
      continue;
    }
    l.mr = std::move(*mr);
    links.push_back(std::move(l));
  }
  // Watch them: the target closing one flushes its receive.
  std::size_t open = links.size();
  while (open > 0 && since(start) < static_cast<double>(seconds)) {
    std::vector<pollfd> fds;
    for (auto& l : links) fds.push_back({l.conn->completion_fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 200);
    for (auto& l : links) {
      if (l.closed_after) continue;
      (void)l.conn->arm();
      rdma::Completion wc[2];
      auto n = l.conn->poll(wc);
      if (n && *n > 0) {
        l.closed_after = since(start);
        --open;
      }
    }
  }
  double first = 0, last = 0;
  std::size_t closed = 0;
  for (auto& l : links) {
    if (!l.closed_after) continue;
    first = closed == 0 ? *l.closed_after : std::min(first, *l.closed_after);
    last = std::max(last, *l.closed_after);
    ++closed;
  }
  std::printf("idle: asked %llu accepted %zu refused %llu failed %llu closed_by_target %zu "
              "first_close_s %.1f last_close_s %.1f%s%s\n",
              static_cast<unsigned long long>(count), links.size(),
              static_cast<unsigned long long>(refused), static_cast<unsigned long long>(failed),
              closed, first, last, first_error.empty() ? "" : " first_error ",
              first_error.c_str());
  for (auto& l : links) l.mr.reset();
  return 0;
}

// --- storm, churn, hold ---------------------------------------------------------------------

push::Result<push::Client> connect_push(const Options& o) {
  push::ClientOptions c;
  c.address = o.address;
  c.port = o.port;
  c.initiator_name = o.initiator;
  c.target_name = o.target;
  c.lun = o.lun;
  c.timeout = std::chrono::seconds(30);
  return push::Client::connect(c);
}

std::string status_name(const std::error_code& e) {
  if (auto s = push::target_status(e)) return std::string(push::to_string(*s));
  return e.message();
}

int storm(const Options& o, std::uint64_t seconds, std::uint64_t len) {
  auto c = connect_push(o);
  if (!c) return std::printf("storm: connect failed: %s\n", c.error().message().c_str()), 1;
  auto r = c->register_region(0, len, push::kRead | push::kWrite);
  if (!r) return std::printf("storm: register failed: %s\n", status_name(r.error()).c_str()), 1;
  const auto start = Clock::now();
  std::uint64_t ok = 0;
  double worst = 0;
  std::string error;
  while (since(start) < static_cast<double>(seconds)) {
    const auto t = Clock::now();
    auto s = c->commit(*r);
    if (!s) {
      error = status_name(s.error());
      break;
    }
    worst = std::max(worst, since(t));
    ++ok;
  }
  std::printf("storm: commits %llu of %llu bytes in %.1f s, slowest %.3f s%s%s\n",
              static_cast<unsigned long long>(ok), static_cast<unsigned long long>(len),
              since(start), worst, error.empty() ? "" : ", stopped by: ", error.c_str());
  return error.empty() ? 0 : 1;
}

int churn(const Options& o, std::uint64_t seconds, std::uint64_t len) {
  auto c = connect_push(o);
  if (!c) return std::printf("churn: connect failed: %s\n", c.error().message().c_str()), 1;
  const auto start = Clock::now();
  std::uint64_t ok = 0, limited = 0;
  std::string error;
  while (since(start) < static_cast<double>(seconds)) {
    auto r = c->register_region(0, len, push::kRead | push::kWrite);
    if (!r) {
      if (push::target_status(r.error()) == push::Status::kLimitReached) {
        ++limited;
        continue;
      }
      error = status_name(r.error());
      break;
    }
    if (auto u = c->unregister(*r); !u) {
      error = status_name(u.error());
      break;
    }
    ++ok;
  }
  const double s = since(start);
  std::printf("churn: registered %llu x %llu bytes (%.0f MiB/s), refused kLimitReached %llu, "
              "in %.1f s%s%s\n",
              static_cast<unsigned long long>(ok), static_cast<unsigned long long>(len),
              static_cast<double>(ok * len) / s / (1 << 20),
              static_cast<unsigned long long>(limited), s, error.empty() ? "" : ", stopped by: ",
              error.c_str());
  return error.empty() ? 0 : 1;
}

int hold(const Options& o, std::uint64_t len, std::uint64_t seconds) {
  auto c = connect_push(o);
  if (!c) return std::printf("hold: connect failed: %s\n", c.error().message().c_str()), 1;
  auto r = c->register_region(0, len, push::kRead | push::kWrite);
  if (!r) return std::printf("hold: register failed: %s\n", status_name(r.error()).c_str()), 1;
  std::printf("holding %llu bytes\n", static_cast<unsigned long long>(len));
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  // Exits without UNREGISTER; the Client's destructor disconnects (if the link still works).
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--address") o.address = value();
    else if (a == "--port") o.port = static_cast<std::uint16_t>(number(value()));
    else if (a == "--initiator") o.initiator = value();
    else if (a == "--target") o.target = value();
    else if (a == "--lun") o.lun = number(value());
    else if (a == "-h" || a == "--help") usage("help");
    else o.mode.push_back(a);
  }
  if (o.address.empty()) usage("--address is required");
  const auto& m = o.mode;
  if (m.size() == 3 && m[0] == "idle") return idle(o, number(m[1]), number(m[2]));
  if (m.size() == 3 && m[0] == "storm") return storm(o, number(m[1]), number(m[2]));
  if (m.size() == 3 && m[0] == "churn") return churn(o, number(m[1]), number(m[2]));
  if (m.size() == 3 && m[0] == "hold") return hold(o, number(m[1]), number(m[2]));
  usage("no such mode");
}
