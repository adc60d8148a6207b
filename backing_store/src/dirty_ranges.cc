// SPDX-License-Identifier: GPL-2.0-only
#include "dirty_ranges.h"

namespace tgt_pmem::bs {

void DirtyRanges::add(std::uint64_t offset, std::uint64_t len) {
  std::lock_guard lock(mu_);
  if (dirty_.everything) return;
  auto& r = dirty_.ranges;
  // Sequential streams are the common case: extend the last range when contiguous.
  if (!r.empty() && r.back().offset + r.back().len == offset) {
    r.back().len += len;
    return;
  }
  if (r.size() >= kMaxRanges) {
    r.clear();
    dirty_.everything = true;
    return;
  }
  r.push_back({offset, len});
}

void DirtyRanges::add_file_change() {
  std::lock_guard lock(mu_);
  dirty_.file_changed = true;
}

DirtyRanges::Taken DirtyRanges::take() {
  std::lock_guard lock(mu_);
  Taken t = std::move(dirty_);
  dirty_ = Taken{};
  return t;
}

void DirtyRanges::restore(Taken t) {
  std::lock_guard lock(mu_);
  dirty_.file_changed |= t.file_changed;
  if (t.everything || dirty_.everything) {
    dirty_.everything = true;
    dirty_.ranges.clear();
    return;
  }
  for (const auto& r : t.ranges) dirty_.ranges.push_back(r);
  if (dirty_.ranges.size() > kMaxRanges) {
    dirty_.ranges.clear();
    dirty_.everything = true;
  }
}

bool DirtyRanges::empty() const {
  std::lock_guard lock(mu_);
  return !dirty_.everything && !dirty_.file_changed && dirty_.ranges.empty();
}

}  // namespace tgt_pmem::bs
