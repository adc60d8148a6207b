// SPDX-License-Identifier: GPL-2.0-only
// One push-mode connection: CONNECT (ACL, CHAP), then REGISTER / COMMIT / UNREGISTER.
//
// Security: every region is a memory region registered in this connection's own protection
// domain, so its rkey works on this queue pair only. UNREGISTER, a disconnect, the LUN's
// removal or tgtd's exit deregister it: the rkey stops working at once (an RDMA access with
// it then fails with a remote access error and breaks the initiator's connection).
// Durability: COMMIT answers kOk only after PushLun::persist returned 0 for every range.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "push_host.h"
#include "push_lun.h"
#include "tgt_pmem/push/protocol.h"
#include "tgt_pmem/rdma/connection.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::push {

struct SessionLimits {
  std::uint32_t max_regions = 64;               // per connection
  std::uint64_t max_exposed = 4ull << 30;       // bytes registered at once per connection
  std::uint32_t receives = 4;                   // messages the client may have in flight
  // Registering pins every page in the kernel, on tgtd's one thread: one REGISTER may
  // register at most this much, and a connection at most register_per_second bytes a
  // second (REGISTER/UNREGISTER churn); beyond, kLimitReached.
  std::uint64_t max_register = 1ull << 30;
  std::uint64_t register_per_second = 4ull << 30;
  // A COMMIT makes at most this many bytes durable per turn of tgtd's loop, then yields.
  std::uint64_t commit_slice = 64ull << 20;
};

// Bytes registered by every connection of a service, in all and per initiator name; the
// service's sessions share one.
struct Exposure {
  std::uint64_t max_total = 64ull << 30;
  std::uint64_t max_per_initiator = 16ull << 30;
  std::uint64_t total = 0;
  std::map<std::string, std::uint64_t> per_initiator;
};

// A link of the push service's runtime (tgt_pmem/rdma_host/runtime.h), which counts it among
// the connections not yet admitted until its CONNECT (and CHAP) succeeded.
class Session final : public rdma_host::Link {
 public:
  using Polling = rdma_host::Turn;
  // luns: the service's attached LUNs (looked up at CONNECT; the service outlives sessions).
  // exposure: shared by the service's sessions (outlives them).
  Session(std::unique_ptr<rdma::Connection> conn, PushHost& host,
          const std::vector<PushLun*>& luns, Exposure& exposure, SessionLimits limits = {});
  ~Session() override;

  [[nodiscard]] rdma::Status start();

  // After the completion fd fired: re-arms, then handles what came, at most `budget`
  // completions (kYield if more are waiting). With the LUN's poll_us (push_poll_us), the
  // connection is then polled, and served, until no request has come for poll_us. So that one
  // busy client cannot starve tgtd's other connections, it gives the event loop back after at
  // most kPollSlice (kYield) and carries on in resume().
  Polling on_completions(std::size_t budget) override;
  Polling resume(std::size_t budget) override;
  static constexpr std::chrono::microseconds kPollSlice{1000};
  void on_disconnected() { disconnected_ = true; }
  // The LUN goes away: deregister everything of it now, then disconnect.
  void lun_gone(const PushLun* lun);
  // The LUN's access changed (PushLun::access): regions it no longer allows are deregistered
  // at once (their rkeys die: the client's next RDMA to them fails).
  void access_changed(const PushLun* lun);
  void close(const std::string& why) override;

  [[nodiscard]] bool admitted() const noexcept override { return state_ == State::kReady; }
  // Disconnected, or its peer found gone by a liveness probe (its connection may be destroyed
  // without waiting for RDMA CM).
  [[nodiscard]] bool finished() const noexcept override { return disconnected_ || peer_gone(); }
  [[nodiscard]] rdma::Connection& connection() const noexcept override { return *conn_; }
  [[nodiscard]] const PushLun* lun() const noexcept { return lun_; }
  [[nodiscard]] std::size_t regions() const noexcept { return regions_.size(); }
  // Bytes of the LUN its regions expose.
  [[nodiscard]] std::uint64_t exposed() const noexcept { return exposed_; }
  // The initiator name it was admitted with (empty before).
  [[nodiscard]] const std::string& initiator() const noexcept { return initiator_; }

  // Mirroring (issue 16). A session that asked MIRROR_STATE of a secondary LUN is that LUN's
  // mirror primary: it may register the whole LUN in one region, beyond the per-connection,
  // per-initiator and registration-rate limits (which would refuse any LUN over 1 GiB), and
  // a LUN has one at a time: when another session becomes its mirror primary, claimed runs
  // (the service then retires the older one: a primary that reconnected after a cut left
  // its old connection behind, still pinning the whole LUN).
  [[nodiscard]] bool mirror_primary() const noexcept { return mirror_primary_; }
  void on_mirror_claim(std::function<void(Session&)> claimed) { claimed_ = std::move(claimed); }
  // Every region goes now, then the connection (replaced by a newer mirror primary; the
  // LUN's removal, through lun_gone).
  void retire(const std::string& why);

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kAwaitConnect, kAwaitChap, kReady, kClosed };
  struct Region {
    std::uint64_t offset = 0;  // into the LUN
    std::uint64_t length = 0;
    std::uint8_t access = 0;
    std::unique_ptr<rdma::MemoryRegion> mr;
  };

  // Reaps completions, at most `budget` of them, handling the requests among them; true if
  // there were requests. Sets more_ when it stopped at the budget.
  bool take_completions(std::size_t budget);
  // Polls while requests keep coming less than poll_us apart, for one slice at most.
  Polling poll_on(std::size_t budget);
  void handle(std::span<const std::byte> msg);
  void on_connect(std::span<const std::byte> msg);
  void on_chap(std::span<const std::byte> msg);
  void on_register(std::span<const std::byte> msg);
  void on_commit(std::span<const std::byte> msg);
  // Persists the pending COMMIT, at most commit_slice bytes; true when it is done (replied).
  bool continue_commit();
  void drop_region(std::map<std::uint32_t, Region>::iterator it);
  void on_unregister(std::span<const std::byte> msg);
  void on_mirror_state(std::span<const std::byte> msg);
  void connect_ok(std::uint32_t request_id);
  void reply(const std::vector<std::byte>& msg);
  void post_recv(std::uint32_t index);
  void fail(const std::string& why);
  void log(bool error, const std::string& what);

  std::unique_ptr<rdma::Connection> conn_;  // first: destroyed last, after every region
  PushHost& host_;
  const std::vector<PushLun*>& luns_;
  SessionLimits limits_;
  State state_ = State::kAwaitConnect;
  bool disconnected_ = false;
  // push_poll_us: when the last request was handled (while polling on after it).
  std::chrono::steady_clock::time_point last_request_{};
  bool polling_ = false;  // gave the event loop back (kYield) and is to carry on
  bool more_ = false;     // stopped at its completion budget: completions may be waiting
  PushLun* lun_ = nullptr;
  bool mirror_primary_ = false;
  std::function<void(Session&)> claimed_;
  int tid_ = -1;                      // the target it was admitted to
  std::uint64_t requested_lun_ = 0;   // the LUN it asked for, given once admitted
  std::string initiator_;
  std::uint8_t chap_id_ = 0;
  std::array<std::uint8_t, kChapChallengeSize> chap_challenge_{};
  std::vector<std::byte> recv_mem_;
  std::unique_ptr<rdma::MemoryRegion> recv_mr_;
  std::vector<std::byte> send_mem_;
  std::unique_ptr<rdma::MemoryRegion> send_mr_;
  std::uint32_t send_next_ = 0;
  std::map<std::uint32_t, Region> regions_;
  std::uint32_t next_handle_ = 1;
  std::uint64_t exposed_ = 0;
  Exposure& exposure_;
  // Registration churn: bytes registered in the current one-second window.
  Clock::time_point register_window_{};
  std::uint64_t registered_in_window_ = 0;
  // A COMMIT being made durable across turns of the loop.
  struct PendingCommit {
    std::uint32_t request_id = 0;
    std::uint64_t base = 0;       // the region's offset in the LUN
    std::vector<Range> ranges;    // what is left, in order
  };
  std::optional<PendingCommit> commit_;
};

}  // namespace tgt_pmem::push
