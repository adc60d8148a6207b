// SPDX-License-Identifier: GPL-2.0-only
// CPU cache flush + fence (ADR) or fence only (eADR), with the instructions libpmem2 picked
// for this CPU and mapping (CLWB, CLFLUSHOPT or CLFLUSH; SFENCE). The function pointers are
// fetched once: the hot path is an indirect call, no branch on the method.
#include <libpmem2.h>
#include <unistd.h>

#include "cpu_flusher.h"
#include "errno_status.h"

namespace tgt_pmem::flush {

CpuFlusher::CpuFlusher(pmem2_map* map, int fd, Method method) noexcept
    : flush_fn_(pmem2_get_flush_fn(map)),
      drain_fn_(pmem2_get_drain_fn(map)),
      memcpy_fn_(pmem2_get_memcpy_fn(map)),
      memset_fn_(pmem2_get_memset_fn(map)),
      fd_(fd),
      method_(method) {}

Status CpuFlusher::flush(const void* addr, std::size_t len) noexcept {
  flush_fn_(addr, len);
  return {};
}

Status CpuFlusher::drain() noexcept {
  drain_fn_();
  return {};
}

// libpmem2's memcpy/memset pick non-temporal stores for large sizes (no cache pollution, no
// separate write-back) and flush for small ones; NODRAIN leaves the fence to drain().
Status CpuFlusher::copy_and_flush(void* dst, const void* src, std::size_t len) noexcept {
  memcpy_fn_(dst, src, len, PMEM2_F_MEM_NODRAIN);
  return {};
}

Status CpuFlusher::fill_and_flush(void* dst, int c, std::size_t len) noexcept {
  memset_fn_(dst, c, len, PMEM2_F_MEM_NODRAIN);
  return {};
}

Status CpuFlusher::sync_file() noexcept {
  if (fd_ < 0) return {};
  return errno_status(::fdatasync(fd_));
}

}  // namespace tgt_pmem::flush
