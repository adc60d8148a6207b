// SPDX-License-Identifier: GPL-2.0-only
// The durability interface every tgt-pmem component uses: nothing is acknowledged to an
// initiator before the bytes it wrote are durable, and *how* they become durable is hidden
// behind this one interface, chosen once per mapping (see select.h).
//
// Every store a component makes to a medium goes through its flusher too (copy(), fill(),
// store_word(), or the flushing copies): in production these are plain memcpy/memset and
// libpmem2's non-temporal copies, and a test implementation sees every store, which is what
// the crash explorer (tests/crash/) needs to build the images a power loss could leave.
//
// Thread-safety: every call may be made from several threads at once on the real
// implementations (they only issue CPU instructions or system calls); the test
// implementations serialise internally. drain() is per thread, like the SFENCE it stands for:
// it covers what *this* thread flushed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <expected>
#include <string_view>
#include <system_error>

namespace tgt_pmem::flush {

// An errno-based error: EIO from msync/fdatasync means the data may not be durable.
using Status = std::expected<void, std::error_code>;

enum class Method {
  kFenceOnly,   // eADR: CPU caches are inside the persistence domain; a store fence suffices.
  kCacheFlush,  // ADR: write CPU cache lines back (CLWB/CLFLUSHOPT/CLFLUSH), then fence.
  kMsync,       // a page cache sits in front of the medium: msync(MS_SYNC) the dirty pages.
  kFdatasync,   // data reaches the medium through a file descriptor: fdatasync(2).
  kSimulated,   // tests only: a recording or power-cut model (flush/recording.h, power_cut.h).
};

// "fence-only", "cache-flush", "msync", "fdatasync", "simulated".
[[nodiscard]] std::string_view to_string(Method method) noexcept;

class Flusher {
 public:
  virtual ~Flusher() = default;

  [[nodiscard]] virtual Method method() const noexcept = 0;

  // Starts making [addr, addr + len) durable. Not durable until a later drain() returns ok.
  // Errors: the errno of msync(2) (EIO, ENOMEM, ...).
  [[nodiscard]] virtual Status flush(const void* addr, std::size_t len) noexcept = 0;

  // Returns once everything flush()ed before it (by this thread) is durable.
  // Errors: the errno of fdatasync(2).
  [[nodiscard]] virtual Status drain() noexcept = 0;

  // flush() then drain(): the usual way to make one range durable.
  [[nodiscard]] Status persist(const void* addr, std::size_t len) noexcept {
    if (auto s = flush(addr, len); !s) return s;
    return drain();
  }

  // Copies len bytes to dst (inside the flushed region) and flush()es them, in whichever way
  // is cheapest for the method (non-temporal stores on pmem). Not durable until drain().
  [[nodiscard]] virtual Status copy_and_flush(void* dst, const void* src,
                                              std::size_t len) noexcept;
  // Fills [dst, dst + len) with byte c and flush()es it, likewise.
  [[nodiscard]] virtual Status fill_and_flush(void* dst, int c, std::size_t len) noexcept;

  // Plain stores, not flushed (libpmem2's PMEM2_F_MEM_NOFLUSH): durable only after a later
  // flush() of the range and a drain(). They cannot fail.
  virtual void copy(void* dst, const void* src, std::size_t len) noexcept {
    std::memcpy(dst, src, len);
  }
  virtual void fill(void* dst, int c, std::size_t len) noexcept { std::memset(dst, c, len); }
  // One aligned 8-byte store, single-copy atomic (what a concurrent reader or a power loss
  // sees is the old or the new value, never a mix) and with release ordering.
  virtual void store_word(std::uint64_t* dst, std::uint64_t value) noexcept {
    __atomic_store_n(dst, value, __ATOMIC_RELEASE);
  }

  // Makes changes done through the file descriptor rather than the mapping durable:
  // hole punching, file size changes. A no-op where there is no file (devdax, tests).
  // Errors: the errno of fdatasync(2).
  [[nodiscard]] virtual Status sync_file() noexcept = 0;

  // Remote durability (RDMA read-after-write, RDMA FLUSH) is flush/remote.h: it works on a
  // peer's memory and completes through the RDMA connection, so it has its own interface.
};

inline Status Flusher::copy_and_flush(void* dst, const void* src, std::size_t len) noexcept {
  copy(dst, src, len);
  return flush(dst, len);
}

inline Status Flusher::fill_and_flush(void* dst, int c, std::size_t len) noexcept {
  fill(dst, c, len);
  return flush(dst, len);
}

}  // namespace tgt_pmem::flush
