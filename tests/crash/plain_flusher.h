// SPDX-License-Identifier: GPL-2.0-only
// A flusher that cannot fail and does nothing: for opening a crash image (recovery, a store's
// open), where what is checked is what the image holds, not the opener's own durability.
#pragma once

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::crash {

class PlainFlusher final : public flush::Flusher {
 public:
  flush::Method method() const noexcept override { return flush::Method::kCacheFlush; }
  flush::Status flush(const void*, std::size_t) noexcept override { return {}; }
  flush::Status drain() noexcept override { return {}; }
  flush::Status sync_file() noexcept override { return {}; }
};

}  // namespace tgt_pmem::crash
