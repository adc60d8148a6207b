// SPDX-License-Identifier: GPL-2.0-only
// The push-mode protocol driven from an event loop instead of a blocked caller: what a mirror
// primary inside tgtd speaks to its secondary (issue 16; docs/replication-design.md). The
// blocking client (tgt_pmem/push/client.h) is for applications; this one never waits:
// every operation is started, and its callback runs later, from on_completions() or
// check_timeouts(), on the thread that calls those (tgtd's loop).
//
// What it does on one connected rdma::Connection:
//   - requests (CONNECT, CHAP_RESPONSE, REGISTER, MIRROR_STATE, COMMIT), one outstanding at a
//     time as the protocol says, the others queued in order;
//   - durable writes: the bytes are copied into a registered staging area (piece by piece,
//     pieces of Options::piece_bytes), sent with RDMA WRITE, and made durable at the target
//     by RDMA FLUSH (where the connection offers it and the region is flushable) or else by
//     COMMIT. COMMITs are batched: the ranges of every write whose WRITEs were posted while
//     one COMMIT was outstanding go in the next (at most kMaxCommitRanges). A write's
//     callback says durable only after its FLUSH completed or the COMMIT covering it was
//     answered kOk. Writes start in the order they were given.
//   - failure: the first error (a failed completion, a refused post, a bad reply, a
//     deadline passed) breaks the session for good. One receive stays posted at all times,
//     so that a connection that dies while idle (the peer's tgtd gone) is noticed at once. The QP goes to the error state, and
//     every operation not yet answered fails with that error, from the next on_completions()
//     or check_timeouts(). A broken session refuses new operations.
//
// Threading: none; one thread calls everything. Callbacks may start new operations (a broken
// session refuses them) but must not destroy the session: defer that to the loop's next turn.
// Destroying the session calls no callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "tgt_pmem/flush/remote.h"
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/push/protocol.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::push {

class AsyncSession {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string initiator_name;
    std::string target_name;
    std::uint64_t lun = 0;
    std::string chap_user;  // empty: no CHAP
    std::string chap_secret;
    // RDMA FLUSH where the connection and the region offer it; false: always COMMIT.
    bool rdma_flush = true;
    std::size_t piece_bytes = 256 * 1024;
    std::size_t pieces = 32;  // staging = pieces * piece_bytes, registered once
    // Every request's reply and every write's durability must come within this.
    std::chrono::milliseconds timeout{10000};
  };

  using Done = std::function<void(std::error_code)>;
  using LoginDone = std::function<void(std::error_code, const ConnectReply&)>;
  using RegisterDone = std::function<void(std::error_code, const Region&)>;
  using MirrorDone = std::function<void(std::error_code, const MirrorStateReply&)>;

  // Registers the staging area and the message buffers with connection.
  // Errors: EINVAL (no pieces), the errno of register_memory.
  [[nodiscard]] static std::expected<std::unique_ptr<AsyncSession>, std::error_code> make(
      std::unique_ptr<rdma::Connection> connection, const Options& options);
  ~AsyncSession();
  AsyncSession(const AsyncSession&) = delete;
  AsyncSession& operator=(const AsyncSession&) = delete;

  // Each returns an error, and never calls its callback, if the session is broken or the
  // arguments are refused (EINVAL); otherwise the callback is called once, later.
  // CONNECT, and CHAP_RESPONSE when the target asks (with no chap_user: status kChapRequired).
  [[nodiscard]] std::error_code login(LoginDone done);
  [[nodiscard]] std::error_code register_region(std::uint64_t offset, std::uint64_t length,
                                                std::uint8_t access, RegisterDone done);
  [[nodiscard]] std::error_code mirror_state(const MirrorState& m, MirrorDone done);
  // data is copied before the call returns only if staging has room; otherwise it is copied
  // when room frees up: data must stay valid until done. The range must lie in region.
  [[nodiscard]] std::error_code write_durable(const Region& region, std::uint64_t offset,
                                              std::span<const std::byte> data, Done done);

  // Whether write_durable() of region uses RDMA FLUSH (else COMMIT).
  [[nodiscard]] bool uses_rdma_flush(const Region& region) const noexcept;

  // The loop calls this when completion_fd() is readable (fakes: whenever there may be
  // completions). Reaps completions, runs callbacks, re-arms.
  void on_completions();
  // Breaks the session if something outstanding passed its deadline; delivers the failures
  // of a broken session. Called from a timer.
  void check_timeouts(Clock::time_point now);

  // Breaks the session with why (if not broken yet) and fails, from inside this call, every
  // operation not yet answered: how its owner lets go of it (never from its callbacks'
  // callers' point of view a surprise: each callback still runs once).
  void close(std::error_code why);

  [[nodiscard]] int completion_fd() const noexcept { return connection_->completion_fd(); }
  [[nodiscard]] bool broken() const noexcept { return static_cast<bool>(broken_); }
  [[nodiscard]] std::error_code broken_reason() const noexcept { return broken_; }
  [[nodiscard]] rdma::Connection& connection() noexcept { return *connection_; }
  // Operations started and not yet answered.
  [[nodiscard]] std::size_t outstanding() const noexcept;

 private:
  struct Request;
  struct Write;
  struct Wr;
  AsyncSession(std::unique_ptr<rdma::Connection> connection, const Options& options);
  std::error_code enqueue(std::vector<std::byte> message, MessageType reply_type,
                          std::function<void(std::error_code, std::span<const std::byte>)> on);
  void pump();
  void pump_requests();
  void pump_writes();
  void take(const rdma::Completion& c);
  void on_reply(std::span<const std::byte> bytes);
  void post_receive();
  void write_piece_done(std::uint64_t write_id);
  void break_with(std::error_code why);
  void deliver_failures();
  std::uint64_t wr_id(std::uint8_t kind) noexcept;

  Options options_;
  std::unique_ptr<rdma::Connection> connection_;
  std::vector<std::byte> staging_;
  std::vector<std::byte> send_buf_;
  std::vector<std::byte> recv_buf_;
  std::unique_ptr<rdma::MemoryRegion> staging_mr_;
  std::unique_ptr<rdma::MemoryRegion> send_mr_;
  std::unique_ptr<rdma::MemoryRegion> recv_mr_;
  std::unique_ptr<flush::RemoteFlusher> rdma_flusher_;  // made on first use
  bool rdma_flush_offered_ = false;

  std::deque<std::unique_ptr<Request>> requests_;  // front: the one outstanding, if sent
  bool request_sent_ = false;
  Clock::time_point request_deadline_{};
  std::uint32_t next_request_id_ = 1;

  std::map<std::uint64_t, std::unique_ptr<Write>> writes_;  // by id, in the order given
  std::uint64_t next_write_id_ = 1;
  std::vector<std::size_t> free_pieces_;
  std::map<std::uint64_t, Wr> wrs_;  // signalled work requests outstanding, by wr_id
  std::uint64_t next_wr_ = 1;
  // Writes whose WRITEs are all posted and that wait for a COMMIT, in order.
  std::deque<std::uint64_t> to_commit_;

  std::error_code broken_;
};

}  // namespace tgt_pmem::push
