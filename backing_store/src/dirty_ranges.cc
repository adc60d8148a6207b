// SPDX-License-Identifier: GPL-2.0-only
#include "dirty_ranges.h"

#include <utility>

namespace tgt_pmem::bs {

DirtyRanges::DirtyRanges() : dirty_(make_taken()) {}

DirtyRanges::Taken DirtyRanges::make_taken() {
  Taken t;
  t.ranges.reserve(kMaxRanges);
  return t;
}

void DirtyRanges::add(std::uint64_t offset, std::uint64_t len) noexcept {
  std::lock_guard lock(mu_);
  if (dirty_.everything) return;
  auto& r = dirty_.ranges;
  // Sequential streams are the common case: extend the last range when contiguous.
  if (!r.empty() && r.back().offset + r.back().len == offset) {
    r.back().len += len;
    return;
  }
  if (r.size() >= kMaxRanges) {  // never past the reserved room
    r.clear();
    dirty_.everything = true;
    return;
  }
  r.push_back({offset, len});
}

void DirtyRanges::add_file_change() noexcept {
  std::lock_guard lock(mu_);
  dirty_.file_changed = true;
}

void DirtyRanges::take(Taken& out) noexcept {
  out.ranges.clear();
  std::lock_guard lock(mu_);
  std::swap(out.ranges, dirty_.ranges);  // both keep their reserved room
  out.everything = std::exchange(dirty_.everything, false);
  out.file_changed = std::exchange(dirty_.file_changed, false);
}

bool DirtyRanges::empty() const noexcept {
  std::lock_guard lock(mu_);
  return !dirty_.everything && !dirty_.file_changed && dirty_.ranges.empty();
}

}  // namespace tgt_pmem::bs
