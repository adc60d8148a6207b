// SPDX-License-Identifier: GPL-2.0-only
// Hosting an RDMA CM service inside tgtd: one runtime that both RDMA services stand on (the
// SRP target, srp_ext/; push mode, iser_ext/). It owns what every such service needs from
// tgtd's event loop and what keeps a remote peer from exhausting or stalling tgtd, and leaves
// the services only their protocol:
//   - the listener's events, and each connection's completion fd, watched on the loop;
//   - admission before resources: caps on connections in all and per peer address, and on
//     connections not yet admitted (no login, CONNECT or CHAP yet), in all and per peer;
//     a connection not admitted within the handshake timeout is closed;
//   - liveness: a connection quiet for idle_probe gets a zero-length RDMA WRITE, which its
//     peer's HCA must acknowledge; a vanished peer (crashed host, cable) fails it after the
//     transport's retries, or leaves it unanswered for probe_timeout, and the connection,
//     its regions and their pinned memory go;
//   - budgets: a connection handles at most completions_per_turn completions per turn of the
//     loop, then hands the loop back (an eventfd brings it back after tgtd's other events);
//   - re-entrancy: finished connections are destroyed only outside every entry point;
//   - logs: lines about a peer are rate-limited per peer, peer-supplied text escaped.
//
// Threading: tgtd's event loop only, like everything it hosts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::rdma_host {

using Clock = std::chrono::steady_clock;

// tgtd's event loop and log, as a module reaches them; a fake in tests.
class Loop {
 public:
  virtual ~Loop() = default;
  // Calls ready() on the loop whenever fd is readable, until unwatch(fd). 0 or a negative
  // errno.
  [[nodiscard]] virtual int watch(int fd, std::function<void()> ready) = 0;
  virtual void unwatch(int fd) = 0;
  virtual void log(bool error, const std::string& message) = 0;
  [[nodiscard]] virtual Clock::time_point now() const { return Clock::now(); }
};

// The loop as both glues hand it over (tgt_event_add, tgt_event_del, eprintf).
struct CLoopOps {
  void* ctx = nullptr;
  int (*event_add)(void* ctx, int fd, void (*handler)(int fd, int events, void* data),
                   void* data) = nullptr;
  void (*event_del)(void* ctx, int fd) = nullptr;
  void (*log)(void* ctx, int error, const char* message) = nullptr;
};

// A Loop over CLoopOps. Exceptions thrown by a ready() callback are logged, never let into
// tgtd's C code.
class CLoop final : public Loop {
 public:
  explicit CLoop(const CLoopOps& ops) : ops_(ops) {}
  ~CLoop() override;
  int watch(int fd, std::function<void()> ready) override;
  void unwatch(int fd) override;
  void log(bool error, const std::string& message) override;

 private:
  static void trampoline(int fd, int events, void* data);
  CLoopOps ops_;
  std::map<int, std::unique_ptr<std::function<void()>>> watches_;
};

// The runtime's limits; every one has a default an administrator rarely needs to change.
struct Limits {
  std::chrono::milliseconds handshake_timeout{10'000};  // connect to admitted
  std::uint32_t max_connections = 1024;                 // in all
  std::uint32_t max_connections_per_peer = 128;         // from one address
  std::uint32_t max_unadmitted = 64;                    // not yet admitted, in all
  std::uint32_t max_unadmitted_per_peer = 8;            // ... from one address
  std::chrono::seconds idle_probe{30};                  // quiet this long: probe (0: never)
  // A probe not answered (acknowledged or failed) within this long: the peer is gone. The
  // transport's own retries may never end: the initiator chose their count and timeout in its
  // connection request, and Soft-RoCE takes a retry count of 7 as "for ever".
  std::chrono::seconds probe_timeout{30};
  std::uint32_t completions_per_turn = 256;             // then the loop gets a turn
  std::uint32_t log_lines_per_peer = 20;                // per minute, about one peer
  // Failed authentications (wrong CHAP responses) from one address in a minute, after which
  // its connection requests are refused until the minute is over (offline guessing of a
  // secret through the target).
  std::uint32_t max_auth_failures_per_peer = 5;
};

// The limits from tgtd's environment, where an administrator sets them (on Debian:
// `systemctl edit tgt`, Environment=...), each a decimal number; a value that is no number
// in range adds a line to `bad` (for the log) and keeps the default:
//   TGTPMEM_RDMA_HANDSHAKE_TIMEOUT_MS, TGTPMEM_RDMA_MAX_CONNECTIONS,
//   TGTPMEM_RDMA_MAX_CONNECTIONS_PER_PEER, TGTPMEM_RDMA_MAX_UNADMITTED,
//   TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER, TGTPMEM_RDMA_IDLE_PROBE_S (0: no probes),
//   TGTPMEM_RDMA_PROBE_TIMEOUT_S,
//   TGTPMEM_RDMA_COMPLETIONS_PER_TURN, TGTPMEM_RDMA_LOG_LINES_PER_PEER,
//   TGTPMEM_RDMA_MAX_AUTH_FAILURES.
// Read when a service starts (tgtd has one thread then).
[[nodiscard]] Limits limits_from_environment(std::vector<std::string>& bad);
// One more such variable, for a service's own limits.
[[nodiscard]] std::optional<std::uint64_t> number_from_environment(const char* name,
                                                                   std::uint64_t min,
                                                                   std::uint64_t max,
                                                                   std::vector<std::string>& bad);

enum class Turn {
  kIdle,   // nothing left: wait for the completion fd
  kYield,  // work left: call resume() once the loop served its other events
};

class Runtime;

// One accepted connection of a protocol (an SRP channel, a push-mode session), as the runtime
// hosts it. Created and destroyed by its Protocol, which calls Runtime::add and ::remove.
class Link {
 public:
  Link() = default;
  virtual ~Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  [[nodiscard]] virtual rdma::Connection& connection() const noexcept = 0;
  // The completion fd fired: re-arm, then handle at most `budget` completions (passing each
  // to runtime_completion() first). kYield if work is left.
  virtual Turn on_completions(std::size_t budget) = 0;
  // Carry on after a kYield, with a new budget.
  virtual Turn resume(std::size_t budget) = 0;
  // Past its protocol's admission (SRP login; push mode's CONNECT and CHAP).
  [[nodiscard]] virtual bool admitted() const noexcept = 0;
  // Disconnected, and nothing of it held elsewhere any more: its protocol may destroy it.
  [[nodiscard]] virtual bool finished() const noexcept = 0;
  // Starts an orderly disconnect, logging why.
  virtual void close(const std::string& why) = 0;

  // The number the runtime gave it (in log lines).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  // The peer's address without its port: what per-peer limits and logs count by.
  [[nodiscard]] const std::string& peer_host() const noexcept { return peer_host_; }
  // A liveness probe failed: the peer is gone (crashed host, cut link) and the link closed.
  // RDMA CM's DISCONNECTED may then be a minute away (its DREQ retries to nobody): a protocol
  // need not wait for it to destroy the link, and with it the peer's regions and pinned memory.
  [[nodiscard]] bool peer_gone() const noexcept { return peer_gone_; }

 protected:
  // A completion of the link's queue pair: true if it is the runtime's own (a liveness
  // probe), which the protocol then ignores. Any completion also counts as hearing the peer.
  bool runtime_completion(const rdma::Completion& wc) noexcept;
  // The peer sent something: it is alive, no probe is due for a while.
  void heard() noexcept;
  // A log line about this link's peer, rate-limited per peer (Runtime::log_peer). Escape
  // peer-supplied text in it first (escape()).
  void log_peer(bool error, const std::string& message);
  // The peer failed authentication (Runtime::auth_failed).
  void auth_failed();

 private:
  friend class Runtime;
  Runtime* runtime_ = nullptr;
  std::uint64_t id_ = 0;
  std::string peer_host_;
  Clock::time_point created_{};
  Clock::time_point heard_{};
  Clock::time_point probe_sent_{};
  bool probing_ = false;
  bool peer_gone_ = false;
  bool watched_ = false;
  int cq_fd_ = -1;
  int wake_fd_ = -1;
};

// The protocol a Runtime serves: SRP, push mode.
class Protocol {
 public:
  virtual ~Protocol() = default;
  // A connection request within the runtime's caps: answer it. The link it made (after
  // Runtime::add), or nullptr if it rejected the request.
  virtual Link* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) = 0;
  // A request over the runtime's caps: reject it in the protocol's own words (why: its log).
  virtual void refuse(rdma::PendingConnection& pending, const std::string& why) = 0;
  virtual void on_established(rdma::Connection& conn) { (void)conn; }
  // RDMA CM reported conn (conn.user: its link) disconnected.
  virtual void on_disconnected(rdma::Connection& conn) = 0;
  // Destroys finished links, each after Runtime::remove.
  virtual void reap() = 0;
  virtual void close_all(const std::string& why) = 0;
};

// Counters for logs and tests.
struct RuntimeCounts {
  std::uint64_t accepted = 0;          // links added
  std::uint64_t refused = 0;           // requests over a cap
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t probes = 0;            // liveness probes posted
  std::uint64_t dead_peers = 0;        // links closed because a probe failed or went unanswered
  std::uint64_t yields = 0;            // turns handed back with work left
  std::uint64_t log_lines_suppressed = 0;
  std::uint64_t auth_failures = 0;
};

class Runtime {
 public:
  // name: "srp", "push" (log lines start with it).
  Runtime(Loop& loop, std::string name, Limits limits = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Serves protocol (not owned; outlives the runtime) on the listener: watches its events and
  // a timer that ticks once a second. Errors: the errno of a failed watch or timerfd.
  [[nodiscard]] rdma::Status start(Protocol& protocol, std::unique_ptr<rdma::Listener> listener);
  // Closes every link (Protocol::close_all) and stops watching the listener and the timer;
  // the protocol is not called again. Call it before destroying the protocol; the destructor
  // only lets go of the runtime's own descriptors. Idempotent.
  void stop(const std::string& why);

  // A protocol's new link: numbered, counted, its completion fd and an eventfd watched (if a
  // watch fails the link is closed).
  void add(Link& link);
  // Before its protocol destroys a link: stops watching it.
  void remove(Link& link);

  // Entry points from tgt run inside one: finished links are reaped (Protocol::reap) when the
  // outermost Enter ends, since tgt calls back re-entrantly (a command can complete inside
  // queue_command). The loop events below enter by themselves.
  class Enter {
   public:
    explicit Enter(Runtime& r) : r_(r) { ++r_.depth_; }
    ~Enter();
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    Runtime& r_;
  };

  // The loop's events. Public so that tests on fakes (whose fds are -1) can drive them.
  void on_listener();
  void on_tick();  // handshake timeouts, liveness probes
  void on_link(Link& link);
  void on_wake(Link& link);

  // A log line about a peer: at most Limits::log_lines_per_peer a minute per peer host (the
  // rest are counted, and said when the minute is over). Escape peer-supplied text first.
  void log_peer(const std::string& peer_host, bool error, const std::string& message);
  void log(bool error, const std::string& message);
  // A failed authentication from peer_host: over Limits::max_auth_failures_per_peer in a
  // minute, its connection requests are refused for the rest of the minute.
  void auth_failed(const std::string& peer_host);

  [[nodiscard]] const RuntimeCounts& counts() const noexcept { return counts_; }
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  [[nodiscard]] std::size_t links() const noexcept { return links_.size(); }
  [[nodiscard]] std::size_t unadmitted() const noexcept;
  [[nodiscard]] Loop& loop() noexcept { return loop_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // The listener's port (0 once stopped).
  [[nodiscard]] std::uint16_t port() const noexcept { return listener_ ? listener_->port() : 0; }

 private:
  friend class Link;
  // Why a request from peer_host is over a cap, or empty.
  [[nodiscard]] std::string over_cap(const std::string& peer_host) const;
  void probe(Link& link);
  void probe_done(Link& link, const rdma::Completion& wc);
  void yield(Link& link);
  void unwatch_all();

  Loop& loop_;
  std::string name_;
  Limits limits_;
  Protocol* protocol_ = nullptr;
  std::unique_ptr<rdma::Listener> listener_;
  int listener_fd_ = -1;
  int timer_fd_ = -1;
  int depth_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Link*> links_;
  RuntimeCounts counts_;
  struct PeerLog {
    Clock::time_point window{};
    std::uint32_t lines = 0;
    std::uint64_t suppressed = 0;
  };
  std::map<std::string, PeerLog> peer_logs_;
  struct AuthFailures {
    Clock::time_point window{};
    std::uint32_t count = 0;
  };
  std::map<std::string, AuthFailures> auth_failures_;
};

// Peer-supplied text for a log line: printable ASCII as it is, anything else (newlines
// included: they would forge log lines) as \xNN; longer than max: cut, with "...".
[[nodiscard]] std::string escape(std::string_view text, std::size_t max = 256);
// "192.0.2.7:34960" -> "192.0.2.7", "[2001:db8::1]:5" -> "2001:db8::1"; anything else as is.
[[nodiscard]] std::string host_of(const std::string& peer_address);

// Why listen() failed, in the words both services' C APIs report.
enum class ListenFailure { kNoDevice, kAddressInUse, kInvalid, kNoMemory, kOther };
// ENODEV and EADDRNOTAVAIL (no RDMA device has that address) are kNoDevice.
[[nodiscard]] ListenFailure classify_listen_error(const std::error_code& ec) noexcept;

// The wr_id of the runtime's own work requests (liveness probes): no protocol uses it.
inline constexpr std::uint64_t kProbeWrId = 0xfffe'0000'0000'0000ull;

}  // namespace tgt_pmem::rdma_host
