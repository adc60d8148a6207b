// SPDX-License-Identifier: GPL-2.0-only
#include "tgtd_heap.h"

#include <malloc.h>

#include <cstdlib>
#include <string_view>

namespace tgt_pmem::bs {

HeapDecision decide_heap_tuning(const char* tgtpmem_tgtd_heap, const char* glibc_tunables,
                                const char* malloc_mmap_threshold,
                                const char* malloc_trim_threshold) {
  if (tgtpmem_tgtd_heap && std::string_view(tgtpmem_tgtd_heap) == "default")
    return {false, "TGTPMEM_TGTD_HEAP=default"};
  if (glibc_tunables) {
    const std::string_view t(glibc_tunables);
    if (t.find("glibc.malloc.mmap_threshold") != std::string_view::npos ||
        t.find("glibc.malloc.trim_threshold") != std::string_view::npos)
      return {false, "GLIBC_TUNABLES sets malloc thresholds"};
  }
  if (malloc_mmap_threshold || malloc_trim_threshold)
    return {false, "MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ is set"};
  return {true, {}};
}

std::string tune_tgtd_heap() {
  const HeapDecision d =
      decide_heap_tuning(std::getenv("TGTPMEM_TGTD_HEAP"), std::getenv("GLIBC_TUNABLES"),
                         std::getenv("MALLOC_MMAP_THRESHOLD_"), std::getenv("MALLOC_TRIM_THRESHOLD_"));
  if (!d.tune) return "bs_pmem: tgtd's malloc thresholds left as they are (" + d.reason + ")";
  if (::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapMmapThreshold)) != 1 ||
      ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(kHeapTrimThreshold)) != 1)
    return "bs_pmem: tgtd's malloc thresholds could not be set (mallopt refused)";
  return "bs_pmem: tgtd's data buffers up to 32 MiB come from its heap, which keeps up to "
         "64 MiB free for reuse (TGTPMEM_TGTD_HEAP=default: glibc's defaults)";
}

}  // namespace tgt_pmem::bs
