// SPDX-License-Identifier: GPL-2.0-only
// The secondary of a mirrored LUN over RDMA (issue 16): the primary is a push-mode client of
// the secondary's tgtd (iser_ext/async_client), driven from tgtd's loop. This is the
// production Replica (replica.h) and the link's life:
//   connect (on a thread of its own: rdma_host/background_connect.h) -> CONNECT (+CHAP) ->
//   MIRROR_STATE (the secondary's role and generations) -> REGISTER of the whole LUN -> up.
// Once up, events.up(secondary's generations) says so; the owner decides what may flow
// (generations.h: decide) and may stop() the link. Any failure after that - a failed or
// timed-out completion, the secondary's tgtd gone - fails every write in flight with its
// error, reports events.down once, and a new attempt follows after a backoff (retry_min,
// doubling to retry_max). A secondary that is not one (role), or whose LUN has another size,
// is refused like a failed connect: reported by down, tried again later (an administrator
// may be fixing it).
//
// Threading: tgtd's loop only (the connect's thread touches none of this). Never blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "async_session.h"
#include "mirror/generations.h"
#include "mirror/replica.h"
#include "tgt_pmem/rdma_host/background_connect.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::bs::mirror {

class RdmaReplica final : public Replica {
 public:
  using Clock = rdma_host::Clock;
  struct Config {
    push::AsyncSession::Options session;  // names, LUN, CHAP, timeouts
    std::string peer;                     // "address:port", for logs and status
    std::uint64_t lun_size = 0;           // the primary's: the secondary's must be equal
    std::chrono::milliseconds retry_min{1000};
    std::chrono::milliseconds retry_max{30000};
  };
  struct Events {
    std::function<void(const Generations& secondary)> up;
    std::function<void(std::error_code why, const std::string& what)> down;
  };
  enum class Link { kStopped, kConnecting, kHandshake, kUp, kWaiting };

  // connect: the blocking connect, run on the attempt's thread (rdma::connect in bs_pmem).
  RdmaReplica(rdma_host::Loop& loop, Config config, rdma_host::BackgroundConnect::Work connect,
              Events events);
  ~RdmaReplica() override;
  RdmaReplica(const RdmaReplica&) = delete;
  RdmaReplica& operator=(const RdmaReplica&) = delete;

  // Starts the first attempt now (from kStopped); later ones follow by themselves.
  void start();
  // Drops the link (writes in flight fail) and makes no more attempts until start().
  void stop();
  // Drops the link as a failure of phase `what` (the owner refused the secondary): reported
  // by down, tried again after the backoff.
  void drop(std::error_code why, const std::string& what) { fail(why, what); }
  // Deadlines of the session, the next attempt when due. From a timer of the loop.
  void tick();
  // The session's completions: what the completion fd's watch runs; tests (whose fake
  // connections have no fd) call it themselves.
  void poll();

  // Replica
  [[nodiscard]] bool available() const noexcept override { return link_ == Link::kUp; }
  [[nodiscard]] std::error_code write(std::uint64_t offset, std::span<const std::byte> data,
                                      Done done) override;
  [[nodiscard]] std::error_code record_generations(const Generations& g, Done done) override;

  [[nodiscard]] Link link() const noexcept { return link_; }
  // The first attempt since start() has not ended yet (neither up nor failed): the secondary
  // may well be there in a moment (tgtd and the LUN just started).
  [[nodiscard]] bool first_attempt_pending() const noexcept {
    return !settled_ && (link_ == Link::kConnecting || link_ == Link::kHandshake);
  }
  [[nodiscard]] std::error_code last_error() const noexcept { return last_error_; }
  [[nodiscard]] const std::string& last_failure() const noexcept { return last_failure_; }
  // How writes are made durable there: "rdma-flush", "commit", or "" while not up.
  [[nodiscard]] std::string durability() const;

 private:
  void attempt();
  void on_connected(rdma_host::BackgroundConnect::Result r);
  void on_logged_in(const push::ConnectReply& reply);
  void on_state(const push::MirrorStateReply& reply);
  // The link failed in phase `what`: everything in flight fails (the session's callbacks),
  // down is reported if it was up, the next attempt is scheduled.
  void fail(std::error_code why, const std::string& what);
  void bury();

  rdma_host::Loop& loop_;
  Config config_;
  rdma_host::BackgroundConnect::Work connect_;
  Events events_;
  Link link_ = Link::kStopped;
  bool settled_ = false;  // an attempt since start() ended, up or failed
  std::unique_ptr<rdma_host::BackgroundConnect> connecting_;
  std::unique_ptr<push::AsyncSession> session_;
  int watched_fd_ = -1;
  push::Region region_;
  Generations secondary_;
  // Sessions that failed, destroyed outside their own callbacks (tick, poll).
  std::vector<std::unique_ptr<push::AsyncSession>> graveyard_;
  std::chrono::milliseconds backoff_;
  Clock::time_point next_attempt_{};
  std::error_code last_error_;
  std::string last_failure_;
  std::uint64_t generation_ = 0;  // counts sessions: a callback of an old one is ignored
};

[[nodiscard]] const char* to_string(RdmaReplica::Link l) noexcept;

}  // namespace tgt_pmem::bs::mirror
