// SPDX-License-Identifier: GPL-2.0-only
// The data path: a connected RC queue pair with its own PD, one CQ for sends and receives
// and a completion channel. The wr_id given to verbs is a slot of WorkSlots that remembers
// the caller's wr_id and the kind of request, because an error completion carries no valid
// opcode. Work requests are signalled but for the ones post_chain is asked not to signal:
// those keep their slot (and their place in the send queue's count) until the completion of
// a later signalled request retires them (sq_order_).
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <new>

#include "verbs_objects.h"

namespace tgt_pmem::rdma::detail {
namespace {

std::unexpected<std::error_code> fail(int e) { return std::unexpected(errno_code(e)); }
std::unexpected<std::error_code> fail(std::errc e) {
  return std::unexpected(std::make_error_code(e));
}

class VerbsMemoryRegion final : public MemoryRegion {
 public:
  explicit VerbsMemoryRegion(std::unique_ptr<ibv_mr, MrDeleter> mr) : mr_(std::move(mr)) {}
  std::byte* data() const noexcept override { return static_cast<std::byte*>(mr_->addr); }
  std::size_t size() const noexcept override { return mr_->length; }
  std::uint32_t lkey() const noexcept override { return mr_->lkey; }
  std::uint32_t rkey() const noexcept override { return mr_->rkey; }

 private:
  std::unique_ptr<ibv_mr, MrDeleter> mr_;
};

bool valid_limits(const QueueLimits& limits) {
  const std::uint64_t cqe = static_cast<std::uint64_t>(limits.send_depth) + limits.recv_depth;
  return limits.send_depth != 0 && limits.recv_depth != 0 && limits.max_sge != 0 && cqe <= INT_MAX;
}

}  // namespace

VerbsConnection::VerbsConnection(EventChannelPtr channel, rdma_cm_id* id, const QueueLimits& limits)
    : channel_(std::move(channel)),
      raw_id_(id),
      limits_(limits),
      slots_(static_cast<std::size_t>(limits.send_depth) + limits.recv_depth),
      sges_(limits.max_sge) {}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::accept(
    EventChannelPtr channel, CmIdPtr& id, const DeviceCaps& caps, const QueueLimits& wanted,
    std::uint8_t peer_responder, std::uint8_t peer_initiator,
    std::span<const std::byte> private_data) {
  if (!id || id->verbs == nullptr) return fail(std::errc::invalid_argument);
  if (!valid_limits(wanted) || private_data.size() > UINT8_MAX)
    return fail(std::errc::invalid_argument);

  const Depths depths = negotiate_depths(wanted, peer_responder, peer_initiator,
                                         caps.max_qp_init_rd_atom, caps.max_qp_rd_atom);
  QueueLimits limits = wanted;
  limits.rdma_read_depth = depths.initiator_depth;
  limits.responder_resources = depths.responder_resources;

  auto made = make_with_queues(channel, id.get(), limits);
  if (!made) return std::unexpected(made.error());
  std::unique_ptr<VerbsConnection> c = std::move(*made);

  // rdma_accept moves the QP through RTR to RTS with these depths before it sends the REP,
  // so receives posted from now on are live.
  rdma_conn_param param{};
  param.private_data = private_data.empty() ? nullptr : private_data.data();
  param.private_data_len = static_cast<std::uint8_t>(private_data.size());
  param.initiator_depth = depths.initiator_depth;
  param.responder_resources = depths.responder_resources;
  param.flow_control = 1;
  param.rnr_retry_count = 7;  // 7: retry for ever while the peer has no receive posted
  if (rdma_accept(id.get(), &param) != 0) return fail(errno);  // ~c destroys the QP

  c->id_ = std::move(id);
  c->id_->context = c.get();
  return c;
}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::create_active(
    EventChannelPtr channel, CmIdPtr id, const QueueLimits& limits) {
  if (!id || id->verbs == nullptr || !valid_limits(limits))
    return fail(std::errc::invalid_argument);
  // On failure the QP (destroyed with what was made) goes before id (our argument).
  auto made = make_with_queues(channel, id.get(), limits);
  if (!made) return std::unexpected(made.error());
  std::unique_ptr<VerbsConnection> c = std::move(*made);
  c->id_ = std::move(id);  // owned from here: ~c destroys the QP, then the id
  c->id_->context = c.get();
  return c;
}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::make_with_queues(
    const EventChannelPtr& channel, rdma_cm_id* id, const QueueLimits& limits) {
#if TGTPMEM_HAVE_IBV_WR_FLUSH
  // Where the device offers RDMA FLUSH; otherwise, or if its provider refused the QP, a
  // plain connection as in a build without it.
  if (auto flushing = make_flush_capable(channel, id, limits)) return flushing;
#endif
  std::unique_ptr<VerbsConnection> c;
  try {
    c.reset(new VerbsConnection(channel, id, limits));
  } catch (const std::bad_alloc&) {
    return fail(std::errc::not_enough_memory);
  }
  if (auto made = c->create_queues(); !made) return std::unexpected(made.error());
  return c;
}

Status VerbsConnection::create_queues() {
  ibv_context* verbs = raw_id_->verbs;
  const auto cqe = static_cast<int>(limits_.send_depth + limits_.recv_depth);  // valid_limits

  // A PD per connection: an rkey we hand to this peer is worthless on any other connection.
  pd_.reset(ibv_alloc_pd(verbs));
  if (!pd_) return fail(errno);
  comp_channel_.reset(ibv_create_comp_channel(verbs));
  if (!comp_channel_) return fail(errno);
  if (!set_nonblocking(comp_channel_->fd)) return fail(errno);
  cq_.reset(ibv_create_cq(verbs, cqe, nullptr, comp_channel_.get(), 0));
  if (!cq_) return fail(errno);
  if (const int e = ibv_req_notify_cq(cq_.get(), 0); e != 0) return fail(e);

  ibv_qp_init_attr attr{};
  attr.send_cq = cq_.get();
  attr.recv_cq = cq_.get();
  attr.qp_type = IBV_QPT_RC;
  attr.sq_sig_all = 0;  // each request says (IBV_SEND_SIGNALED): post_chain leaves some out
  attr.cap.max_send_wr = limits_.send_depth;
  attr.cap.max_recv_wr = limits_.recv_depth;
  attr.cap.max_send_sge = limits_.max_sge;
  attr.cap.max_recv_sge = limits_.max_sge;
#if TGTPMEM_HAVE_IBV_WR_FLUSH
  if (flush_ops_) return create_flush_qp(attr);  // sets qp_ (verbs_flush.cc)
#endif
  if (rdma_create_qp(raw_id_, pd_.get(), &attr) != 0) return fail(errno);
  qp_ = std::unique_ptr<ibv_qp, QpDeleter>(raw_id_->qp, QpDeleter{raw_id_});
  return {};
}

VerbsConnection::~VerbsConnection() {
  if (id_) disconnect();
  // Members now go in reverse: QP, CQ, completion channel, PD, id, channel reference.
}

Result<std::unique_ptr<MemoryRegion>> VerbsConnection::register_memory(void* addr, std::size_t len,
                                                                       unsigned access) {
  return register_memory_at(addr, len, access, reinterpret_cast<std::uintptr_t>(addr));
}

Result<std::unique_ptr<MemoryRegion>> VerbsConnection::register_memory_at(void* addr,
                                                                          std::size_t len,
                                                                          unsigned access,
                                                                          std::uint64_t iova) {
  if (addr == nullptr || len == 0) return fail(std::errc::invalid_argument);
#if !TGTPMEM_HAVE_IBV_WR_FLUSH
  if ((access & kRemoteFlush) != 0) return fail(std::errc::operation_not_supported);
#endif
  // ibv_reg_mr_iova with iova == addr is ibv_reg_mr (rdma-core implements one by the other).
  std::unique_ptr<ibv_mr, MrDeleter> mr(
      ibv_reg_mr_iova(pd_.get(), addr, len, iova, static_cast<int>(to_ibv_access(access))));
  if (!mr) return fail(errno);
  try {
    return std::make_unique<VerbsMemoryRegion>(std::move(mr));
  } catch (const std::bad_alloc&) {
    return fail(std::errc::not_enough_memory);
  }
}

Status VerbsConnection::post_recv(std::uint64_t wr_id, LocalBuffer buf) {
  if (recv_outstanding_ >= limits_.recv_depth) return fail(std::errc::not_enough_memory);
  const std::int64_t slot = slots_.acquire(wr_id, WorkType::kRecv);
  if (slot < 0) return fail(std::errc::not_enough_memory);
  ibv_sge sge{reinterpret_cast<std::uintptr_t>(buf.addr), buf.length, buf.lkey};
  ibv_recv_wr wr{};
  wr.wr_id = static_cast<std::uint64_t>(slot);
  wr.sg_list = &sge;
  // A zero-length SGE means 2 GiB to some HCAs: say "no SGE" instead.
  wr.num_sge = buf.length != 0 ? 1 : 0;
  ibv_recv_wr* bad = nullptr;
  if (const int e = ibv_post_recv(qp_.get(), &wr, &bad); e != 0) {
    WorkSlots::Entry unused;
    (void)slots_.release(static_cast<std::uint64_t>(slot), unused);
    return fail(e);
  }
  ++recv_outstanding_;
  return {};
}

Status VerbsConnection::post_send(std::uint64_t wr_id, LocalBuffer buf) {
  if (send_outstanding_ >= limits_.send_depth) return fail(std::errc::not_enough_memory);
  const std::int64_t slot = slots_.acquire(wr_id, WorkType::kSend);
  if (slot < 0) return fail(std::errc::not_enough_memory);
  ibv_sge sge{reinterpret_cast<std::uintptr_t>(buf.addr), buf.length, buf.lkey};
  ibv_send_wr wr{};
  wr.wr_id = static_cast<std::uint64_t>(slot);
  wr.sg_list = &sge;
  wr.num_sge = buf.length != 0 ? 1 : 0;
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED;
  ibv_send_wr* bad = nullptr;
  if (const int e = ibv_post_send(qp_.get(), &wr, &bad); e != 0) {
    WorkSlots::Entry unused;
    (void)slots_.release(static_cast<std::uint64_t>(slot), unused);
    return fail(e);
  }
  sq_posted(slot, true);
  return {};
}

Status VerbsConnection::post_rdma_read(std::uint64_t wr_id, std::span<const LocalBuffer> dst,
                                       RemoteBuffer src) {
  return post_rdma(wr_id, WorkType::kRdmaRead, IBV_WR_RDMA_READ, dst, src);
}

Status VerbsConnection::post_rdma_write(std::uint64_t wr_id, std::span<const LocalBuffer> src,
                                        RemoteBuffer dst) {
  return post_rdma(wr_id, WorkType::kRdmaWrite, IBV_WR_RDMA_WRITE, src, dst);
}

Status VerbsConnection::post_rdma(std::uint64_t wr_id, WorkType type, ibv_wr_opcode opcode,
                                  std::span<const LocalBuffer> local, RemoteBuffer remote) {
  if (local.size() > limits_.max_sge) return fail(std::errc::invalid_argument);
  std::uint64_t total = 0;
  int n = 0;
  for (const LocalBuffer& b : local) {
    total += b.length;
    if (b.length == 0) continue;
    sges_[n++] = ibv_sge{reinterpret_cast<std::uintptr_t>(b.addr), b.length, b.lkey};
  }
  if (total != remote.length) return fail(std::errc::invalid_argument);
  if (send_outstanding_ >= limits_.send_depth) return fail(std::errc::not_enough_memory);
  const std::int64_t slot = slots_.acquire(wr_id, type);
  if (slot < 0) return fail(std::errc::not_enough_memory);

  ibv_send_wr wr{};
  wr.wr_id = static_cast<std::uint64_t>(slot);
  wr.sg_list = sges_.data();
  wr.num_sge = n;
  wr.opcode = opcode;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = remote.addr;
  wr.wr.rdma.rkey = remote.rkey;
  ibv_send_wr* bad = nullptr;
  if (const int e = ibv_post_send(qp_.get(), &wr, &bad); e != 0) {
    WorkSlots::Entry unused;
    (void)slots_.release(static_cast<std::uint64_t>(slot), unused);
    return fail(e);
  }
  sq_posted(slot, true);
  return {};
}

Status VerbsConnection::post_chain(std::span<const SendWork> chain) {
  if (chain.empty() || !chain.back().signaled) return fail(std::errc::invalid_argument);
  std::size_t sge_count = 0;
  for (const SendWork& w : chain) {
    if (w.type == WorkType::kRecv || w.local.size() > limits_.max_sge)
      return fail(std::errc::invalid_argument);
    if (w.type != WorkType::kSend) {
      std::uint64_t total = 0;
      for (const LocalBuffer& b : w.local) total += b.length;
      if (total != w.remote.length) return fail(std::errc::invalid_argument);
    }
    sge_count += w.local.size();
  }
  // send_outstanding_ <= send_depth always.
  if (chain.size() > limits_.send_depth - send_outstanding_)
    return fail(std::errc::not_enough_memory);
  try {
    chain_wrs_.assign(chain.size(), ibv_send_wr{});
    chain_sges_.resize(sge_count);  // not resized again below: the requests point into it
  } catch (const std::bad_alloc&) {
    return fail(std::errc::not_enough_memory);
  }
  std::size_t next_sge = 0;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const SendWork& w = chain[i];
    const std::int64_t slot = slots_.acquire(w.wr_id, w.type);
    if (slot < 0) {
      for (std::size_t j = 0; j < i; ++j) {
        WorkSlots::Entry unused;
        (void)slots_.release(chain_wrs_[j].wr_id, unused);
      }
      return fail(std::errc::not_enough_memory);
    }
    ibv_send_wr& wr = chain_wrs_[i];
    wr.wr_id = static_cast<std::uint64_t>(slot);
    wr.sg_list = chain_sges_.data() + next_sge;
    for (const LocalBuffer& b : w.local) {
      if (b.length == 0) continue;  // a zero-length SGE means 2 GiB to some HCAs
      chain_sges_[next_sge++] = ibv_sge{reinterpret_cast<std::uintptr_t>(b.addr), b.length, b.lkey};
    }
    wr.num_sge = static_cast<int>(chain_sges_.data() + next_sge - wr.sg_list);
    wr.send_flags = w.signaled ? IBV_SEND_SIGNALED : 0;
    switch (w.type) {
      case WorkType::kSend:
        wr.opcode = IBV_WR_SEND;
        break;
      case WorkType::kRdmaRead:
      case WorkType::kRdmaWrite:
        wr.opcode = w.type == WorkType::kRdmaRead ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
        wr.wr.rdma.remote_addr = w.remote.addr;
        wr.wr.rdma.rkey = w.remote.rkey;
        break;
      case WorkType::kRecv:
        break;  // refused above
    }
    wr.next = i + 1 < chain.size() ? &chain_wrs_[i + 1] : nullptr;
  }
  ibv_send_wr* bad = nullptr;
  const int e = ibv_post_send(qp_.get(), chain_wrs_.data(), &bad);
  // Posted: everything before bad (all of them on success).
  const std::size_t posted =
      e == 0 ? chain.size() : (bad == nullptr ? 0 : static_cast<std::size_t>(bad - chain_wrs_.data()));
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (i < posted) {
      sq_posted(static_cast<std::int64_t>(chain_wrs_[i].wr_id), chain[i].signaled);
    } else {
      WorkSlots::Entry unused;
      (void)slots_.release(chain_wrs_[i].wr_id, unused);
    }
  }
  if (e == 0) return {};
  if (posted > 0) disconnect();  // half a chain: see connection.h
  return fail(e);
}

void VerbsConnection::sq_posted(std::int64_t slot, bool signaled) {
  sq_order_.push_back({static_cast<std::uint64_t>(slot), signaled});
  ++send_outstanding_;
}

void VerbsConnection::sq_retire(std::uint64_t slot) noexcept {
  // The unsignalled requests before it completed (successfully: a failed one reported its
  // own completion, which retired it).
  while (!sq_order_.empty() && sq_order_.front().slot != slot && !sq_order_.front().signaled) {
    WorkSlots::Entry unused;
    (void)slots_.release(sq_order_.front().slot, unused);
    sq_order_.pop_front();
    --send_outstanding_;
  }
  if (!sq_order_.empty() && sq_order_.front().slot == slot) {
    sq_order_.pop_front();
  } else {
    // Never expected (a signalled request before it has not completed): keep the rest.
    for (auto it = sq_order_.begin(); it != sq_order_.end(); ++it)
      if (it->slot == slot) {
        sq_order_.erase(it);
        break;
      }
  }
  --send_outstanding_;
}

Result<std::size_t> VerbsConnection::poll(std::span<Completion> out) {
  constexpr int kBatch = 16;
  std::array<ibv_wc, kBatch> wcs;
  std::size_t done = 0;
  while (done < out.size()) {
    const int want = static_cast<int>(std::min<std::size_t>(kBatch, out.size() - done));
    const int got = ibv_poll_cq(cq_.get(), want, wcs.data());
    if (got < 0) return fail(EIO);  // providers return a negative value, errno unset
    for (int i = 0; i < got; ++i) {
      const ibv_wc& wc = wcs[i];
      WorkSlots::Entry entry;
      if (!slots_.release(wc.wr_id, entry)) continue;  // not ours: cannot happen
      if (entry.type == WorkType::kRecv)
        --recv_outstanding_;
      else
        sq_retire(wc.wr_id);
      Completion& c = out[done++];
      c.wr_id = entry.wr_id;
      c.type = entry.type;
      c.ok = wc.status == IBV_WC_SUCCESS;
      c.vendor_status = static_cast<int>(wc.status);
      c.byte_len = (entry.type == WorkType::kRecv && c.ok) ? wc.byte_len : 0;
    }
    if (got < want) break;
  }
  return done;
}

int VerbsConnection::completion_fd() const noexcept {
  return cm_epoll_.get() >= 0 ? cm_epoll_.get() : comp_channel_->fd;
}

Status VerbsConnection::watch_cm_events() {
  if (!id_ || !channel_) return fail(std::errc::invalid_argument);
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (ep.get() < 0) return fail(errno);
  // Level-triggered: each stays readable until arm() has taken what is waiting on it.
  for (const int fd : {comp_channel_->fd, channel_->fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail(errno);
  }
  cm_epoll_ = std::move(ep);
  return {};
}

Status VerbsConnection::take_cm_events() {
  for (;;) {
    rdma_cm_event* event = nullptr;
    if (rdma_get_cm_event(channel_.get(), &event) != 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      return fail(errno);
    }
    const rdma_cm_event_type type = event->event;
    rdma_ack_cm_event(event);  // before acting: rdma_destroy_id waits for unacked events
    switch (type) {
      case RDMA_CM_EVENT_DISCONNECTED:
      case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      case RDMA_CM_EVENT_DEVICE_REMOVAL:
      case RDMA_CM_EVENT_REJECTED:
      case RDMA_CM_EVENT_CONNECT_ERROR:
      case RDMA_CM_EVENT_UNREACHABLE:
        // As the listener does for accepted connections: the CM leaves a user-space QP
        // alone, rdma_disconnect moves it to the error state (outstanding work flushes).
        disconnect();
        break;
      default:
        break;  // ADDR_CHANGE and the like: the connection lives on
    }
  }
}

Status VerbsConnection::arm() {
  if (cm_epoll_.get() >= 0)
    if (auto taken = take_cm_events(); !taken) return taken;
  ibv_cq* cq = nullptr;
  void* context = nullptr;
  unsigned events = 0;
  while (ibv_get_cq_event(comp_channel_.get(), &cq, &context) == 0) ++events;
  const int e = errno;
  // Unacked events would make ibv_destroy_cq wait for ever: ack at once.
  if (events != 0) ibv_ack_cq_events(cq_.get(), events);
  if (e != EAGAIN && e != EWOULDBLOCK) return fail(e);
  if (const int r = ibv_req_notify_cq(cq_.get(), 0); r != 0) return fail(r);
  return {};
}

void VerbsConnection::disconnect() noexcept {
  if (disconnected_ || !id_) return;
  disconnected_ = true;
  // Moves the QP to the error state (outstanding work flushes) and sends a DREQ, or the DREP
  // when the peer disconnected first. Failure (already disconnected, device gone) changes
  // nothing for the caller: the listener reports kDisconnected either way.
  (void)rdma_disconnect(id_.get());
}

std::string VerbsConnection::peer_address() const {
  return format_address(rdma_get_peer_addr(raw_id_));
}

bool VerbsConnection::report_established() noexcept {
  if (established_reported_ || disconnect_reported_) return false;
  established_reported_ = true;
  return true;
}

bool VerbsConnection::report_disconnected() noexcept {
  if (disconnect_reported_) return false;
  disconnect_reported_ = true;
  return true;
}

}  // namespace tgt_pmem::rdma::detail
