// SPDX-License-Identifier: GPL-2.0-only
// With a volatile write cache (WCE=1) writes are stored but not flushed; this remembers
// where, so that SYNCHRONIZE CACHE or a FUA write can make exactly those ranges durable.
// Bounded: past kMaxRanges it degrades to "everything" (flush the whole medium), which is
// slower but never loses a range. Thread-safe.
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

  void add(std::uint64_t offset, std::uint64_t len);
  void add_file_change();  // a change made through the fd (hole punch)

  struct Taken {
    std::vector<Range> ranges;
    bool everything = false;
    bool file_changed = false;
  };
  // Returns and forgets what is dirty. On a failed sync, the caller puts it back.
  Taken take();
  void restore(Taken t);
  [[nodiscard]] bool empty() const;

 private:
  mutable std::mutex mu_;
  Taken dirty_;
};

}  // namespace tgt_pmem::bs
