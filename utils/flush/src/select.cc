// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/select.h"

#include <libpmem2.h>

#include "cpu_flusher.h"
#include "fdatasync_flusher.h"
#include "msync_flusher.h"

namespace tgt_pmem::flush {

Method method_for_map(pmem2_map* map) noexcept {
  switch (pmem2_map_get_store_granularity(map)) {
    case PMEM2_GRANULARITY_BYTE:
      return Method::kFenceOnly;
    case PMEM2_GRANULARITY_CACHE_LINE:
      return Method::kCacheFlush;
    case PMEM2_GRANULARITY_PAGE:
      break;
  }
  return Method::kMsync;
}

std::unique_ptr<Flusher> make_flusher_for_map(pmem2_map* map, int fd) {
  const Method method = method_for_map(map);
  if (method == Method::kMsync) return std::make_unique<MsyncFlusher>(fd);
  return std::make_unique<CpuFlusher>(map, fd, method);
}

std::unique_ptr<Flusher> make_fdatasync_flusher(int fd) {
  return std::make_unique<FdatasyncFlusher>(fd);
}

}  // namespace tgt_pmem::flush
