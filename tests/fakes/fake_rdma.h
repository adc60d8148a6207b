// SPDX-License-Identifier: GPL-2.0-only
// A fake of the RDMA seam (utils/rdma/include/tgt_pmem/rdma/connection.h) for unit-testing
// protocol code on a host without RDMA hardware. The test plays the peer (the initiator)
// through a FakePeer; the code under test holds the Connection.
//
// What it models, as real RC verbs do (tests of the fake in tests/unit/rdma/ pin it down):
//  - Work requests run in posting order when the test says so (complete_all(),
//    complete_next()) or at once (set_auto_complete(true)); receives complete when the peer
//    deliver()s a message. Completions wait in a queue until poll() takes them.
//  - RDMA READ/WRITE are memcpy against regions the peer registered (add_region), checking
//    rkey, bounds and access; local buffers are checked against the code's registrations
//    (lkey, bounds, local write for receive and RDMA READ targets).
//  - The first error completion (a violation, an injected failure, a too-long message) puts
//    the QP into the error state: everything outstanding, and everything posted later,
//    completes with IBV_WC_WR_FLUSH_ERR. disconnect() does the same, like rdma_disconnect.
//  - A queue's slots are free again when poll() has returned the completion: posting more
//    than send_depth (sends + RDMA) or recv_depth not yet polled fails with ENOMEM.
//  - post_chain: one post of several send-queue requests (all or nothing: EINVAL, ENOMEM
//    without room for all, an injected post failure). An unsignalled request that succeeds
//    queues no completion and keeps its slot until the next send-queue completion (of a
//    later request) is polled; one that fails, or flushes, queues its completion.
//  - RDMA FLUSH (rdma::FlushCapable), on a connection made to offer it (connect_flush_capable,
//    FakeRequest::rdma_flush), like a device that supports it: a send-queue request of type
//    kRdmaWrite, run in order, that moves no data and needs a region registered with
//    rdma::kRemoteFlush covering the range (else IBV_WC_REM_ACCESS_ERR). Plain connections
//    are not FlushCapable, like a device or a build without RDMA FLUSH.
//
// Not thread-safe, like the real thing. FakePeer is a handle: copies share one peer.
#pragma once

#include <infiniband/verbs.h>  // enum ibv_wc_status, for vendor_status

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::testing {

namespace fake_rdma_detail {
struct QpState;
struct ListenerQueue;
}  // namespace fake_rdma_detail

class FakeConnection;
class FakeFlushConnection;

// One work request as the code posted it to the send queue (FakePeer::send_posts).
struct PostedWork {
  std::uint64_t wr_id = 0;
  rdma::WorkType type = rdma::WorkType::kSend;
  bool signaled = true;
};

// What a FakeListener's connect request carries besides the private data.
struct FakeRequest {
  std::string peer_address = "192.0.2.2:45678";
  std::uint64_t local_node_guid = 0x0002c90300a0b0c0;
  std::uint8_t responder_resources = 16;  // the peer's: bounds our RDMA READ depth
  std::uint8_t initiator_depth = 16;      // the peer's: bounds our responder resources
  int device_max_rd_atom = 128;           // the local device's limit (rxe: 128)
  bool rdma_flush = false;                // accept() makes a FakeFlushConnection
  // The room for private data in the request. RDMA CM over IB/RoCE (RDMA_PS_TCP) reports
  // exactly 56 bytes, zero-padded after what the peer sent, and a peer cannot send more;
  // 0: the exact length, as iWARP reports it.
  std::size_t private_data_room = 56;
};

class FakePeer {
 public:
  FakePeer();

  // --- Making the connection without a listener ------------------------------------------
  // The Connection for the code under test, with exactly these limits. Once per peer.
  [[nodiscard]] std::unique_ptr<FakeConnection> connect(const rdma::QueueLimits& limits = {});
  // The same, offering RDMA FLUSH (rdma::FlushCapable). Once per peer, instead of connect().
  [[nodiscard]] std::unique_ptr<FakeFlushConnection> connect_flush_capable(
      const rdma::QueueLimits& limits = {});

  // --- The peer's memory: targets of the code's RDMA READ and WRITE ----------------------
  // A zero-filled region (or one holding contents) at a fresh address with a fresh rkey.
  // RDMA FLUSH needs rdma::kRemoteFlush in access.
  rdma::RemoteBuffer add_region(std::size_t size,
                                unsigned access = rdma::kRemoteRead | rdma::kRemoteWrite);
  rdma::RemoteBuffer add_region(std::span<const std::byte> contents,
                                unsigned access = rdma::kRemoteRead | rdma::kRemoteWrite);
  // The bytes of a region, to fill or check; empty for an unknown rkey.
  [[nodiscard]] std::span<std::byte> region(std::uint32_t rkey) const;
  // Invalidates the rkey (the peer deregistered): later accesses fail with REM_ACCESS_ERR.
  void remove_region(std::uint32_t rkey);

  // --- Messages ------------------------------------------------------------------------
  // The peer sends: completes the oldest posted receive with bytes copied into it. False
  // when nothing landed: no receive posted or QP in the error state (nothing changes), the
  // buffer too small (IBV_WC_LOC_LEN_ERR completion, QP to error), a bad local buffer
  // (IBV_WC_LOC_PROT_ERR, QP to error) or an injected kRecv failure.
  [[nodiscard]] bool deliver(std::span<const std::byte> bytes);
  // Every message the code posted with post_send, in order, copied at post time (a send
  // posted to a QP in the error state or from an invalid buffer is not among them).
  [[nodiscard]] const std::vector<std::vector<std::byte>>& sent() const;
  // sent(), emptying it.
  std::vector<std::vector<std::byte>> take_sent();

  // --- When work completes -----------------------------------------------------------------
  // Runs every posted send / RDMA READ / RDMA WRITE in order and queues their completions.
  // Returns how many ran.
  std::size_t complete_all();
  // Runs the oldest one; false when there is none.
  bool complete_next();
  // From now on work runs when posted (and pending work runs at once).
  void set_auto_complete(bool on);

  // --- Faults --------------------------------------------------------------------------
  // The next count work requests of this type complete with status (an ibv_wc_status, e.g.
  // IBV_WC_REM_ACCESS_ERR, IBV_WC_RETRY_EXC_ERR) when they run; kRecv: on deliver().
  void fail_next(rdma::WorkType type, int status, std::size_t count = 1);
  // The next post_* call returns ec (and posts nothing).
  void fail_next_post(std::error_code ec);
  // The next count register_memory calls return ec.
  void fail_next_registration(std::error_code ec, std::size_t count = 1);
  // The next poll call returns ec (and takes nothing).
  void fail_next_poll(std::error_code ec);
  // act runs at the start of every poll of the code's connection: the peer acting while the
  // code polls (e.g. deliver() its next request). An empty function stops it.
  void on_poll(std::function<void()> act);
  // The link broke: QP to the error state, outstanding work flushes.
  void move_to_error();

  // --- The peer accessing the code's registered memory (push mode) ----------------------
  // IBV_WC_SUCCESS, or IBV_WC_REM_ACCESS_ERR for an unknown rkey, out of bounds or without
  // remote write / read access (the code's QP then goes to the error state, as a responder's
  // does), or IBV_WC_RETRY_EXC_ERR when the code's QP is in the error state or gone.
  [[nodiscard]] int peer_rdma_write(std::uint32_t rkey, std::uint64_t addr,
                                    std::span<const std::byte> bytes);
  [[nodiscard]] std::expected<std::vector<std::byte>, int> peer_rdma_read(std::uint32_t rkey,
                                                                          std::uint64_t addr,
                                                                          std::uint32_t len);
  // An RDMA FLUSH by the peer of [addr, addr + len): moves nothing, needs a registration with
  // rdma::kRemoteFlush covering the range (else IBV_WC_REM_ACCESS_ERR, QP to the error state).
  [[nodiscard]] int peer_rdma_flush(std::uint32_t rkey, std::uint64_t addr, std::uint32_t len);

  // --- Looking --------------------------------------------------------------------------
  // Every post to the send queue, one entry per call (post_send, post_rdma_*, post_chain:
  // one ibv_post_send each) with its requests in order.
  [[nodiscard]] const std::vector<std::vector<PostedWork>>& send_posts() const;
  // Send-queue slots taken: posted, and no completion that frees them polled yet (an
  // unsignalled request that ran holds its slot until a later completion is polled).
  [[nodiscard]] std::size_t send_slots_held() const;
  [[nodiscard]] std::size_t pending_work() const;        // posted, not run yet
  [[nodiscard]] std::size_t posted_receives() const;     // waiting for deliver()
  [[nodiscard]] std::size_t queued_completions() const;  // not polled yet
  [[nodiscard]] bool in_error() const;
  [[nodiscard]] std::size_t live_regions() const;   // the code's registrations alive now
  [[nodiscard]] std::size_t registrations() const;  // successful register_memory calls
  // The access asked for by every successful register_memory call, in order.
  [[nodiscard]] std::vector<unsigned> registration_access() const;
  // Every RDMA FLUSH the code posted (FlushCapable) that ran, whatever its outcome, in order.
  [[nodiscard]] std::vector<rdma::RemoteBuffer> rdma_flushes_run() const;
  // Regions still registered when the Connection was destroyed (the contract says 0).
  [[nodiscard]] std::size_t regions_live_at_close() const;
  [[nodiscard]] bool connection_destroyed() const;
  [[nodiscard]] bool disconnect_called() const;  // the code called Connection::disconnect()
  [[nodiscard]] std::size_t arm_calls() const;

  // --- The handshake (through a FakeListener) -------------------------------------------
  [[nodiscard]] bool accepted() const;
  [[nodiscard]] bool rejected() const;  // also: PendingConnection destroyed unanswered
  // What the code sent with accept() or reject().
  [[nodiscard]] std::vector<std::byte> reply_private_data() const;
  // The limits the code passed to accept() (limits() of the connection are negotiated).
  [[nodiscard]] rdma::QueueLimits requested_limits() const;
  // The next accept() of this request fails with ec (the request stays unanswered).
  void fail_accept(std::error_code ec);
  // Queues kEstablished on the listener (needed only after set_auto_establish(false)).
  void establish();
  // The peer disconnects: QP to the error state, kDisconnected queued on the listener.
  void disconnect();

 private:
  friend class FakeListener;
  friend class FakeConnection;
  explicit FakePeer(std::shared_ptr<fake_rdma_detail::QpState> state);
  std::shared_ptr<fake_rdma_detail::QpState> state_;
};

// Not final: FakeFlushConnection is one that also offers RDMA FLUSH.
class FakeConnection : public rdma::Connection {
 public:
  explicit FakeConnection(std::shared_ptr<fake_rdma_detail::QpState> state);
  ~FakeConnection() override;
  FakeConnection(const FakeConnection&) = delete;
  FakeConnection& operator=(const FakeConnection&) = delete;

  [[nodiscard]] FakePeer peer() const;

  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                                    unsigned access) override;
  // Peers' RDMA (peer_rdma_*) addresses the region from iova.
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory_at(
      void* addr, std::size_t len, unsigned access, std::uint64_t iova) override;
  rdma::Status post_recv(std::uint64_t wr_id, rdma::LocalBuffer buf) override;
  rdma::Status post_send(std::uint64_t wr_id, rdma::LocalBuffer buf) override;
  rdma::Status post_rdma_read(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> dst,
                              rdma::RemoteBuffer src) override;
  rdma::Status post_rdma_write(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> src,
                               rdma::RemoteBuffer dst) override;
  rdma::Status post_chain(std::span<const rdma::SendWork> chain) override;
  rdma::Result<std::size_t> poll(std::span<rdma::Completion> out) override;
  int completion_fd() const noexcept override { return -1; }
  rdma::Status arm() override;
  void disconnect() noexcept override;
  const rdma::QueueLimits& limits() const noexcept override;
  std::string peer_address() const override;

 protected:
  [[nodiscard]] fake_rdma_detail::QpState& state() const noexcept { return *state_; }

 private:
  std::shared_ptr<fake_rdma_detail::QpState> state_;
};

// A FakeConnection that can post RDMA FLUSH, as a verbs connection on a device with it.
class FakeFlushConnection final : public FakeConnection, public rdma::FlushCapable {
 public:
  using FakeConnection::FakeConnection;
  // EINVAL for an empty range, else as the other posts (ENOMEM when the queue is full, an
  // injected post failure).
  rdma::Status post_rdma_flush(std::uint64_t wr_id, rdma::RemoteBuffer dst) override;
};

// A listener whose connect requests the test makes. Events come out in the order they were
// queued; events of a Connection already destroyed are dropped, as RDMA CM drops them.
class FakeListener final : public rdma::Listener {
 public:
  explicit FakeListener(std::uint16_t port = 5555);
  ~FakeListener() override;

  // Queues kConnectRequest; the returned peer is the one accept() connects to. Throws
  // std::invalid_argument for more private data than request.private_data_room.
  FakePeer connect_request(std::span<const std::byte> private_data, FakeRequest request = {});
  // Whether accept() queues kEstablished at once (default) or waits for peer.establish().
  void set_auto_establish(bool on);
  // The next next_event() returns ec.
  void fail_next_event(std::error_code ec);
  [[nodiscard]] std::size_t queued_events() const;

  int event_fd() const noexcept override { return -1; }
  rdma::Result<std::optional<rdma::ListenerEvent>> next_event() override;
  std::uint16_t port() const noexcept override { return port_; }

 private:
  std::shared_ptr<fake_rdma_detail::ListenerQueue> queue_;
  std::uint16_t port_;
};

}  // namespace tgt_pmem::testing
