// SPDX-License-Identifier: GPL-2.0-only
// Chooses, once per mapping, how data written to a libpmem2 mapping becomes durable.
//
// What a medium needs comes from the store granularity libpmem2 reports for its mapping:
//   PMEM2_GRANULARITY_BYTE       -> Method::kFenceOnly  (eADR platform)
//   PMEM2_GRANULARITY_CACHE_LINE -> Method::kCacheFlush (ADR: flush CPU caches + fence)
//   PMEM2_GRANULARITY_PAGE       -> Method::kMsync      (page cache, e.g. a plain file)
// libpmem2 also obeys PMEM2_FORCE_GRANULARITY from the environment, blindly: a plain file then
// "is" pmem and loses its msync. That must never happen by accident to every LUN of a tgtd,
// so prepare_process() takes the variable out of the environment, and needed_method() does
// not trust a granularity the variable may have forced. Emulating pmem on a plain file is a
// per-mapping choice instead: make_flusher(Method::kCacheFlush, ...) on that mapping.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tgt_pmem/flush/flusher.h"

struct pmem2_map;

namespace tgt_pmem::flush {

// Call while the process has one thread (tgtd: when bs_pmem registers; tools: in main):
// takes PMEM2_FORCE_GRANULARITY out of the environment, returning its value if it was set
// (for a log line), and fetches libpmem2's CPU flush functions (see make_flusher). Later
// calls return nothing and do nothing.
std::optional<std::string> prepare_process();

// What `map` of the medium behind `fd` needs (devdax: a device-dax character device). If
// PMEM2_FORCE_GRANULARITY is set (prepare_process() was not called), from what the medium
// is instead: a device-dax, or a file that maps with MAP_SYNC (fsdax), needs kCacheFlush
// (eADR cannot be told without libpmem2: the safe method); any other file, kMsync.
[[nodiscard]] Method needed_method(pmem2_map* map, int fd, bool devdax) noexcept;

// A flusher with `method` for a mapping whose file is `fd` (-1: none, as for devdax; not
// owned, used by sync_file()). kFenceOnly and kCacheFlush use the functions libpmem2 picks for
// this CPU at that granularity (non-temporal copies, CLWB/CLFLUSHOPT/CLFLUSH, SFENCE), which
// work on any mapping: that is how a plain file is treated as pmem. kMsync uses msync(2).
// Throws std::bad_alloc; std::invalid_argument for kFdatasync or kSimulated.
[[nodiscard]] std::unique_ptr<Flusher> make_flusher(Method method, int fd);

// A flusher for data written with write(2)/pwrite(2) to `fd` (not owned).
[[nodiscard]] std::unique_ptr<Flusher> make_fdatasync_flusher(int fd);

}  // namespace tgt_pmem::flush
