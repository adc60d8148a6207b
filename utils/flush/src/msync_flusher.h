// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

// msync(MS_SYNC) is itself synchronous, so flush() does the work and drain() has nothing
// left to wait for. Unlike libpmem2's own page-granularity persist, errors (EIO) reach the
// caller, who must then fail the command instead of acknowledging it.
class MsyncFlusher final : public Flusher {
 public:
  explicit MsyncFlusher(int fd) noexcept : fd_(fd) {}
  Method method() const noexcept override { return Method::kMsync; }
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override { return {}; }
  Status sync_file() noexcept override;

 private:
  int fd_;
};

}  // namespace tgt_pmem::flush
