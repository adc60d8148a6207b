// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include "tgt_pmem/flush/flusher.h"

struct pmem2_map;

namespace tgt_pmem::flush {

class CpuFlusher final : public Flusher {
 public:
  // method: kCacheFlush or kFenceOnly, as the mapping's granularity says.
  CpuFlusher(pmem2_map* map, int fd, Method method) noexcept;
  Method method() const noexcept override { return method_; }
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override;
  Status sync_file() noexcept override;
  Status copy_and_flush(void* dst, const void* src, std::size_t len) noexcept override;
  Status fill_and_flush(void* dst, int c, std::size_t len) noexcept override;

 private:
  void (*flush_fn_)(const void*, size_t);
  void (*drain_fn_)();
  void* (*memcpy_fn_)(void*, const void*, size_t, unsigned);
  void* (*memset_fn_)(void*, int, size_t, unsigned);
  int fd_;
  Method method_;
};

}  // namespace tgt_pmem::flush
