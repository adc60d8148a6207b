// SPDX-License-Identifier: GPL-2.0-only
// RAII owners of the librdmacm/libibverbs objects, and the verbs Connection the listener
// (cm_listener.cc) hands out. Private to utils/rdma.
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <memory>
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

// What the listener learnt about the device a connect request arrived on.
struct DeviceCaps {
  std::uint64_t node_guid = 0;  // host byte order
  int max_qp_init_rd_atom = 0;
  int max_qp_rd_atom = 0;
};

class VerbsConnection final : public Connection {
 public:
  // Creates PD, completion channel, CQ and QP on id (not owned yet) and accepts. On failure
  // everything made is released again and id is left as it was, without a QP, for the
  // caller to reject. On success the connection owns id and sets id->context to itself.
  [[nodiscard]] static Result<std::unique_ptr<VerbsConnection>> accept(
      EventChannelPtr channel, CmIdPtr& id, const DeviceCaps& caps, const QueueLimits& limits,
      std::uint8_t peer_responder, std::uint8_t peer_initiator,
      std::span<const std::byte> private_data);

  ~VerbsConnection() override;
  VerbsConnection(const VerbsConnection&) = delete;
  VerbsConnection& operator=(const VerbsConnection&) = delete;

  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                        unsigned access) override;
  Status post_recv(std::uint64_t wr_id, LocalBuffer buf) override;
  Status post_send(std::uint64_t wr_id, LocalBuffer buf) override;
  Status post_rdma_read(std::uint64_t wr_id, std::span<const LocalBuffer> dst,
                        RemoteBuffer src) override;
  Status post_rdma_write(std::uint64_t wr_id, std::span<const LocalBuffer> src,
                         RemoteBuffer dst) override;
  Result<std::size_t> poll(std::span<Completion> out) override;
  int completion_fd() const noexcept override;
  Status arm() override;
  void disconnect() noexcept override;
  const QueueLimits& limits() const noexcept override { return limits_; }
  std::string peer_address() const override;

  // For the listener: true the first time each is asked (every event is reported once).
  [[nodiscard]] bool report_established() noexcept;
  [[nodiscard]] bool report_disconnected() noexcept;

 private:
  VerbsConnection(EventChannelPtr channel, rdma_cm_id* id, const QueueLimits& limits);
  Status post_rdma(std::uint64_t wr_id, WorkType type, ibv_wr_opcode opcode,
                   std::span<const LocalBuffer> local, RemoteBuffer remote);

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
  std::uint32_t send_outstanding_ = 0;
  std::uint32_t recv_outstanding_ = 0;
  bool disconnected_ = false;
  bool established_reported_ = false;
  bool disconnect_reported_ = false;
};

}  // namespace tgt_pmem::rdma::detail
