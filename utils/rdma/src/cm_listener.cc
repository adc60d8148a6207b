// SPDX-License-Identifier: GPL-2.0-only
// The control plane: an RDMA CM listening id on a non-blocking event channel, and the
// connect requests it reports. Connections accepted from it report their events on the same
// channel; the listener finds the Connection through rdma_cm_id::context.
#include <endian.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <vector>

#include "verbs_objects.h"

namespace tgt_pmem::rdma {
namespace {

using detail::cm_unavailable_errno;
using detail::CmIdPtr;
using detail::DeviceCaps;
using detail::errno_code;
using detail::EventChannelPtr;
using detail::set_nonblocking;
using detail::VerbsConnection;

std::unexpected<std::error_code> fail(int e) { return std::unexpected(errno_code(e)); }

class CmPendingConnection final : public PendingConnection {
 public:
  CmPendingConnection(EventChannelPtr channel, CmIdPtr id, std::vector<std::byte> private_data,
                      DeviceCaps caps, std::uint8_t peer_responder, std::uint8_t peer_initiator)
      : channel_(std::move(channel)),
        id_(std::move(id)),
        peer_address_(detail::format_address(rdma_get_peer_addr(id_.get()))),
        private_data_(std::move(private_data)),
        caps_(caps),
        peer_responder_(peer_responder),
        peer_initiator_(peer_initiator) {}

  // Unanswered: reject, so the peer learns at once instead of after its CM timeout.
  ~CmPendingConnection() override {
    if (id_) reject({});
  }
  CmPendingConnection(const CmPendingConnection&) = delete;
  CmPendingConnection& operator=(const CmPendingConnection&) = delete;

  std::span<const std::byte> private_data() const noexcept override { return private_data_; }
  std::string peer_address() const override { return peer_address_; }
  std::uint64_t local_node_guid() const noexcept override { return caps_.node_guid; }
  std::uint8_t peer_responder_resources() const noexcept override { return peer_responder_; }
  std::uint8_t peer_initiator_depth() const noexcept override { return peer_initiator_; }

  Result<std::unique_ptr<Connection>> accept(const QueueLimits& limits,
                                             std::span<const std::byte> private_data) override {
    if (!id_) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    // On failure id_ stays ours, without a QP; our destructor rejects the request.
    auto c = VerbsConnection::accept(channel_, id_, caps_, limits, peer_responder_, peer_initiator_,
                                     private_data);
    if (!c) return std::unexpected(c.error());
    return std::unique_ptr<Connection>(std::move(*c));
  }

  void reject(std::span<const std::byte> private_data) noexcept override {
    if (!id_) return;
    (void)rdma_reject(id_.get(), private_data.empty() ? nullptr : private_data.data(),
                      static_cast<std::uint8_t>(std::min<std::size_t>(private_data.size(), 255)));
    id_.reset();  // the REJ is on its way; the id has no further use
  }

 private:
  EventChannelPtr channel_;
  CmIdPtr id_;                // null once answered
  std::string peer_address_;  // kept: the id moves on to the Connection
  std::vector<std::byte> private_data_;
  DeviceCaps caps_;
  std::uint8_t peer_responder_;
  std::uint8_t peer_initiator_;
};

class CmListener final : public Listener {
 public:
  CmListener(EventChannelPtr channel, CmIdPtr id, std::uint16_t port)
      : channel_(std::move(channel)), id_(std::move(id)), port_(port) {}

  int event_fd() const noexcept override { return channel_->fd; }
  std::uint16_t port() const noexcept override { return port_; }

  Result<std::optional<ListenerEvent>> next_event() override {
    for (;;) {
      rdma_cm_event* event = nullptr;
      if (rdma_get_cm_event(channel_.get(), &event) != 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
        return fail(errno);
      }
      auto out = handle(event);  // acks event
      if (!out || *out) return out;
    }
  }

 private:
  // Copies what it needs, acks the event (nothing may wait on an unacked event: see
  // CmIdDeleter), then acts. An empty optional: nothing to report, look at the next one.
  Result<std::optional<ListenerEvent>> handle(rdma_cm_event* event) {
    const rdma_cm_event_type type = event->event;
    rdma_cm_id* const id = event->id;

    if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
      const rdma_conn_param& conn = event->param.conn;
      // The kernel reports a connect request from the passive side's point of view (IB CM
      // swaps the REQ's fields, see rdma_accept(3): "use the values reported in the
      // connection request event"): conn.initiator_depth is how many RDMA READs we may
      // issue = the peer's responder resources, conn.responder_resources the peer's
      // initiator depth. Seen with Linux ib_srp over rxe: reading them the other way round
      // gave an RDMA READ depth of 0 and every SRP WRITE hung.
      const std::uint8_t responder = conn.initiator_depth;
      const std::uint8_t initiator = conn.responder_resources;
      std::vector<std::byte> private_data;
      bool copied = true;
      try {
        const auto* p = static_cast<const std::byte*>(conn.private_data);
        if (p != nullptr) private_data.assign(p, p + conn.private_data_len);
      } catch (const std::bad_alloc&) {
        copied = false;
      }
      rdma_ack_cm_event(event);
      // The new id inherited the listening id's context (null); it stays null until a
      // Connection owns it, so its events before that are ignored.
      id->context = nullptr;
      CmIdPtr child(id);
      if (!copied) {
        (void)rdma_reject(id, nullptr, 0);
        return fail(ENOMEM);
      }
      DeviceCaps caps;
      ibv_device_attr attr{};
      if (id->verbs != nullptr && ibv_query_device(id->verbs, &attr) == 0) {
        caps.node_guid = be64toh(attr.node_guid);
        caps.max_qp_init_rd_atom = attr.max_qp_init_rd_atom;
        caps.max_qp_rd_atom = attr.max_qp_rd_atom;
      }
      try {
        ListenerEvent out;
        out.type = EventType::kConnectRequest;
        out.pending = std::make_unique<CmPendingConnection>(
            channel_, std::move(child), std::move(private_data), caps, responder, initiator);
        return std::optional<ListenerEvent>(std::move(out));
      } catch (const std::bad_alloc&) {
        if (child) (void)rdma_reject(child.get(), nullptr, 0);
        return fail(ENOMEM);
      }
    }

    rdma_ack_cm_event(event);

    if (id == id_.get()) {
      // Only a listener bound to one device's address is told of its removal. The id must
      // go for the removal to complete; connections already made keep reporting here.
      if (type == RDMA_CM_EVENT_DEVICE_REMOVAL) {
        id_.reset();
        return fail(ENODEV);
      }
      return std::optional<ListenerEvent>();
    }

    auto* conn = static_cast<VerbsConnection*>(id->context);
    if (conn == nullptr) return std::optional<ListenerEvent>();  // not accepted (yet)

    switch (type) {
      case RDMA_CM_EVENT_ESTABLISHED:
        if (!conn->report_established()) break;
        return std::optional<ListenerEvent>(ListenerEvent{EventType::kEstablished, nullptr, conn});
      case RDMA_CM_EVENT_DISCONNECTED:
      case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      case RDMA_CM_EVENT_DEVICE_REMOVAL:
      case RDMA_CM_EVENT_REJECTED:
      case RDMA_CM_EVENT_CONNECT_ERROR:
      case RDMA_CM_EVENT_UNREACHABLE:
        // The CM does not touch a user-space QP: rdma_disconnect moves it to the error
        // state so that outstanding work flushes, and answers the peer's DREQ.
        conn->disconnect();
        if (!conn->report_disconnected()) break;
        return std::optional<ListenerEvent>(ListenerEvent{EventType::kDisconnected, nullptr, conn});
      default:
        break;  // ADDR_CHANGE and the like: the connection lives on
    }
    return std::optional<ListenerEvent>();
  }

  EventChannelPtr channel_;
  CmIdPtr id_;  // the listening id; gone after its device was removed
  std::uint16_t port_;
};

}  // namespace

Result<std::unique_ptr<Listener>> listen(const std::string& address, std::uint16_t port,
                                         int backlog) {
  // The address first: a typo is EINVAL even where there is no device.
  auto addr = detail::parse_address(address, port);
  if (!addr) return std::unexpected(addr.error());

  // librdmacm fails here with ENODEV when the host has no RDMA device at all.
  EventChannelPtr channel;
  try {
    channel = EventChannelPtr(rdma_create_event_channel(), detail::EventChannelDeleter{});
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
  if (!channel) return fail(cm_unavailable_errno(errno));
  if (!set_nonblocking(channel->fd)) return fail(errno);

  rdma_cm_id* raw = nullptr;
  if (rdma_create_id(channel.get(), &raw, nullptr, RDMA_PS_TCP) != 0) return fail(errno);
  CmIdPtr id(raw);
  // ENODEV (or EADDRNOTAVAIL) here: no RDMA device serves this address.
  if (rdma_bind_addr(id.get(), reinterpret_cast<sockaddr*>(&*addr)) != 0) return fail(errno);
  if (rdma_listen(id.get(), backlog) != 0) return fail(errno);
  const std::uint16_t bound = be16toh(rdma_get_src_port(id.get()));
  try {
    return std::make_unique<CmListener>(std::move(channel), std::move(id), bound);
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
}

}  // namespace tgt_pmem::rdma
