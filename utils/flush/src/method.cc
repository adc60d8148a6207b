// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

std::string_view to_string(Method method) noexcept {
  switch (method) {
    case Method::kFenceOnly: return "fence-only";
    case Method::kCacheFlush: return "cache-flush";
    case Method::kMsync: return "msync";
    case Method::kFdatasync: return "fdatasync";
    case Method::kSimulated: return "simulated";
  }
  return "unknown";
}

}  // namespace tgt_pmem::flush
