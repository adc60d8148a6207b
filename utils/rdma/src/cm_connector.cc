// SPDX-License-Identifier: GPL-2.0-only
// The active side of RDMA CM, for initiators (the push-mode client): resolve the address and
// the route, make the queues, connect, and wait for the answer, all on an event channel of
// the connection's own. Blocking, with one deadline for the whole handshake: a client tool
// has nothing else to do meanwhile, and the listener side (cm_listener.cc) stays
// non-blocking for tgtd's event loop.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <new>

#include "verbs_objects.h"

namespace tgt_pmem::rdma {
namespace {

using Clock = std::chrono::steady_clock;
using detail::CmIdPtr;
using detail::errno_code;
using detail::EventChannelPtr;
using detail::VerbsConnection;

std::unexpected<std::error_code> fail(int e) { return std::unexpected(errno_code(e)); }

// What we keep of an event: it is acked at once (see CmIdDeleter).
struct CmOutcome {
  rdma_cm_event_type type = RDMA_CM_EVENT_ADDR_ERROR;
  int status = 0;
  std::uint8_t initiator_depth = 0;  // the local view (rdma_connect(3))
  std::uint8_t responder_resources = 0;
};

// Milliseconds left before deadline, at least 1 (0 when it has passed), for poll(2) and
// librdmacm's timeouts.
int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(left, INT_MAX));
}

// The next event of the channel (it carries our one id only), waiting until deadline.
Result<CmOutcome> next_event(rdma_event_channel* channel, Clock::time_point deadline) {
  for (;;) {
    rdma_cm_event* event = nullptr;
    if (rdma_get_cm_event(channel, &event) == 0) {
      CmOutcome out;
      out.type = event->event;
      out.status = event->status;
      out.initiator_depth = event->param.conn.initiator_depth;
      out.responder_resources = event->param.conn.responder_resources;
      rdma_ack_cm_event(event);
      return out;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno);
    const int ms = ms_left(deadline);
    if (ms == 0) return fail(ETIMEDOUT);
    pollfd p{channel->fd, POLLIN, 0};
    if (::poll(&p, 1, ms) < 0 && errno != EINTR) return fail(errno);
  }
}

// The error an unwanted event means. librdmacm puts a negative errno in status for the
// resolution and connection errors it knows (-ETIMEDOUT, -ENODEV, -EHOSTUNREACH...); a
// REJECTED event's status is the IB CM reject reason (28: the consumer rejected, 8: nobody
// listens on the port), which the caller cannot act on: ECONNREFUSED.
std::error_code error_of(const CmOutcome& e) {
  const int from_status = e.status < 0 ? -e.status : 0;
  switch (e.type) {
    case RDMA_CM_EVENT_REJECTED:
      return errno_code(ECONNREFUSED);
    case RDMA_CM_EVENT_UNREACHABLE:
      return errno_code(from_status != 0 ? from_status : ETIMEDOUT);
    case RDMA_CM_EVENT_ADDR_ERROR:
    case RDMA_CM_EVENT_ROUTE_ERROR:
      return errno_code(from_status != 0 ? from_status : EHOSTUNREACH);
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
      return errno_code(ENODEV);
    case RDMA_CM_EVENT_DISCONNECTED:
      return errno_code(ECONNRESET);
    default:
      return errno_code(from_status != 0 ? from_status : ECONNABORTED);
  }
}

bool is_failure(rdma_cm_event_type type) {
  switch (type) {
    case RDMA_CM_EVENT_ADDR_ERROR:
    case RDMA_CM_EVENT_ROUTE_ERROR:
    case RDMA_CM_EVENT_CONNECT_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_REJECTED:
    case RDMA_CM_EVENT_DISCONNECTED:
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
      return true;
    default:
      return false;
  }
}

// Waits for `wanted`; a failure event ends the wait with its error, anything else (an
// ADDR_CHANGE, say) is passed over.
Result<CmOutcome> expect(rdma_event_channel* channel, rdma_cm_event_type wanted,
                         Clock::time_point deadline) {
  for (;;) {
    auto e = next_event(channel, deadline);
    if (!e) return e;
    if (e->type == wanted && e->status == 0) return e;
    if (e->type == wanted || is_failure(e->type)) return std::unexpected(error_of(*e));
  }
}

}  // namespace

Result<std::unique_ptr<Connection>> connect(const std::string& address, std::uint16_t port,
                                            std::span<const std::byte> private_data,
                                            const QueueLimits& limits,
                                            std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  // The arguments first: a typo is EINVAL even where there is no device.
  auto addr = detail::parse_address(address, port);
  if (!addr) return std::unexpected(addr.error());
  if (private_data.size() > UINT8_MAX || limits.send_depth == 0 || limits.recv_depth == 0 ||
      limits.max_sge == 0)
    return fail(EINVAL);

  EventChannelPtr channel;
  try {
    channel = EventChannelPtr(rdma_create_event_channel(), detail::EventChannelDeleter{});
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
  if (!channel) return fail(detail::cm_unavailable_errno(errno));
  if (!detail::set_nonblocking(channel->fd)) return fail(errno);

  rdma_cm_id* raw = nullptr;
  if (rdma_create_id(channel.get(), &raw, nullptr, RDMA_PS_TCP) != 0) return fail(errno);
  CmIdPtr id(raw);

  // Address, then route: each resolution runs in the kernel and reports an event.
  if (rdma_resolve_addr(id.get(), nullptr, reinterpret_cast<sockaddr*>(&*addr),
                        std::max(ms_left(deadline), 1)) != 0)
    return fail(errno);
  if (auto e = expect(channel.get(), RDMA_CM_EVENT_ADDR_RESOLVED, deadline); !e)
    return std::unexpected(e.error());
  if (rdma_resolve_route(id.get(), std::max(ms_left(deadline), 1)) != 0) return fail(errno);
  if (auto e = expect(channel.get(), RDMA_CM_EVENT_ROUTE_RESOLVED, deadline); !e)
    return std::unexpected(e.error());
  if (id->verbs == nullptr) return fail(ENODEV);

  // What the device allows: librdmacm refuses (EINVAL) depths above its maxima.
  ibv_device_attr attr{};
  if (const int e = ibv_query_device(id->verbs, &attr); e != 0) return fail(e);
  const auto clamp = [](std::uint8_t ours, int device) {
    return static_cast<std::uint8_t>(std::clamp(std::min<int>(ours, device), 0, 255));
  };
  const std::uint8_t initiator = clamp(limits.rdma_read_depth, attr.max_qp_init_rd_atom);
  const std::uint8_t responder = clamp(limits.responder_resources, attr.max_qp_rd_atom);

  // The id is the connection's from here on: on any failure below, destroying it destroys
  // the QP and then the id (which the peer sees as a reject or a lost request).
  rdma_cm_id* const cm_id = id.get();
  auto made = VerbsConnection::create_active(channel, std::move(id), limits);
  if (!made) return std::unexpected(made.error());
  std::unique_ptr<VerbsConnection> c = std::move(*made);

  rdma_conn_param param{};
  param.private_data = private_data.empty() ? nullptr : private_data.data();
  param.private_data_len = static_cast<std::uint8_t>(private_data.size());
  param.initiator_depth = initiator;
  param.responder_resources = responder;
  param.flow_control = 1;
  param.retry_count = 7;      // transport retries before IBV_WC_RETRY_EXC_ERR
  param.rnr_retry_count = 7;  // 7: retry for ever while the peer has no receive posted
  if (rdma_connect(cm_id, &param) != 0) return fail(errno);

  // librdmacm moves the QP to RTR and RTS when the peer's REP arrives and reports
  // ESTABLISHED (or CONNECT_ERROR if that failed) with the REP's depths, from our side.
  auto established = expect(channel.get(), RDMA_CM_EVENT_ESTABLISHED, deadline);
  if (!established) return std::unexpected(established.error());
  c->set_read_depths(std::min(initiator, established->initiator_depth),
                     std::min(responder, established->responder_resources));
  if (auto watching = c->watch_cm_events(); !watching) return std::unexpected(watching.error());
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace tgt_pmem::rdma
