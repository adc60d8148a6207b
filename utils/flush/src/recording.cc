// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/recording.h"

#include <algorithm>
#include <map>

namespace tgt_pmem::flush {

Method RecordingFlusher::method() const noexcept {
  return inner_ ? inner_->method() : Method::kSimulated;
}

Status RecordingFlusher::flush(const void* addr, std::size_t len) noexcept {
  {
    std::lock_guard lock(mu_);
    events_.push_back({Kind::kFlush, reinterpret_cast<std::uintptr_t>(addr), len, {}});
  }
  return inner_ ? inner_->flush(addr, len) : Status{};
}

Status RecordingFlusher::drain() noexcept {
  auto s = inner_ ? inner_->drain() : Status{};
  std::lock_guard lock(mu_);
  events_.push_back({Kind::kDrain, 0, 0, {}});
  return s;
}

Status RecordingFlusher::sync_file() noexcept {
  auto s = inner_ ? inner_->sync_file() : Status{};
  std::lock_guard lock(mu_);
  events_.push_back({Kind::kSyncFile, 0, 0, {}});
  return s;
}

std::size_t RecordingFlusher::mark(std::string what) {
  std::lock_guard lock(mu_);
  events_.push_back({Kind::kMark, 0, 0, std::move(what)});
  return events_.size() - 1;
}

std::vector<RecordingFlusher::Event> RecordingFlusher::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

void RecordingFlusher::clear() {
  std::lock_guard lock(mu_);
  events_.clear();
}

bool RecordingFlusher::durable_before(const void* addr, std::size_t len,
                                      std::size_t before) const {
  std::lock_guard lock(mu_);
  const auto lo = reinterpret_cast<std::uintptr_t>(addr);
  const auto hi = lo + len;
  // Byte ranges made durable so far, as [start, end) intervals keyed by start.
  std::map<std::uintptr_t, std::uintptr_t> durable;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> pending;
  const std::size_t n = std::min(before, events_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Event& e = events_[i];
    if (e.kind == Kind::kFlush) {
      pending.emplace_back(e.addr, e.addr + e.len);
    } else if (e.kind == Kind::kDrain || e.kind == Kind::kSyncFile) {
      for (auto [s, t] : pending) {
        auto& end = durable[s];
        end = std::max(end, t);
      }
      pending.clear();
    }
  }
  // Walk the intervals in order and check they cover [lo, hi) without a gap.
  std::uintptr_t covered = lo;
  for (auto [s, t] : durable) {
    if (s > covered) break;
    covered = std::max(covered, t);
    if (covered >= hi) return true;
  }
  return len == 0 || covered >= hi;
}

}  // namespace tgt_pmem::flush
