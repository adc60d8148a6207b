// SPDX-License-Identifier: GPL-2.0-only
// The push-mode client library: an application connects to a LUN served by tgtd with
// bs_pmem push=on, registers ranges of it, moves data with RDMA WRITE/READ straight into the
// LUN's persistent memory, and makes it durable with COMMIT (the target flushes) or with a
// read-after-write flush (the initiator alone; see tgt_pmem/flush/remote.h for when that is
// enough). Protocol: iser_ext/docs/push-protocol.md.
//
//   auto c = tgt_pmem::push::Client::connect({.address = "192.0.2.1", .initiator_name = ...,
//                                             .target_name = "iqn...", .lun = 1});
//   auto r = c->register_region(0, 1 << 20, push::kRead | push::kWrite);
//   c->write(*r, 4096, bytes);   c->commit(*r, {{{4096, bytes.size()}}});   c->unregister(*r);
//
// Blocking: every call returns when its work is done, failed, or ClientOptions::timeout
// passed. Threading: a Client is not thread-safe; use one per thread (each is its own RDMA
// connection). Move-only.
//
// Linking: libtgtpmem-push.so (packages libtgtpmem-push0 and libtgtpmem-push-dev,
// `pkg-config --cflags --libs tgtpmem-push`; C++23, g++ 12: -std=c++2b). Its API is what this
// header and protocol.h mark TGTPMEM_PUSH_API; connect_over() is for the project's tests, which
// link the static library of a build tree.
//
// Errors: every call returns std::expected<T, std::error_code>. The code's category says who
// refused:
//   status_category()          the target answered with a protocol Status other than kOk
//                              (target_status() recovers it; status_error(s) makes one to
//                              compare with). The connection stays usable, except after a
//                              failed connect.
//   completion_category()      an RDMA work request failed ("rdma-completion", values of
//                              enum ibv_wc_status): IBV_WC_REM_ACCESS_ERR "remote access error:
//                              the target refused the access" (== std::errc::permission_denied)
//                              for a WRITE/READ outside what the rkey allows or after the
//                              region was unregistered; IBV_WC_WR_FLUSH_ERR when the connection
//                              went away (the target disconnected, tgtd exited);
//                              IBV_WC_RETRY_EXC_ERR when the target stopped answering. The
//                              connection is broken after any of these.
//   client_category()          ClientError below: a check the library made before sending
//                              anything (the connection stays usable), or the state of a
//                              broken connection.
//   std::generic_category()    errno values: ETIMEDOUT (no reply or completion within the
//                              timeout: the connection is broken), ECONNREFUSED (the RDMA CM
//                              request was rejected: nothing listens on that port), ENODEV (no
//                              RDMA device), EINVAL (address not numeric, empty buffers), the
//                              errno of a verbs call.
// After a broken connection every call fails with ClientError::kBroken; make a new Client.
#pragma once

#if __cplusplus < 202100L
#error "tgt_pmem/push/client.h needs C++23 (std::expected): compile with -std=c++23 (g++ 12: -std=c++2b)"
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "tgt_pmem/push/export.h"
#include "tgt_pmem/push/protocol.h"

namespace tgt_pmem::rdma {
class Connection;
}

namespace tgt_pmem::push {

template <class T>
using Result = std::expected<T, std::error_code>;

// --- Errors ----------------------------------------------------------------------------------

// The target's refusals: value = Status, message "the target answered: <to_string(s)>".
[[nodiscard]] TGTPMEM_PUSH_API const std::error_category& status_category() noexcept;
[[nodiscard]] TGTPMEM_PUSH_API std::error_code status_error(Status s) noexcept;
// The Status behind an error of status_category(), else nullopt.
[[nodiscard]] TGTPMEM_PUSH_API std::optional<Status> target_status(
    const std::error_code& ec) noexcept;

// Failed RDMA work requests: the library's rdma::completion_category() (the header-only
// tgt_pmem/rdma/completion_error.h, not installed). Compare error categories with this
// function: an inline category compiled into the application would be another object than the
// shared library's, and error_category compares by address.
[[nodiscard]] TGTPMEM_PUSH_API const std::error_category& completion_category() noexcept;

enum class ClientError {
  kOutsideRegion = 1,  // offset/length not inside the region (== std::errc::invalid_argument)
  kNotReadable,        // region registered without kRead: READ or read-after-write refused
  kNotWritable,        // region registered without kWrite (both == errc::permission_denied)
  kBadReply,           // the target's reply did not parse, or answers another request
                       // (== std::errc::protocol_error; the connection is broken)
  kBroken,             // an earlier error broke the connection (== errc::not_connected)
  kChapUnavailable,    // MD5 could not be computed for CHAP (an OpenSSL in FIPS-only mode)
  kNotFlushable,       // RDMA FLUSH asked for, but the target did not register the region
                       // for it (Region::flushable false; == std::errc::not_supported)
};
[[nodiscard]] TGTPMEM_PUSH_API const std::error_category& client_category() noexcept;
[[nodiscard]] TGTPMEM_PUSH_API std::error_code make_error_code(ClientError e) noexcept;

// --- What a session is made of -------------------------------------------------------------

// How write_and_flush() makes its WRITE durable without the target's CPU (one-sided):
//   kReadAfterWrite  an RDMA READ of the range's last bytes behind the WRITE; durable only
//                    where the target's platform makes it so (flush_read_after_write()).
//   kRdmaFlush       RDMA FLUSH of the range to the target's persistence domain (IBTA Memory
//                    Placement Extensions): the target's NIC answers for durability. Needs a
//                    library built with ibv_wr_flush (rdma-core >= 45), a connection whose
//                    device offers FLUSH, and a region the target registered for it
//                    (Region::flushable).
//   kAuto            kRdmaFlush where all of that holds, else kReadAfterWrite.
enum class FlushMethod : std::uint8_t { kAuto, kReadAfterWrite, kRdmaFlush };
// "auto", "read-after-write", "rdma-flush".
[[nodiscard]] TGTPMEM_PUSH_API std::string_view to_string(FlushMethod m) noexcept;

struct ClientOptions {
  std::string address;         // the target's RDMA address, numeric IPv4 or IPv6
  std::uint16_t port = 5566;   // bs_pmem's push_port= (default 5566)
  std::string initiator_name;  // checked against the target's -Q ACL
  std::string target_name;     // the tgt target's IQN
  std::uint64_t lun = 0;
  std::string chap_user;    // empty: no CHAP; a target that requires it fails connect()
  std::string chap_secret;  // with status_error(Status::kChapRequired)
  // Bounds each wait: the RDMA CM handshake, each reply, each transfer's completions.
  std::chrono::milliseconds timeout{10000};
  // The locally registered buffer data moves through; larger transfers go in pieces.
  std::size_t staging_bytes = 1u << 20;
  // write_and_flush()'s method. kRdmaFlush is never replaced by another: where RDMA FLUSH is
  // not available, write_and_flush() fails instead (see flush_method()).
  FlushMethod flush_method = FlushMethod::kAuto;
  // Each wait first polls the completion queue for up to this long before it sleeps on the
  // completion channel: lower latency for a CPU spinning meanwhile. 0: sleep at once.
  std::chrono::microseconds poll{0};
};

// The remote side of a region: LUN byte (region offset + k) is at RDMA address addr + k.
// The rkey is valid on the connection that registered it only.
struct RemoteRegion {
  std::uint64_t addr = 0;
  std::uint32_t rkey = 0;
  std::uint64_t length = 0;
};

// A registered range of the LUN. A plain value: it stays valid until unregister() or the end
// of the Client; using it afterwards makes the target refuse the access.
struct Region {
  std::uint32_t handle = 0;
  std::uint64_t lun_offset = 0;  // where the region starts in the LUN
  std::uint8_t access = 0;       // Access bits (kRead, kWrite)
  RemoteRegion remote;
  bool flushable = false;        // the target registered it for RDMA FLUSH (kRegionFlushable)
  [[nodiscard]] std::uint64_t length() const noexcept { return remote.length; }
};

class Client {
 public:
  // Connects over RDMA CM and runs CONNECT (and CHAP when the target asks for it).
  // Errors: see above; a target refusal is a status_error (kNoSuchLun, kNotAdmitted,
  // kAuthFailed, kChapRequired without a chap_user, kUnsupported).
  [[nodiscard]] TGTPMEM_PUSH_API static Result<Client> connect(const ClientOptions& options);

  // For tests: the same over an existing connection (tests/fakes/fake_rdma.h) instead of
  // RDMA CM (options.address and port are not used). `idle` is called whenever the client
  // waits and the connection has no completion_fd(): the test plays the target there.
  // Not exported by the shared library: rdma::Connection (tgt_pmem/rdma/connection.h) is not
  // installed; the tests link the static library.
  using IdleHook = std::function<void()>;
  [[nodiscard]] static Result<Client> connect_over(std::unique_ptr<rdma::Connection> connection,
                                                   const ClientOptions& options, IdleHook idle);

  TGTPMEM_PUSH_API Client(Client&&) noexcept;
  TGTPMEM_PUSH_API Client& operator=(Client&&) noexcept;
  TGTPMEM_PUSH_API ~Client();  // disconnects: the target drops every region of the connection

  // From CONNECT_REPLY.
  [[nodiscard]] TGTPMEM_PUSH_API std::uint64_t lun_size() const noexcept;
  [[nodiscard]] TGTPMEM_PUSH_API std::uint32_t block_size() const noexcept;
  [[nodiscard]] TGTPMEM_PUSH_API std::uint32_t max_regions() const noexcept;
  [[nodiscard]] TGTPMEM_PUSH_API std::uint64_t max_exposed() const noexcept;
  [[nodiscard]] TGTPMEM_PUSH_API std::string peer_address() const;
  [[nodiscard]] TGTPMEM_PUSH_API bool broken() const noexcept;
  // Whether this connection can post RDMA FLUSH: the library was built with ibv_wr_flush and
  // the connection's device offers FLUSH (rdma::FlushCapable).
  [[nodiscard]] TGTPMEM_PUSH_API bool rdma_flush_offered() const noexcept;

  // REGISTER: exposes [offset, offset + length) of the LUN (block aligned) with `access`
  // (kRead, kWrite or both). Errors: status_error kOutOfRange, kLimitReached, kAccessDenied,
  // kUnsupported.
  [[nodiscard]] TGTPMEM_PUSH_API Result<Region> register_region(std::uint64_t offset,
                                                                std::uint64_t length,
                                                                std::uint8_t access);

  // RDMA WRITE of data to the region at offset, waiting for its completion. Placed at the
  // target, NOT durable: follow with commit() or flush_read_after_write(). Errors:
  // kOutsideRegion, kNotWritable, completion errors.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> write(const Region& region, std::uint64_t offset,
                                                    std::span<const std::byte> data);
  // RDMA READ of out.size() bytes of the region at offset. Errors: kOutsideRegion,
  // kNotReadable, completion errors.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> read(const Region& region, std::uint64_t offset,
                                                   std::span<std::byte> out);

  // COMMIT: returns once the target made the ranges (offsets into the region; none: the
  // whole region) durable. The target checks the ranges. Errors: status_error kOutOfRange,
  // kNoSuchHandle, kAccessDenied (region without kWrite), kIoError; EINVAL for more than
  // kMaxCommitRanges ranges.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> commit(const Region& region,
                                                     std::span<const Range> ranges = {});

  // Read-after-write flush of [offset, offset + length) of the region: an RDMA READ of the
  // range's last bytes after the WRITEs before it. Durable only under the conditions of
  // tgt_pmem/flush/remote.h (pmem, ADR with DDIO off, or eADR), which the initiator cannot
  // check. Needs a region with kRead. Errors: kNotReadable, kOutsideRegion, completion errors.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> flush_read_after_write(const Region& region,
                                                                     std::uint64_t offset,
                                                                     std::uint64_t length);

  // The method write_and_flush() uses for `region`: ClientOptions::flush_method, kAuto
  // resolved (kRdmaFlush if rdma_flush_offered() and region.flushable, else
  // kReadAfterWrite). Errors, for kRdmaFlush asked for explicitly where it is not available
  // (each == std::errc::not_supported, its message says why): flush::RemoteFlushError
  // kRdmaFlushNotBuilt (a library built against rdma-core < 45) or kRdmaFlushNotOffered (the
  // connection cannot post FLUSH), ClientError::kNotFlushable (the target did not register
  // the region for it).
  [[nodiscard]] TGTPMEM_PUSH_API Result<FlushMethod> flush_method(const Region& region) const;

  // The durable write in one round: the WRITE, then the COMMIT of its range (or the
  // one-sided flush of flush_method(): the read-after-write READ, or RDMA FLUSH of the range)
  // posted behind it without waiting in between (RC delivers them in order). Errors: those
  // of write() and commit(); write_and_flush(): those of flush_method(), kNotReadable for
  // read-after-write on a region without kRead, completion errors (RDMA FLUSH on a range the
  // target did not register for it: IBV_WC_REM_ACCESS_ERR).
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> write_and_commit(const Region& region,
                                                               std::uint64_t offset,
                                                               std::span<const std::byte> data);
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> write_and_flush(const Region& region,
                                                              std::uint64_t offset,
                                                              std::span<const std::byte> data);

  // UNREGISTER: the region's rkey stops working before the reply. Errors: status_error
  // kNoSuchHandle.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> unregister(const Region& region);

  // For tests of the target's enforcement: an RDMA WRITE / READ through any (addr, rkey),
  // without the library's checks (a region of another connection, one unregistered, beyond
  // its end). The target's refusal is a remote access error and breaks the connection.
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> write_raw(const RemoteRegion& remote,
                                                        std::uint64_t offset,
                                                        std::span<const std::byte> data);
  [[nodiscard]] TGTPMEM_PUSH_API Result<void> read_raw(const RemoteRegion& remote,
                                                       std::uint64_t offset,
                                                       std::span<std::byte> out);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgt_pmem::push

template <>
struct std::is_error_code_enum<tgt_pmem::push::ClientError> : std::true_type {};
