// SPDX-License-Identifier: GPL-2.0-only
// A medium in plain memory for engine tests. The flusher is the test's (recording,
// power-cut); deallocation stores zeros, as on devdax, and tracks deallocated blocks so that
// GET LBA STATUS can be tested without a file system. Bad ranges can be injected as if the
// platform had reported them at open (libpmem2's bad blocks), and their clearing observed.
#pragma once

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "medium.h"

namespace tgt_pmem::testing {

class MemoryMedium final : public bs::Medium {
 public:
  // mem: the bytes the engine stores to (not owned); flusher: not owned.
  MemoryMedium(std::span<std::byte> mem, flush::Flusher& flusher, std::uint64_t granule = 4096)
      : mem_(mem), granule_(granule), deallocated_(mem.size() / granule) {
    set_flusher(flusher);
  }

  std::byte* data() noexcept override { return mem_.data(); }
  std::uint64_t size() const noexcept override { return mem_.size(); }
  std::string_view kind() const noexcept override { return "memory"; }

  std::expected<Dealloc, std::error_code> deallocate(std::uint64_t offset,
                                                     std::uint64_t len) noexcept override {
    flusher().fill(mem_.data() + offset, 0, len);
    // Whole granules inside the range count as deallocated, like punched file pages.
    for (std::uint64_t g = (offset + granule_ - 1) / granule_; (g + 1) * granule_ <= offset + len;
         ++g)
      deallocated_[g] = true;
    return Dealloc::kZeroedInMemory;
  }

  std::expected<Extent, std::error_code> extent_at(std::uint64_t offset) const noexcept override {
    std::uint64_t g = offset / granule_;
    const bool state = deallocated_[g];
    while (g < deallocated_.size() && deallocated_[g] == state) ++g;
    return Extent{!state, std::min<std::uint64_t>(g * granule_, mem_.size())};
  }

  std::vector<ByteRange> bad_ranges_at_open() const override { return bad_at_open; }
  std::error_code clear_bad_range(std::uint64_t offset, std::uint64_t len) noexcept override {
    if (clear_error) return clear_error;
    try {
      cleared.push_back({offset, len});
    } catch (...) {
      return std::make_error_code(std::errc::not_enough_memory);
    }
    return {};
  }

  // Set before the Lun is made: what bad_ranges_at_open() reports.
  std::vector<ByteRange> bad_at_open;
  // Every successful clear_bad_range(), in order; clear_error makes them fail.
  std::vector<ByteRange> cleared;
  std::error_code clear_error;

  // Tests store through data() directly; a store marks its granules allocated again.
  void mark_written(std::uint64_t offset, std::uint64_t len) {
    for (std::uint64_t g = offset / granule_; g * granule_ < offset + len; ++g)
      deallocated_[g] = false;
  }

 private:
  std::span<std::byte> mem_;
  std::uint64_t granule_;
  std::vector<bool> deallocated_;
};

}  // namespace tgt_pmem::testing
