// SPDX-License-Identifier: GPL-2.0-only
// RDMA FLUSH (IBTA Memory Placement Extensions) on the verbs connection: compiled only in a
// build whose libibverbs has ibv_wr_flush (rdma-core >= 45; CMake's TGTPMEM_HAVE_IBV_WR_FLUSH,
// see utils/CMakeLists.txt). Debian 12's rdma-core 44 has none: there this file is empty and
// no connection is FlushCapable.
//
// A connection can post FLUSH when the device reports FLUSH to the persistence domain in its
// extended capabilities and its provider makes an extended QP with IBV_QP_EX_WITH_FLUSH among
// the send operations (ibv_wr_post(3): the operations posted with ibv_wr_* must be named when
// the QP is made). The other operations keep going through ibv_post_send (verbs_connection.cc):
// ibv_wr_post(3) allows both on one QP as long as an ibv_post_send does not fall between
// ibv_wr_start and ibv_wr_complete, which cannot happen on a connection driven from one
// thread (connection.h). Anything else gets a plain connection, as without this file.
//
// The target's side needs nothing here (FLUSH is a send operation of the requester), but
// its responder checks two things. Its QP must allow FLUSH: RDMA CM's kernel side (Linux
// >= 6.2) sets IB_ACCESS_FLUSH_* in the QP's access flags itself when the device supports
// FLUSH and the connection has responder resources, as ours do; rxe answers a FLUSH to a QP
// without it with an invalid-request NAK. And the rkey must come from a registration with
// IBV_ACCESS_FLUSH_PERSISTENT (rdma::kRemoteFlush), which rxe grants only for pages of
// persistent memory (EINVAL otherwise); without it the FLUSH fails with a remote access error.
#include "verbs_objects.h"

#if TGTPMEM_HAVE_IBV_WR_FLUSH

#include <cerrno>
#include <new>

namespace tgt_pmem::rdma::detail {
namespace {

// IB_UVERBS_DEVICE_FLUSH_PERSISTENT of the kernel's uAPI (rdma/ib_user_verbs.h, Linux >= 6.2):
// libibverbs passes the kernel's extended device capabilities through in
// ibv_device_attr_ex::device_cap_flags_ex but names no IBV_DEVICE_ constant for this one.
constexpr std::uint64_t kDeviceFlushPersistent = 1ULL << 39;

// The send operations verbs_connection.cc posts (ibv_post_send), and FLUSH (ibv_wr_flush).
constexpr std::uint64_t kSendOps = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_RDMA_WRITE |
                                   IBV_QP_EX_WITH_RDMA_READ | IBV_QP_EX_WITH_FLUSH;

std::unexpected<std::error_code> fail(int e) { return std::unexpected(errno_code(e)); }

bool device_offers_flush(ibv_context* verbs) {
  ibv_device_attr_ex attr{};
  if (verbs == nullptr || ibv_query_device_ex(verbs, nullptr, &attr) != 0) return false;
  return (attr.device_cap_flags_ex & kDeviceFlushPersistent) != 0;
}

}  // namespace

// A VerbsConnection whose QP can post FLUSH, and that says so to dynamic_cast<FlushCapable*>.
class VerbsFlushConnection final : public VerbsConnection, public FlushCapable {
 public:
  VerbsFlushConnection(const EventChannelPtr& channel, rdma_cm_id* id, const QueueLimits& limits)
      : VerbsConnection(channel, id, limits) {
    flush_ops_ = true;
  }

  Status post_rdma_flush(std::uint64_t wr_id, RemoteBuffer dst) override {
    return post_flush(wr_id, dst);
  }
};

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::make_flush_capable(
    const EventChannelPtr& channel, rdma_cm_id* id, const QueueLimits& limits) {
  if (!device_offers_flush(id->verbs)) return fail(EOPNOTSUPP);
  std::unique_ptr<VerbsConnection> c;
  try {
    c = std::make_unique<VerbsFlushConnection>(channel, id, limits);
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
  // On failure c goes with the PD, CQ and channel it made; id is left without a QP.
  if (auto made = c->create_queues(); !made) return std::unexpected(made.error());
  return c;
}

Status VerbsConnection::create_flush_qp(const ibv_qp_init_attr& attr) {
  ibv_qp_init_attr_ex ex{};
  ex.send_cq = attr.send_cq;
  ex.recv_cq = attr.recv_cq;
  ex.qp_type = attr.qp_type;
  ex.sq_sig_all = attr.sq_sig_all;
  ex.cap = attr.cap;
  ex.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
  ex.pd = pd_.get();
  ex.send_ops_flags = kSendOps;
  // A provider that cannot post one of kSendOps refuses the QP (EOPNOTSUPP, EINVAL).
  if (rdma_create_qp_ex(raw_id_, &ex) != 0) return fail(errno);
  qp_ = std::unique_ptr<ibv_qp, QpDeleter>(raw_id_->qp, QpDeleter{raw_id_});
  qpx_ = ibv_qp_to_qp_ex(qp_.get());
  if (qpx_ == nullptr) return fail(EOPNOTSUPP);  // ~VerbsConnection destroys the QP
  return {};
}

Status VerbsConnection::post_flush(std::uint64_t wr_id, RemoteBuffer dst) {
  if (qpx_ == nullptr) return fail(EOPNOTSUPP);
  if (dst.length == 0) return fail(EINVAL);
  if (send_outstanding_ >= limits_.send_depth) return fail(ENOMEM);
  const std::int64_t slot = slots_.acquire(wr_id, WorkType::kRdmaWrite);  // connection.h
  if (slot < 0) return fail(ENOMEM);

  // No IBV_SEND_FENCE: the responder executes an RC QP's requests in order, so the FLUSH
  // covers the RDMA WRITEs posted before it (a fence would only wait for earlier READs).
  ibv_wr_start(qpx_);
  qpx_->wr_id = static_cast<std::uint64_t>(slot);
  qpx_->wr_flags = IBV_SEND_SIGNALED;
  ibv_wr_flush(qpx_, dst.rkey, dst.addr, dst.length, IBV_FLUSH_PERSISTENT, IBV_FLUSH_RANGE);
  // Errors (ENOMEM: the send queue is full) surface here; nothing was posted then.
  if (const int e = ibv_wr_complete(qpx_); e != 0) {
    WorkSlots::Entry unused;
    (void)slots_.release(static_cast<std::uint64_t>(slot), unused);
    return fail(e);
  }
  sq_posted(slot, true);
  return {};
}

}  // namespace tgt_pmem::rdma::detail

#endif  // TGTPMEM_HAVE_IBV_WR_FLUSH
