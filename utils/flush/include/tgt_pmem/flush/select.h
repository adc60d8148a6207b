// SPDX-License-Identifier: GPL-2.0-only
// Chooses, once per mapping, how data written to a libpmem2 mapping becomes durable, from
// the store granularity libpmem2 reports for it:
//   PMEM2_GRANULARITY_BYTE       -> Method::kFenceOnly  (eADR platform)
//   PMEM2_GRANULARITY_CACHE_LINE -> Method::kCacheFlush (ADR: flush CPU caches + fence)
//   PMEM2_GRANULARITY_PAGE       -> Method::kMsync      (page cache, e.g. a plain file)
// libpmem2 honours PMEM2_FORCE_GRANULARITY (BYTE|CACHE_LINE|PAGE) for emulation.
#pragma once

#include <memory>

#include "tgt_pmem/flush/flusher.h"

struct pmem2_map;

namespace tgt_pmem::flush {

// The method make_flusher_for_map() chooses for `map`, without making a flusher: what tools
// report (tgtpmem-admin info) is then exactly what the module will do.
[[nodiscard]] Method method_for_map(pmem2_map* map) noexcept;

// `map` must outlive the returned flusher; `fd` (the mapped file, or -1) is what
// sync_file() fdatasyncs; it is not owned.
[[nodiscard]] std::unique_ptr<Flusher> make_flusher_for_map(pmem2_map* map, int fd);

// A flusher for data written with write(2)/pwrite(2) to `fd` (not owned).
[[nodiscard]] std::unique_ptr<Flusher> make_fdatasync_flusher(int fd);

}  // namespace tgt_pmem::flush
