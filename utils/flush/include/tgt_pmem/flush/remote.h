// SPDX-License-Identifier: GPL-2.0-only
// Remote durability, from the initiator's side: making RDMA WRITEs that the initiator already
// posted on a connection durable in the target's persistent memory without asking the
// target's CPU (push mode's alternative to a COMMIT message). Two methods:
//
// Read-after-write (RemoteMethod::kReadAfterWrite), available everywhere. After the WRITEs,
// an RDMA READ of the last (up to 8) bytes of the written range is posted on the same queue
// pair. An RC responder executes requests in order, and on PCIe a read does not pass the
// posted writes before it, so the READ's response leaves the target only once the WRITEs'
// data reached the memory controller. Its successful completion means the WRITEs are DURABLE
// only when all of these hold at the target:
//   - the memory is persistent memory mapped directly (devdax, or fsdax with MAP_SYNC), not
//     a page cache: a LUN on a plain file needs COMMIT (msync) instead;
//   - the platform's persistence domain includes the memory controller's write queues (ADR,
//     or eADR which also covers the CPU caches);
//   - the NIC's writes are not left in CPU caches: DDIO (Intel Data Direct I/O, writes
//     allocating into the last-level cache) is off for the NIC's root port, or the platform
//     has eADR. With DDIO on and only ADR, the data may sit in the LLC and be lost at power
//     failure although the READ completed.
// Nothing here can check those conditions from the initiator: the target's administrator
// vouches for them (see the push-mode documentation). The READ needs the range's rkey to
// allow remote read, and it is any RDMA READ's cost: one round trip.
//
// RDMA FLUSH (RemoteMethod::kRdmaFlush), the IBTA Memory Placement Extensions' FLUSH with
// the persistence type: the target's NIC makes the range persistent and only then answers,
// whatever DDIO says. It needs libibverbs' ibv_wr_flush (rdma-core >= 45), checked when
// tgt-pmem is built, and a connection that can post it (rdma::FlushCapable: a verbs
// connection on a device that reports FLUSH to the persistence domain, e.g. Linux >= 6.2
// rxe), and the target must have registered the range with rdma::kRemoteFlush (else the
// completion is IBV_WC_REM_ACCESS_ERR). A build against an older rdma-core (Debian 12 has
// 44) has no RDMA FLUSH: make_remote_flusher() says so.
//
// Usage: the flusher only posts; the caller reaps completions from Connection::poll() with
// the rest of its work and hands the flusher's to complete():
//   conn.post_rdma_write(1, data, dst);
//   flusher->post(2, dst);
//   ... poll until wr_id 2 completes; flusher->complete(completion) -> durable or an error.
//
// Why not the Flusher interface of flusher.h: that one makes ranges of the caller's own
// mapping durable and returns when they are; remote durability concerns the peer's memory,
// named by (addr, rkey) on one connection, and completes through that connection's CQ, which
// its owner reaps. The two share the Status type and the durability vocabulary.
//
// Thread-safety: none, like the Connection it posts on.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string_view>
#include <system_error>

#include "tgt_pmem/flush/flusher.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::flush {

enum class RemoteMethod : std::uint8_t { kReadAfterWrite, kRdmaFlush };

// "read-after-write", "rdma-flush".
[[nodiscard]] std::string_view to_string(RemoteMethod method) noexcept;

// Why a remote flusher cannot be made (category remote_flush_category(); each compares equal
// to std::errc::not_supported).
enum class RemoteFlushError {
  kRdmaFlushNotBuilt = 1,  // built against a libibverbs without ibv_wr_flush (rdma-core < 45)
  kRdmaFlushNotOffered,    // the connection cannot post RDMA FLUSH (not rdma::FlushCapable)
  kNoRdmaRead,             // the connection's RDMA READ depth is 0 (the peer allows no READ)
};
[[nodiscard]] const std::error_category& remote_flush_category() noexcept;
[[nodiscard]] std::error_code make_error_code(RemoteFlushError e) noexcept;

class RemoteFlusher {
 public:
  virtual ~RemoteFlusher() = default;

  [[nodiscard]] virtual RemoteMethod method() const noexcept = 0;

  // Posts, on the flusher's connection and after the RDMA WRITEs to `written` posted there
  // before, the one work request whose successful completion, with wr_id, means those WRITEs
  // are durable at the target (under the conditions of method(), see above). It takes one
  // slot of the send queue (QueueLimits::send_depth) and, for read-after-write, one of the
  // RDMA READ depth. Does not wait.
  // Errors: EINVAL for an empty range; the errno of the post (ENOMEM: the queue is full).
  [[nodiscard]] virtual Status post(std::uint64_t wr_id, rdma::RemoteBuffer written) = 0;

  // The outcome of that work request's completion: ok means durable; otherwise its status
  // as rdma::completion_error(): IBV_WC_REM_ACCESS_ERR (compares equal to
  // std::errc::permission_denied) when the rkey does not allow the READ or FLUSH of the
  // range, IBV_WC_WR_FLUSH_ERR when the connection failed before, IBV_WC_RETRY_EXC_ERR when
  // the target is unreachable. After an error the WRITEs may or may not have been placed.
  [[nodiscard]] virtual Status complete(const rdma::Completion& completion) const = 0;
};

// Whether this build has the method (kReadAfterWrite: always; kRdmaFlush: with ibv_wr_flush).
[[nodiscard]] bool remote_method_built(RemoteMethod method) noexcept;

// A flusher posting on `connection`, which must outlive it (the flusher registers an 8-byte
// buffer with it for read-after-write). Errors: RemoteFlushError (see above), the errno of
// register_memory.
[[nodiscard]] std::expected<std::unique_ptr<RemoteFlusher>, std::error_code> make_remote_flusher(
    RemoteMethod method, rdma::Connection& connection);

}  // namespace tgt_pmem::flush

template <>
struct std::is_error_code_enum<tgt_pmem::flush::RemoteFlushError> : std::true_type {};
