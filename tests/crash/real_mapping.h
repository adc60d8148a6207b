// SPDX-License-Identifier: GPL-2.0-only
// The memory a crash-explorer run works on, and the production flusher for it: a memfd mapped
// by libpmem2, with flush::make_flusher(method), so that libpmem2's non-temporal copies, CLWB
// and SFENCE (cache-flush, fence-only) or msync (msync) really run under the recording.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "tgt_pmem/flush/flusher.h"

struct pmem2_map;
struct pmem2_source;
struct pmem2_config;

namespace tgt_pmem::crash {

class RealMapping {
 public:
  // Throws std::runtime_error if the memfd or the mapping cannot be made.
  RealMapping(std::uint64_t size, flush::Method method);
  ~RealMapping();
  RealMapping(const RealMapping&) = delete;
  RealMapping& operator=(const RealMapping&) = delete;

  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
  // libpmem2's flusher for the mapping; it reports `method`.
  [[nodiscard]] flush::Flusher* flusher() const noexcept { return flusher_.get(); }

 private:
  int fd_ = -1;
  pmem2_source* src_ = nullptr;
  pmem2_config* cfg_ = nullptr;
  pmem2_map* map_ = nullptr;
  std::unique_ptr<flush::Flusher> flusher_;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace tgt_pmem::crash
