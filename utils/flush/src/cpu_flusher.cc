// SPDX-License-Identifier: GPL-2.0-only
// CPU cache flush + fence (ADR) or fence only (eADR), with the instructions libpmem2 picked
// for this CPU and granularity (CLWB, CLFLUSHOPT or CLFLUSH; SFENCE). The function pointers
// are fetched once: the hot path is an indirect call, no branch on the method.
#include <libpmem2.h>
#include <unistd.h>

#include "cpu_flusher.h"
#include "errno_status.h"

namespace tgt_pmem::flush {

CpuFlusher::CpuFlusher(const CpuFunctions& fns, int fd, Method method) noexcept
    : fns_(fns), fd_(fd), method_(method) {}

Status CpuFlusher::flush(const void* addr, std::size_t len) noexcept {
  fns_.flush(addr, len);
  return {};
}

Status CpuFlusher::drain() noexcept {
  fns_.drain();
  return {};
}

// libpmem2's memcpy/memset pick non-temporal stores for large sizes (no cache pollution, no
// separate write-back) and flush for small ones; NODRAIN leaves the fence to drain().
Status CpuFlusher::copy_and_flush(void* dst, const void* src, std::size_t len) noexcept {
  fns_.memcpy(dst, src, len, PMEM2_F_MEM_NODRAIN);
  return {};
}

Status CpuFlusher::fill_and_flush(void* dst, int c, std::size_t len) noexcept {
  fns_.memset(dst, c, len, PMEM2_F_MEM_NODRAIN);
  return {};
}

Status CpuFlusher::sync_file() noexcept {
  if (fd_ < 0) return {};
  return errno_status(::fdatasync(fd_));
}

}  // namespace tgt_pmem::flush
