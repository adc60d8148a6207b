// SPDX-License-Identifier: GPL-2.0-only
// With a volatile write cache (WCE=1) writes are stored but not flushed; this remembers
// where, so that SYNCHRONIZE CACHE or a FUA write can make exactly those ranges durable.
// Bounded: past kMaxRanges it degrades to "everything" (flush the whole medium), which is
// slower but never loses a range. Nothing here allocates after construction, so recording a
// write cannot fail (a write that was stored must never be forgotten for want of memory).
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace tgt_pmem::bs {

class DirtyRanges {
 public:
  struct Range {
    std::uint64_t offset;
    std::uint64_t len;
  };
  static constexpr std::size_t kMaxRanges = 4096;

  struct Taken {
    std::vector<Range> ranges;
    bool everything = false;
    bool file_changed = false;
  };

  // Reserves room for kMaxRanges. Throws std::bad_alloc.
  DirtyRanges();
  // A Taken with the same room, for take(). Throws std::bad_alloc.
  [[nodiscard]] static Taken make_taken();

  void add(std::uint64_t offset, std::uint64_t len) noexcept;
  void add_file_change() noexcept;  // a change made through the fd (hole punch)

  // Moves what is dirty into `out` (made by make_taken(); its old content is dropped) and
  // forgets it here. The two swap their storage: neither allocates.
  void take(Taken& out) noexcept;
  [[nodiscard]] bool empty() const noexcept;

 private:
  mutable std::mutex mu_;
  Taken dirty_;
};

}  // namespace tgt_pmem::bs
