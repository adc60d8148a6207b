// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

// For data written with pwrite(2): nothing to do per range, fdatasync(2) at drain().
class FdatasyncFlusher final : public Flusher {
 public:
  explicit FdatasyncFlusher(int fd) noexcept : fd_(fd) {}
  Method method() const noexcept override { return Method::kFdatasync; }
  Status flush(const void*, std::size_t) noexcept override { return {}; }
  Status drain() noexcept override { return sync_file(); }
  Status sync_file() noexcept override;

 private:
  int fd_;
};

}  // namespace tgt_pmem::flush
