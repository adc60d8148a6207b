// SPDX-License-Identifier: GPL-2.0-only
#include "bad_ranges.h"

#include <algorithm>

namespace tgt_pmem::bs {

namespace {

// Calls f(range) for the ranges overlapping [b, e), in ascending order; f returns false to stop.
template <class Map, class F>
void for_overlapping(Map& m, std::uint64_t b, std::uint64_t e, F&& f) {
  auto it = m.upper_bound(b);
  if (it != m.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > b) it = prev;
  }
  for (; it != m.end() && it->second.begin < e; ++it)
    if (!f(it->second)) return;
}

}  // namespace

void BadRanges::add(std::uint64_t offset, std::uint64_t len, Origin origin) {
  if (len == 0) return;
  const std::uint64_t end = offset + len < offset ? UINT64_MAX : offset + len;
  std::lock_guard lock(mu_);
  // The gaps of [offset, end) between the ranges already known.
  std::vector<Range> gaps;
  std::uint64_t at = offset;
  for_overlapping(by_begin_, offset, end, [&](const Range& r) {
    if (r.begin > at) gaps.push_back({at, r.begin, origin});
    at = std::max(at, r.end);
    return at < end;
  });
  if (at < end) gaps.push_back({at, end, origin});
  for (const Range& g : gaps) by_begin_.emplace(g.begin, g);
  count_.store(by_begin_.size(), std::memory_order_release);
}

std::optional<std::uint64_t> BadRanges::first_bad(std::uint64_t offset, std::uint64_t len) const {
  if (empty() || len == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  std::optional<std::uint64_t> first;
  for_overlapping(by_begin_, offset, offset + len, [&](const Range& r) {
    first = std::max(offset, r.begin);
    return false;
  });
  return first;
}

BadRanges::WritePlan BadRanges::plan_write(std::uint64_t offset, std::uint64_t len) const {
  WritePlan plan;
  if (empty() || len == 0) return plan;
  const std::uint64_t end = offset + len;
  std::lock_guard lock(mu_);
  for_overlapping(by_begin_, offset, end, [&](const Range& r) {
    if (r.begin >= offset && r.end <= end) {
      plan.covered.push_back(r);
      return true;
    }
    plan.partial = std::max(offset, r.begin);
    return false;  // the write fails at the first one
  });
  return plan;
}

std::optional<std::uint64_t> BadRanges::write_error_at(std::uint64_t offset,
                                                       std::uint64_t len) const {
  if (empty() || len == 0) return std::nullopt;
  const std::uint64_t end = offset + len;
  std::lock_guard lock(mu_);
  std::optional<std::uint64_t> partial, any;
  for_overlapping(by_begin_, offset, end, [&](const Range& r) {
    const std::uint64_t first = std::max(offset, r.begin);
    if (!any) any = first;
    if (r.begin < offset || r.end > end) {
      partial = first;
      return false;
    }
    return true;
  });
  return partial ? partial : any;
}

void BadRanges::forget_within(std::uint64_t offset, std::uint64_t len) noexcept {
  if (empty() || len == 0) return;
  const std::uint64_t end = offset + len;
  std::lock_guard lock(mu_);
  for (auto it = by_begin_.lower_bound(offset); it != by_begin_.end() && it->first < end;) {
    if (it->second.end <= end) {
      it = by_begin_.erase(it);
      cleared_.fetch_add(1, std::memory_order_relaxed);
    } else
      ++it;
  }
  count_.store(by_begin_.size(), std::memory_order_release);
}

std::vector<BadRanges::Range> BadRanges::ranges() const {
  std::lock_guard lock(mu_);
  std::vector<Range> v;
  v.reserve(by_begin_.size());
  for (const auto& [b, r] : by_begin_) v.push_back(r);
  return v;
}

}  // namespace tgt_pmem::bs
