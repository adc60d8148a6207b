// SPDX-License-Identifier: GPL-2.0-only
// SIGBUS-safe access to a mapping. Loading a poisoned pmem line (machine check, BUS_MCEERR_AR)
// or touching a page of a file mapping whose file was truncated underneath (BUS_ADRERR)
// raises SIGBUS, whose default action would kill tgtd with every LUN it serves. A guarded walk
// turns such a SIGBUS into a value: the walk stops and says where the fault was, and the
// command that was being executed fails with a MEDIUM ERROR instead.
//
// How: one process-wide SIGBUS handler (installed on first use, SA_SIGINFO|SA_ONSTACK|
// SA_NODEFER) and, per thread, a pointer to the innermost armed frame (a sigjmp_buf on the
// walking thread's stack). The handler jumps back to the frame only if the fault is a memory
// fault of this thread inside the frame's address range; every other SIGBUS (another thread,
// another address, kill(2)) goes to the handler that was installed before ours, or to the
// default action, exactly as without this module. tgtd's own signals (SIGUSR2 through a
// signalfd, SIGPIPE, SIGTERM) are not touched.
//
// Rules for the step function of a walk: it may only load from / store to the chunk it is
// given (and its own source buffer) and call functions that own no resources and take no
// locks (memcpy, memset, libpmem2's memcpy/memset/flush, msync): a fault leaves the step by
// siglongjmp, which runs no destructors.
//
// Thread-safety: any number of threads may walk at once; frames are per thread. A thread that
// blocks SIGBUS (tgt's bs_thread workers block every signal) has SIGBUS unblocked on its first
// walk, because the kernel kills the process for a fault whose signal is blocked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tgt_pmem::bs {

// Chunks of a walk never cross a multiple of this many bytes (in addresses): the page, the
// unit in which a truncated file faults, so that all bytes before a faulting chunk are known
// good and the first failing block can be named precisely.
inline constexpr std::size_t kGuardChunk = 4096;

struct GuardedWalk {
  enum class End {
    kDone,     // every chunk was stepped over
    kStopped,  // the step returned false
    kFault,    // SIGBUS inside [begin, begin + len)
  };
  End end = End::kDone;
  // With kFault: the first byte (offset from begin) that is known bad: the start of the
  // chunk that faulted, or of the fault's granule if that lies inside the chunk.
  std::size_t fault_offset = 0;
  // With kFault: the addresses [granule_begin, granule_end) the kernel reported bad, not
  // clamped to the walk: a page for a truncated file, 2^si_addr_lsb bytes for poison.
  std::uintptr_t granule_begin = 0;
  std::uintptr_t granule_end = 0;
};

// step(ctx, chunk, chunk_len, offset_in_walk): false stops the walk.
using GuardedStep = bool (*)(void* ctx, std::byte* chunk, std::size_t len,
                             std::size_t done) noexcept;

// Calls step for consecutive chunks of [begin, begin + len), in ascending order, with a
// SIGBUS inside that range turned into End::kFault. Chunks never cross a multiple of `chunk`
// (a power of two, or SIZE_MAX for a single call). len 0 does nothing. Nestable.
[[nodiscard]] GuardedWalk guarded_walk(std::byte* begin, std::size_t len, GuardedStep step,
                                       void* ctx, std::size_t chunk = kGuardChunk) noexcept;

// The same with any callable bool(std::byte* chunk, std::size_t len, std::size_t done).
template <class F>
[[nodiscard]] GuardedWalk guarded_walk(std::byte* begin, std::size_t len, F&& f,
                                       std::size_t chunk = kGuardChunk) noexcept {
  return guarded_walk(
      begin, len,
      [](void* ctx, std::byte* chunk, std::size_t n, std::size_t done) noexcept -> bool {
        return (*static_cast<std::remove_reference_t<F>*>(ctx))(chunk, n, done);
      },
      const_cast<void*>(static_cast<const void*>(&f)), chunk);
}

// Installs the handler now rather than on the first walk (idempotent, thread-safe). Returns
// false if sigaction failed, in which case walks run unguarded.
bool install_media_guard() noexcept;

}  // namespace tgt_pmem::bs
