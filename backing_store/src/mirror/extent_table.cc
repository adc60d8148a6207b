// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/extent_table.h"

namespace tgt_pmem::bs::mirror {

bool ExtentTable::overlaps(std::uint64_t offset, std::uint64_t len) const {
  const std::uint64_t end = offset + len;
  // Admitted ranges are disjoint: only the last one starting before `end` can overlap.
  auto it = by_offset_.lower_bound(end);
  if (it == by_offset_.begin()) return false;
  --it;
  return it->second > offset;
}

void ExtentTable::insert(Ticket t, Range r) {
  by_offset_.emplace(r.offset, r.end);
  by_ticket_.emplace(t, r);
}

bool ExtentTable::overlaps_waiting(Range r, std::size_t n) const {
  for (std::size_t i = 0; i < n && i < waiting_.size(); ++i)
    if (waiting_[i].range.offset < r.end && r.offset < waiting_[i].range.end) return true;
  return false;
}

bool ExtentTable::admit(Ticket t, std::uint64_t offset, std::uint64_t len) {
  const Range r{offset, offset + len};
  if (overlaps(offset, len) || overlaps_waiting(r, waiting_.size())) {
    waiting_.push_back({t, r});
    return false;
  }
  insert(t, r);
  return true;
}

std::vector<ExtentTable::Ticket> ExtentTable::release(Ticket t) {
  std::vector<Ticket> now;
  auto it = by_ticket_.find(t);
  if (it == by_ticket_.end()) return now;
  by_offset_.erase(it->second.offset);
  by_ticket_.erase(it);
  for (std::size_t i = 0; i < waiting_.size();) {
    const Waiting w = waiting_[i];
    if (overlaps(w.range.offset, w.range.end - w.range.offset) || overlaps_waiting(w.range, i)) {
      ++i;
      continue;
    }
    insert(w.ticket, w.range);
    now.push_back(w.ticket);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return now;
}

}  // namespace tgt_pmem::bs::mirror
