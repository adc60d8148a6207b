// SPDX-License-Identifier: GPL-2.0-only
// The seam between tgt-pmem's RDMA protocols (SRP target, push mode) and the verbs: a
// connected reliable-connection queue pair with its own protection domain and completion
// queue, and a listener that hands out incoming connections. The real implementation
// (cm_listener.cc, verbs_connection.cc) sits on librdmacm/libibverbs; tests/fakes/ has one
// that executes RDMA READ/WRITE as memcpy against regions a test registered and can inject
// completion errors. Protocol code sees only this header.
//
// Threading: none of these objects is thread-safe; tgtd drives them from its one event loop.
// Nothing here blocks (but connect(), for initiators): every call either completes at once or
// queues work whose completion is reported by poll().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

namespace tgt_pmem::rdma {

using Status = std::expected<void, std::error_code>;
template <class T>
using Result = std::expected<T, std::error_code>;

// Access rights of a registered region (ibv_access_flags).
enum Access : unsigned {
  kLocalWrite = 1u << 0,   // the local HCA may write it (receives, RDMA READ targets)
  kRemoteRead = 1u << 1,   // a peer may RDMA READ it
  kRemoteWrite = 1u << 2,  // a peer may RDMA WRITE it (implies kLocalWrite, as verbs requires)
  // A peer may RDMA FLUSH it to the persistence domain (FlushCapable below). Only in a build
  // with RDMA FLUSH (rdma-core >= 45), and only for memory the device can make persistent
  // (rxe: pmem pages): register_memory fails otherwise (EOPNOTSUPP, EINVAL), so ask for it
  // with a fallback without it.
  kRemoteFlush = 1u << 3,
};

// Memory registered with one connection's protection domain. Deregistered when destroyed;
// it must not outlive the Connection that registered it.
class MemoryRegion {
 public:
  virtual ~MemoryRegion() = default;
  [[nodiscard]] virtual std::byte* data() const noexcept = 0;
  [[nodiscard]] virtual std::size_t size() const noexcept = 0;
  [[nodiscard]] virtual std::uint32_t lkey() const noexcept = 0;
  [[nodiscard]] virtual std::uint32_t rkey() const noexcept = 0;
};

// A piece of local registered memory (one scatter/gather element).
struct LocalBuffer {
  std::byte* addr = nullptr;
  std::uint32_t length = 0;
  std::uint32_t lkey = 0;
};

// A piece of the peer's memory, as the peer described it (address, rkey, length).
struct RemoteBuffer {
  std::uint64_t addr = 0;
  std::uint32_t rkey = 0;
  std::uint32_t length = 0;
};

enum class WorkType : std::uint8_t { kSend, kRecv, kRdmaRead, kRdmaWrite };

// One work completion. Unsuccessful completions (ok == false) carry the verbs status
// (enum ibv_wc_status) in vendor_status; after the first error the queue pair is in the
// error state and every further outstanding request completes with a flush error.
struct Completion {
  std::uint64_t wr_id = 0;
  WorkType type = WorkType::kSend;
  bool ok = false;
  int vendor_status = 0;
  std::uint32_t byte_len = 0;  // bytes received (kRecv only)
};

// One work request of a send-queue chain (Connection::post_chain).
struct SendWork {
  std::uint64_t wr_id = 0;
  WorkType type = WorkType::kSend;     // kSend, kRdmaRead or kRdmaWrite
  std::span<const LocalBuffer> local;  // kSend: the message (gathered); RDMA: as post_rdma_*
  RemoteBuffer remote{};               // RDMA only: the lengths of local must sum to its length
  // false: no completion when it succeeds (see post_chain). The last of a chain must be true.
  bool signaled = true;
};

// Queue sizes asked for when a connection is accepted.
struct QueueLimits {
  std::uint32_t send_depth = 128;  // sends + RDMA READs + RDMA WRITEs outstanding
  std::uint32_t recv_depth = 64;   // receives posted at once
  std::uint32_t max_sge = 4;       // scatter/gather elements per work request
  // Outstanding RDMA READs we issue (initiator depth); clamped to what the peer offered.
  std::uint8_t rdma_read_depth = 16;
  // RDMA READs/atomics the peer may have outstanding against us (responder resources).
  std::uint8_t responder_resources = 16;
};

// One connected RC queue pair. Destroying it disconnects (if still connected) and releases
// the QP, CQ and protection domain; every MemoryRegion it registered must be gone first.
class Connection {
 public:
  virtual ~Connection() = default;

  // Registers [addr, addr + len) in this connection's protection domain: its rkey is valid
  // on this connection only. Errors: the errno of ibv_reg_mr (ENOMEM, EINVAL, EFAULT...).
  [[nodiscard]] virtual Result<std::unique_ptr<MemoryRegion>> register_memory(
      void* addr, std::size_t len, unsigned access) = 0;
  // The same, for peers' one-sided access, with peers addressing the region from iova
  // instead of its process address (ibv_reg_mr_iova): byte k of it is RemoteBuffer address
  // iova + k. Memory exposed this way tells the peer nothing about this process's layout.
  // Errors: as register_memory.
  [[nodiscard]] virtual Result<std::unique_ptr<MemoryRegion>> register_memory_at(
      void* addr, std::size_t len, unsigned access, std::uint64_t iova) = 0;

  // Work requests. Every one of these is signalled and reports one Completion with its wr_id.
  // Errors: the errno of ibv_post_* (ENOMEM when the queue is full, EINVAL).
  [[nodiscard]] virtual Status post_recv(std::uint64_t wr_id, LocalBuffer buf) = 0;
  [[nodiscard]] virtual Status post_send(std::uint64_t wr_id, LocalBuffer buf) = 0;
  // RDMA READ of src into the local buffers (their lengths must sum to src.length).
  [[nodiscard]] virtual Status post_rdma_read(std::uint64_t wr_id,
                                              std::span<const LocalBuffer> dst,
                                              RemoteBuffer src) = 0;
  // RDMA WRITE of the local buffers to dst (their lengths must sum to dst.length).
  [[nodiscard]] virtual Status post_rdma_write(std::uint64_t wr_id,
                                               std::span<const LocalBuffer> src,
                                               RemoteBuffer dst) = 0;

  // Posts the requests of chain in order with one ibv_post_send (one doorbell for all), e.g.
  // the RDMA WRITEs of a command's data followed by its response SEND. A request with
  // signaled == false reports no Completion when it succeeds; it still occupies a slot of
  // the send queue (send_depth) until a later signalled request of this connection
  // completes and poll() has returned that completion (RC completes a send queue in order,
  // so that completion says the unsignalled requests before it are done). An unsignalled
  // request that fails does report its Completion (ok == false), as verbs reports every
  // error, and so do the flush errors of every request after it, signalled or not.
  // The last request must be signalled, so that every slot of a chain comes back.
  // Errors, nothing posted: EINVAL (empty chain, a kRecv, last request unsignalled, more
  // local buffers than max_sge, RDMA lengths that do not sum up), ENOMEM (the send queue has
  // no room for the whole chain). The errno of ibv_post_send: when the provider refused a
  // request after accepting some before it, those are posted, and the connection is
  // disconnected (QP in the error state, the posted requests flush): half a chain is of
  // no use, and its slots could never all come back.
  [[nodiscard]] virtual Status post_chain(std::span<const SendWork> chain) = 0;

  // Moves up to out.size() completions into out without blocking; returns how many.
  // Errors: the errno of ibv_poll_cq.
  [[nodiscard]] virtual Result<std::size_t> poll(std::span<Completion> out) = 0;

  // A file descriptor (non-blocking) that becomes readable when completions may be waiting,
  // after arm(); -1 where there is none (fakes: poll() whenever the test says so).
  [[nodiscard]] virtual int completion_fd() const noexcept = 0;
  // Consumes the pending notification on completion_fd() and asks for the next one. Call it
  // when completion_fd() became readable, then poll() until empty (a completion that came
  // in between arm() and poll() is not lost: poll() returns it).
  [[nodiscard]] virtual Status arm() = 0;

  // Starts an orderly disconnect; the listener reports kDisconnected later. Idempotent.
  // The QP goes to the error state at once (outstanding work flushes). With a dead peer
  // kDisconnected can take seconds (DREQ retries): the connection may be destroyed as soon
  // as its work is reaped, without waiting for it.
  virtual void disconnect() noexcept = 0;

  // As negotiated at accept(): rdma_read_depth and responder_resources are clamped by what
  // the peer offered and by the device; the other fields are what accept() was given.
  [[nodiscard]] virtual const QueueLimits& limits() const noexcept = 0;
  // "192.0.2.2:45678" (the peer's RDMA CM address; IPv6 as "[2001:db8::2]:45678"), for logs
  // and ACLs.
  [[nodiscard]] virtual std::string peer_address() const = 0;

  // An opaque pointer for the protocol that owns this connection.
  void* user = nullptr;
};

// An incoming connection request the listener reported; accept() or reject() it once.
class PendingConnection {
 public:
  virtual ~PendingConnection() = default;
  // What the peer sent with its connect request (SRP: the login request). Over IB/RoCE,
  // RDMA CM always delivers 56 bytes (the REQ's 92 less its own header), zero-padded after
  // what the peer sent; a peer cannot send more. iWARP delivers the exact length.
  [[nodiscard]] virtual std::span<const std::byte> private_data() const noexcept = 0;
  [[nodiscard]] virtual std::string peer_address() const = 0;
  // Node GUID of the local RDMA device the request arrived on (host byte order).
  [[nodiscard]] virtual std::uint64_t local_node_guid() const noexcept = 0;
  // The peer's responder resources and initiator depth from the request (0 if unknown).
  [[nodiscard]] virtual std::uint8_t peer_responder_resources() const noexcept = 0;
  [[nodiscard]] virtual std::uint8_t peer_initiator_depth() const noexcept = 0;

  // Creates the QP, CQ and PD with limits and accepts, sending private_data (at most what
  // the transport allows: 196 bytes over IB/RoCE). The listener reports kEstablished for
  // the returned connection when the peer's RTU arrives. Receives may be posted at once.
  [[nodiscard]] virtual Result<std::unique_ptr<Connection>> accept(
      const QueueLimits& limits, std::span<const std::byte> private_data) = 0;
  // Rejects the request, sending private_data (SRP: the login reject; at most 148 bytes over
  // IB/RoCE). Destroying a PendingConnection that was neither accepted nor rejected rejects
  // it without private data; after a failed accept() the request is still unanswered.
  virtual void reject(std::span<const std::byte> private_data) noexcept = 0;
};

enum class EventType : std::uint8_t {
  kConnectRequest,  // pending is set
  kEstablished,     // connection is set
  // connection is set: destroy it (after its outstanding work is reaped). Its QP is already in
  // the error state: every outstanding request completes, with a flush error. Reported once,
  // also when the connection failed before it was established (REJECTED, CONNECT_ERROR,
  // UNREACHABLE, TIMEWAIT_EXIT, DEVICE_REMOVAL; after DEVICE_REMOVAL destroy it promptly: the
  // removal waits for it).
  kDisconnected,
};

struct ListenerEvent {
  EventType type = EventType::kConnectRequest;
  std::unique_ptr<PendingConnection> pending;  // kConnectRequest
  Connection* connection = nullptr;            // kEstablished, kDisconnected
};

// Listens for RDMA CM connection requests on one address and port. Connections accepted
// from it report their events through it; they may outlive it (events are then lost).
// Events of a Connection already destroyed are never reported.
class Listener {
 public:
  virtual ~Listener() = default;
  // The non-blocking descriptor that becomes readable when next_event() has something.
  [[nodiscard]] virtual int event_fd() const noexcept = 0;
  // The next event, or std::nullopt when none is waiting. Errors: the errno of
  // rdma_get_cm_event; ENOMEM when a connect request could not be recorded (it was
  // rejected); ENODEV once when the device of a listener bound to that device's address was
  // removed: it accepts nothing more (make a new one) but still reports its connections.
  [[nodiscard]] virtual Result<std::optional<ListenerEvent>> next_event() = 0;
  [[nodiscard]] virtual std::uint16_t port() const noexcept = 0;
};

// Listens with RDMA CM on address:port ("0.0.0.0" or "::" for every address; port 0 picks
// one). Errors: ENODEV when the host has no RDMA device, the errno of rdma_bind_addr
// (EADDRINUSE, EADDRNOTAVAIL), ...
[[nodiscard]] Result<std::unique_ptr<Listener>> listen(const std::string& address,
                                                       std::uint16_t port, int backlog = 64);

// --- The active side (initiators: the push-mode client) -----------------------------------

// Connects to a listener at address:port (numeric IPv4 or IPv6, no name resolution), sending
// private_data with the request (at most 56 bytes over IB/RoCE, else EINVAL from the kernel).
// Unlike everything above it BLOCKS, for at most `timeout` in all: address and route
// resolution, then the connect request until the peer accepts or rejects it. It creates its
// own PD, CQ, completion channel and QP with `limits` (limits() of the result: rdma_read_depth
// and responder_resources as the peer's reply and the device allowed).
//
// Seeing the peer go away without a Listener: the connection keeps its RDMA CM id on an event
// channel of its own, and its completion_fd() is an epoll descriptor that also becomes
// readable when that channel has an event. arm() takes those events; on DISCONNECTED (the
// peer disconnected or its tgtd died with the port still up), DEVICE_REMOVAL and other
// terminal events it moves the QP to the error state, exactly as disconnect() does, so every
// outstanding request, and every one posted later, completes with a flush error
// (IBV_WC_WR_FLUSH_ERR). A client that waits on completion_fd() with poll(2), calls arm() when
// it is readable and then poll() thus sees its wait fail instead of hanging. A peer that
// vanished without a word (host crash, cable) is seen by the transport retries of the next
// work request (IBV_WC_RETRY_EXC_ERR after several seconds), not by RDMA CM.
//
// Errors: EINVAL for an address that is not numeric or limits of 0, ENODEV when the host has
// no RDMA device (or none serves the route), ECONNREFUSED when the peer rejected the request
// or nothing listens on the port, ETIMEDOUT when `timeout` passed first (or the peer never
// answered: the CM's UNREACHABLE), EHOSTUNREACH when the address or route cannot be
// resolved, the errno of the librdmacm/libibverbs call that failed otherwise.
[[nodiscard]] Result<std::unique_ptr<Connection>> connect(const std::string& address,
                                                          std::uint16_t port,
                                                          std::span<const std::byte> private_data,
                                                          const QueueLimits& limits,
                                                          std::chrono::milliseconds timeout);

// An optional capability of a Connection: the RDMA FLUSH operation of the IBTA Memory
// Placement Extensions (libibverbs ibv_wr_flush, rdma-core >= 45). Query it with
// dynamic_cast<FlushCapable*>(&connection). The verbs connections (connect() and accept())
// offer it only in a build whose libibverbs has ibv_wr_flush, on a device that reports FLUSH
// to the persistence domain (Linux >= 6.2 rxe does) and whose provider makes the QP with
// IBV_QP_EX_WITH_FLUSH; elsewhere they are plain Connections. The peer's region must have
// been registered with kRemoteFlush, else the FLUSH completes with IBV_WC_REM_ACCESS_ERR.
class FlushCapable {
 public:
  virtual ~FlushCapable() = default;
  // Posts a FLUSH of dst to the peer's persistence domain (global visibility and
  // persistence), ordered after the RDMA WRITEs posted before it on this connection. Its
  // completion carries wr_id with type kRdmaWrite.
  [[nodiscard]] virtual Status post_rdma_flush(std::uint64_t wr_id, RemoteBuffer dst) = 0;
};

}  // namespace tgt_pmem::rdma
