// SPDX-License-Identifier: GPL-2.0-only
// The byte ranges of a medium that are known bad: reported by libpmem2 when the LUN was
// opened (Origin::kMedium), or learnt from a SIGBUS at run time (Origin::kLearnt). Ranges are
// disjoint and kept as they were reported (never merged), because a range is the unit that a
// write must cover completely to clear it (see media_access.h).
//
// Thread-safe: one mutex; first_bad() on an empty set, the common case, takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace tgt_pmem::bs {

class BadRanges {
 public:
  enum class Origin : std::uint8_t {
    kMedium,  // from libpmem2's bad block list: clear it with pmem2_badblock_clear
    kLearnt,  // from a SIGBUS: writing it completely afresh is the clear
  };
  struct Range {
    std::uint64_t begin;
    std::uint64_t end;  // exclusive
    Origin origin;
    friend bool operator==(const Range&, const Range&) = default;
  };

  // Adds the bytes of [offset, offset + len) not already known bad, as one or more ranges
  // of this origin. Throws std::bad_alloc.
  void add(std::uint64_t offset, std::uint64_t len, Origin origin);

  // The first known bad byte in [offset, offset + len), if any.
  [[nodiscard]] std::optional<std::uint64_t> first_bad(std::uint64_t offset,
                                                       std::uint64_t len) const;

  // What a write of [offset, offset + len) means for the known bad ranges.
  struct WritePlan {
    // The first bad byte of a range the write overlaps only in part: the write must fail.
    std::optional<std::uint64_t> partial;
    // The ranges the write covers completely: cleared by it (kMedium ones need a clear of
    // the medium first).
    std::vector<Range> covered;
  };
  // Throws std::bad_alloc.
  [[nodiscard]] WritePlan plan_write(std::uint64_t offset, std::uint64_t len) const;

  // Where a failed write of [offset, offset + len) failed: the first bad byte of a range it
  // only partly covers, else the first bad byte it overlaps; nullopt if it overlaps none.
  [[nodiscard]] std::optional<std::uint64_t> write_error_at(std::uint64_t offset,
                                                            std::uint64_t len) const;

  // Forgets every range lying completely inside [offset, offset + len): its bytes were all
  // written successfully.
  void forget_within(std::uint64_t offset, std::uint64_t len) noexcept;

  [[nodiscard]] bool empty() const noexcept { return count_.load(std::memory_order_acquire) == 0; }
  [[nodiscard]] std::vector<Range> ranges() const;  // sorted by begin
  // How many ranges were forgotten (cleared by writes) since the set was made.
  [[nodiscard]] std::uint64_t cleared() const noexcept {
    return cleared_.load(std::memory_order_relaxed);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::uint64_t, Range> by_begin_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> cleared_{0};
};

}  // namespace tgt_pmem::bs
