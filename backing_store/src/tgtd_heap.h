// SPDX-License-Identifier: GPL-2.0-only
// tgtd's heap, tuned for the data buffers of large commands.
//
// tgt's iSCSI/TCP transport allocates each command's data buffer (posix_memalign) and frees
// it when the command is done. glibc serves a large allocation with a fresh mmap, or from the
// heap, whose top it gives back to the kernel above its trim threshold (both thresholds start
// at 128 KiB and follow the largest freed mmap chunk, so the trim threshold is about two
// buffers). At queue depth 4 and more, a 1 MiB command therefore gets new memory nearly every
// time: 256 page faults and 1 MiB of zeroing before a byte of data is copied, on tgtd's
// event loop. Measured on this project's host, 1 MiB random reads at QD 4 from tgt's null
// store: one minor fault per 4 KiB transferred (tests/integration/large_io_test.sh).
//
// bs_pmem, once loaded into tgtd, fixes both thresholds (mallopt): allocations up to 32 MiB
// come from the heap, and up to 64 MiB of free heap top is kept for the next commands. That
// is process-wide: every store of that tgtd gains (null and rdwr too). It is left alone when
// the administrator tuned glibc's malloc already (GLIBC_TUNABLES glibc.malloc.*_threshold,
// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) or asked for glibc's defaults
// (TGTPMEM_TGTD_HEAP=default). See bs_pmem(8), ENVIRONMENT.
#pragma once

#include <cstddef>
#include <string>

namespace tgt_pmem::bs {

inline constexpr std::size_t kHeapMmapThreshold = 32u << 20;  // glibc's ceiling on 64-bit
inline constexpr std::size_t kHeapTrimThreshold = 64u << 20;

// What the environment decides. Pure: reads nothing but its arguments (a variable not set:
// nullptr).
struct HeapDecision {
  bool tune = false;
  std::string reason;  // why not, for the log
};
[[nodiscard]] HeapDecision decide_heap_tuning(const char* tgtpmem_tgtd_heap,
                                              const char* glibc_tunables,
                                              const char* malloc_mmap_threshold,
                                              const char* malloc_trim_threshold);

// Reads the environment, applies the decision to this process; returns a line for the log.
[[nodiscard]] std::string tune_tgtd_heap();

}  // namespace tgt_pmem::bs
