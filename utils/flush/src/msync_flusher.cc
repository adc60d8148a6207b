// SPDX-License-Identifier: GPL-2.0-only
#include "msync_flusher.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "errno_status.h"

namespace tgt_pmem::flush {

namespace {
const std::uintptr_t kPageSize = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
}

Status MsyncFlusher::flush(const void* addr, std::size_t len) noexcept {
  if (len == 0) return {};
  // msync wants a page-aligned start; widen the range to whole pages.
  const auto start = reinterpret_cast<std::uintptr_t>(addr) & ~(kPageSize - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(addr) + len;
  return errno_status(::msync(reinterpret_cast<void*>(start), end - start, MS_SYNC));
}

Status MsyncFlusher::sync_file() noexcept {
  if (fd_ < 0) return {};
  return errno_status(::fdatasync(fd_));
}

}  // namespace tgt_pmem::flush
