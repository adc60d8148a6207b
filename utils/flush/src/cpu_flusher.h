// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include <cstddef>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

// libpmem2's functions for one store granularity (select.cc fetches them once).
struct CpuFunctions {
  void (*flush)(const void*, size_t);
  void (*drain)();
  void* (*memcpy)(void*, const void*, size_t, unsigned);
  void* (*memset)(void*, int, size_t, unsigned);
};

class CpuFlusher final : public Flusher {
 public:
  // method: kCacheFlush or kFenceOnly, with the functions of that granularity; fd: the
  // mapped file for sync_file() (-1: none).
  CpuFlusher(const CpuFunctions& fns, int fd, Method method) noexcept;
  Method method() const noexcept override { return method_; }
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override;
  Status sync_file() noexcept override;
  Status copy_and_flush(void* dst, const void* src, std::size_t len) noexcept override;
  Status fill_and_flush(void* dst, int c, std::size_t len) noexcept override;

 private:
  CpuFunctions fns_;
  int fd_;
  Method method_;
};

}  // namespace tgt_pmem::flush
