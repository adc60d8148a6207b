// SPDX-License-Identifier: GPL-2.0-only
// The in-flight extent table of a mirrored LUN: a write whose byte range overlaps a write
// still in flight (on either copy) waits until that one is complete on both. Without it, two
// overlapping writes in flight at once could land in one order on the primary and in the
// other on the secondary, and the copies would differ with both writes acknowledged. A write
// also waits behind an earlier waiting write it overlaps, so overlapping writes go in the
// order they came and none waits for ever; writes that overlap nothing go at once.
//
// Not thread-safe: one thread (tgtd's event loop) owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

namespace tgt_pmem::bs::mirror {

class ExtentTable {
 public:
  using Ticket = std::uint64_t;

  // Admits [offset, offset + len) under ticket t (unique among those held) if it overlaps
  // no admitted and no waiting range, and returns true; otherwise queues it and returns false: a later
  // release() returns t when it is admitted. len > 0.
  [[nodiscard]] bool admit(Ticket t, std::uint64_t offset, std::uint64_t len);
  // Releases the range admitted under t; returns the queued tickets admitted now, in the
  // order they arrived. Releasing a ticket that is not admitted does nothing.
  [[nodiscard]] std::vector<Ticket> release(Ticket t);

  [[nodiscard]] std::size_t admitted() const noexcept { return by_ticket_.size(); }
  [[nodiscard]] std::size_t waiting() const noexcept { return waiting_.size(); }
  // Whether any admitted range overlaps [offset, offset + len).
  [[nodiscard]] bool overlaps(std::uint64_t offset, std::uint64_t len) const;

 private:
  struct Range {
    std::uint64_t offset;
    std::uint64_t end;
  };
  struct Waiting {
    Ticket ticket;
    Range range;
  };
  void insert(Ticket t, Range r);
  // Whether r overlaps one of the first n waiting ranges.
  [[nodiscard]] bool overlaps_waiting(Range r, std::size_t n) const;

  std::map<std::uint64_t, std::uint64_t> by_offset_;  // admitted: offset -> end (disjoint)
  std::map<Ticket, Range> by_ticket_;
  std::deque<Waiting> waiting_;
};

}  // namespace tgt_pmem::bs::mirror
