// SPDX-License-Identifier: GPL-2.0-only
// RAII owners of the librdmacm/libibverbs objects, and the verbs Connection the listener
// (cm_listener.cc) hands out and the connector (cm_connector.cc) makes. Private to utils/rdma.
#pragma once

#include <fcntl.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "tgt_pmem/rdma/connection.h"
#include "verbs_util.h"

namespace tgt_pmem::rdma::detail {

struct EventChannelDeleter {
  // shared_ptr calls its deleter for a null pointer too.
  void operator()(rdma_event_channel* c) const noexcept {
    if (c != nullptr) rdma_destroy_event_channel(c);
  }
};
// Shared: the listening id and every id it spawned report on the one channel, and the channel
// must outlive all of them, whatever order the Listener and Connections are destroyed in.
using EventChannelPtr = std::shared_ptr<rdma_event_channel>;

// rdma_destroy_id blocks until every event of the id retrieved so far is acked: we ack each
// event before acting on it, so it never waits.
struct CmIdDeleter {
  void operator()(rdma_cm_id* id) const noexcept { rdma_destroy_id(id); }
};
using CmIdPtr = std::unique_ptr<rdma_cm_id, CmIdDeleter>;

struct PdDeleter {
  void operator()(ibv_pd* pd) const noexcept { ibv_dealloc_pd(pd); }
};
struct CompChannelDeleter {
  void operator()(ibv_comp_channel* c) const noexcept { ibv_destroy_comp_channel(c); }
};
struct CqDeleter {
  void operator()(ibv_cq* cq) const noexcept { ibv_destroy_cq(cq); }
};
// A QP made by rdma_create_qp belongs to its id and is destroyed through it.
struct QpDeleter {
  rdma_cm_id* id = nullptr;
  void operator()(ibv_qp*) const noexcept { rdma_destroy_qp(id); }
};
struct MrDeleter {
  void operator()(ibv_mr* mr) const noexcept { ibv_dereg_mr(mr); }
};

// A plain file descriptor (the active side's epoll set).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

inline bool set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// librdmacm's first call fails with ENODEV when there is no RDMA device, but with EPERM when
// the rdma_ucm module is not loaded (its ABI file is missing) and ENOENT without the
// /dev/infiniband/rdma_cm node. All three mean "no RDMA CM device here".
inline int cm_unavailable_errno(int e) {
  if (e == EPERM || e == ENOENT) return ENODEV;
  int count = 0;
  if (ibv_device** list = ibv_get_device_list(&count); list != nullptr) ibv_free_device_list(list);
  return count == 0 ? ENODEV : e;
}

// What the listener learnt about the device a connect request arrived on.
struct DeviceCaps {
  std::uint64_t node_guid = 0;  // host byte order
  int max_qp_init_rd_atom = 0;
  int max_qp_rd_atom = 0;
};

// Not final: in a build with RDMA FLUSH (TGTPMEM_HAVE_IBV_WR_FLUSH, verbs_flush.cc) a connection
// on a device that offers FLUSH is a VerbsFlushConnection, which is also FlushCapable.
class VerbsConnection : public Connection {
 public:
  // Creates PD, completion channel, CQ and QP on id (not owned yet) and accepts. On failure
  // everything made is released again and id is left as it was, without a QP, for the
  // caller to reject. On success the connection owns id and sets id->context to itself.
  [[nodiscard]] static Result<std::unique_ptr<VerbsConnection>> accept(
      EventChannelPtr channel, CmIdPtr& id, const DeviceCaps& caps, const QueueLimits& limits,
      std::uint8_t peer_responder, std::uint8_t peer_initiator,
      std::span<const std::byte> private_data);

  // The active side (cm_connector.cc): creates PD, completion channel, CQ and QP on id, whose
  // route is resolved, and owns id from the start (on failure it goes with everything made).
  // channel is id's own: the connector waits on it for the outcome of rdma_connect, then
  // calls watch_cm_events().
  [[nodiscard]] static Result<std::unique_ptr<VerbsConnection>> create_active(
      EventChannelPtr channel, CmIdPtr id, const QueueLimits& limits);

  ~VerbsConnection() override;
  VerbsConnection(const VerbsConnection&) = delete;
  VerbsConnection& operator=(const VerbsConnection&) = delete;

  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                        unsigned access) override;
  Result<std::unique_ptr<MemoryRegion>> register_memory_at(void* addr, std::size_t len,
                                                           unsigned access,
                                                           std::uint64_t iova) override;
  Status post_recv(std::uint64_t wr_id, LocalBuffer buf) override;
  Status post_send(std::uint64_t wr_id, LocalBuffer buf) override;
  Status post_rdma_read(std::uint64_t wr_id, std::span<const LocalBuffer> dst,
                        RemoteBuffer src) override;
  Status post_rdma_write(std::uint64_t wr_id, std::span<const LocalBuffer> src,
                         RemoteBuffer dst) override;
  Status post_chain(std::span<const SendWork> chain) override;
  Result<std::size_t> poll(std::span<Completion> out) override;
  int completion_fd() const noexcept override;
  Status arm() override;
  void disconnect() noexcept override;
  const QueueLimits& limits() const noexcept override { return limits_; }
  std::string peer_address() const override;

  // For the listener: true the first time each is asked (every event is reported once).
  [[nodiscard]] bool report_established() noexcept;
  [[nodiscard]] bool report_disconnected() noexcept;

  // Active side, once established: completion_fd() becomes an epoll set of the completion
  // channel and the id's own (non-blocking) event channel, and arm() takes the id's CM
  // events, disconnecting on the terminal ones (see connect() in connection.h).
  [[nodiscard]] Status watch_cm_events();
  // Active side: the RDMA READ depths the connection got.
  void set_read_depths(std::uint8_t initiator_depth, std::uint8_t responder_resources) noexcept {
    limits_.rdma_read_depth = initiator_depth;
    limits_.responder_resources = responder_resources;
  }
  [[nodiscard]] rdma_cm_id* cm_id() const noexcept { return raw_id_; }

 protected:
  VerbsConnection(EventChannelPtr channel, rdma_cm_id* id, const QueueLimits& limits);

 private:
  // A connection with its PD, completion channel, CQ and QP made on id, which it does not
  // own yet (both sides): one that can post RDMA FLUSH where the build and the device
  // allow (verbs_flush.cc), else a plain one.
  [[nodiscard]] static Result<std::unique_ptr<VerbsConnection>> make_with_queues(
      const EventChannelPtr& channel, rdma_cm_id* id, const QueueLimits& limits);
  // PD, completion channel, CQ and QP on raw_id_ (both sides).
  Status create_queues();
  // Active side: takes every CM event waiting on channel_ (arm()).
  Status take_cm_events();
  Status post_rdma(std::uint64_t wr_id, WorkType type, ibv_wr_opcode opcode,
                   std::span<const LocalBuffer> local, RemoteBuffer remote);
  // A send-queue request was posted with this slot (every post to the send queue).
  void sq_posted(std::int64_t slot, bool signaled);
  // The completion of send-queue slot came (released from slots_ already): the unsignalled
  // requests posted before it are done too; their slots are freed here.
  void sq_retire(std::uint64_t slot) noexcept;

  // Creation order: they are destroyed in reverse (QP, CQ, completion channel, PD, id).
  EventChannelPtr channel_;
  CmIdPtr id_;          // set once accepted; rdma_cm_id::context points to *this
  rdma_cm_id* raw_id_;  // the same id, also before it is owned
  std::unique_ptr<ibv_pd, PdDeleter> pd_;
  std::unique_ptr<ibv_comp_channel, CompChannelDeleter> comp_channel_;
  std::unique_ptr<ibv_cq, CqDeleter> cq_;
  std::unique_ptr<ibv_qp, QpDeleter> qp_;

  QueueLimits limits_;  // as negotiated: rdma_read_depth/responder_resources clamped
  WorkSlots slots_;
  std::vector<ibv_sge> sges_;  // max_sge entries: RDMA work requests are built here
  std::vector<ibv_send_wr> chain_wrs_;  // post_chain builds its requests here (reused)
  std::vector<ibv_sge> chain_sges_;
  // Send-queue requests posted and not yet retired, in posting order: a signalled
  // completion retires the unsignalled ones before it (RC completes in order).
  struct SqEntry {
    std::uint64_t slot = 0;
    bool signaled = true;
  };
  std::deque<SqEntry> sq_order_;
  std::uint32_t send_outstanding_ = 0;  // send-queue slots held, unsignalled ones included
  std::uint32_t recv_outstanding_ = 0;
  bool disconnected_ = false;
  bool established_reported_ = false;
  bool disconnect_reported_ = false;
  UniqueFd cm_epoll_;  // active side after watch_cm_events(): what completion_fd() returns

#if TGTPMEM_HAVE_IBV_WR_FLUSH
  // --- RDMA FLUSH (verbs_flush.cc), in builds whose libibverbs has ibv_wr_flush ---------
  friend class VerbsFlushConnection;
  // A VerbsFlushConnection with its queues, or an error when the device does not offer
  // FLUSH to the persistence domain or its provider would not make a QP for it.
  [[nodiscard]] static Result<std::unique_ptr<VerbsConnection>> make_flush_capable(
      const EventChannelPtr& channel, rdma_cm_id* id, const QueueLimits& limits);
  // The QP of create_queues() when flush_ops_: an extended QP whose send ops include FLUSH.
  Status create_flush_qp(const ibv_qp_init_attr& attr);
  // The FLUSH work request, posted with the ibv_wr_* API on qpx_.
  Status post_flush(std::uint64_t wr_id, RemoteBuffer dst);
  bool flush_ops_ = false;    // set by VerbsFlushConnection before create_queues()
  ibv_qp_ex* qpx_ = nullptr;  // qp_ as an extended QP (flush_ops_)
#endif
};

}  // namespace tgt_pmem::rdma::detail
