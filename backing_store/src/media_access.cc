// SPDX-License-Identifier: GPL-2.0-only
#include "media_access.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "media_guard.h"

namespace tgt_pmem::bs {

namespace {

flush::Status media_error() { return std::unexpected(std::error_code(EIO, std::generic_category())); }

}  // namespace

MediaAccess::MediaAccess(Medium& medium)
    : medium_(medium),
      copy_flushes_(medium.flusher().method() == flush::Method::kCacheFlush ||
                    medium.flusher().method() == flush::Method::kFenceOnly) {
  for (const auto& r : medium.bad_ranges_at_open()) {
    if (r.offset >= medium.size() || r.len == 0) continue;
    bad_.add(r.offset, std::min(r.len, medium.size() - r.offset), BadRanges::Origin::kMedium);
  }
}

void MediaAccess::learn(std::uintptr_t granule_begin, std::uintptr_t granule_end) noexcept {
  const auto base = reinterpret_cast<std::uintptr_t>(medium_.data());
  const std::uintptr_t b = std::max(granule_begin, base);
  const std::uintptr_t e = std::min<std::uintptr_t>(granule_end, base + medium_.size());
  if (b >= e) return;
  try {
    bad_.add(b - base, e - b, BadRanges::Origin::kLearnt);
  } catch (...) {
    // Out of memory: the range is not remembered; it faults again next time, harmlessly.
  }
}

const std::byte* MediaAccess::in_place(std::uint64_t offset, std::uint64_t len) noexcept {
  try {
    if (bad_.first_bad(offset, len)) return nullptr;
  } catch (...) {
    return nullptr;
  }
  std::byte* src = medium_.data() + offset;
  const GuardedWalk w = guarded_walk(src, len, [](std::byte* chunk, std::size_t, std::size_t) {
    // One load per page: the kernel reads the rest when it sends.
    (void)*static_cast<volatile const std::byte*>(chunk);
    return true;
  });
  if (w.end == GuardedWalk::End::kFault) {
    learn(w.granule_begin, w.granule_end);
    return nullptr;
  }
  return src;
}

std::optional<std::uint64_t> MediaAccess::read(std::uint64_t offset,
                                               std::span<std::byte> dst) noexcept {
  std::optional<std::uint64_t> known;
  try {
    known = bad_.first_bad(offset, dst.size());
  } catch (...) {
    return offset;  // cannot tell: do not hand out data that may be bad
  }
  const std::uint64_t readable = known ? *known - offset : dst.size();
  std::byte* src = medium_.data() + offset;
  const GuardedWalk w =
      guarded_walk(src, readable, [&](std::byte* chunk, std::size_t n, std::size_t done) {
        std::memcpy(dst.data() + done, chunk, n);
        return true;
      });
  if (w.end == GuardedWalk::End::kFault) {
    learn(w.granule_begin, w.granule_end);
    return offset + w.fault_offset;
  }
  return known;
}

template <class Op>
flush::Status MediaAccess::write_op(std::uint64_t offset, std::uint64_t len, Op&& op) noexcept {
  if (bad_.empty()) {
    // The common case: no lock, no allocation.
    const flush::Status s = op();
    return s;
  }
  BadRanges::WritePlan plan;
  try {
    plan = bad_.plan_write(offset, len);
  } catch (...) {
    return media_error();
  }
  // A write that covers a bad range only in part cannot make it good: fail before storing.
  if (plan.partial) return media_error();
  for (const auto& r : plan.covered) {
    if (r.origin != BadRanges::Origin::kMedium) continue;
    if (medium_.clear_bad_range(r.begin, r.end - r.begin)) return media_error();
  }
  if (auto s = op(); !s) return s;
  // Every byte of the range was stored: the ranges inside it read again.
  bad_.forget_within(offset, len);
  return {};
}

flush::Status MediaAccess::store(std::uint64_t offset, std::span<const std::byte> data,
                                 bool flush) noexcept {
  auto& f = medium_.flusher();
  std::byte* dst = medium_.data() + offset;
  return write_op(offset, data.size(), [&]() -> flush::Status {
    flush::Status status;
    const bool nt = flush && copy_flushes_;
    const GuardedWalk w =
        guarded_walk(dst, data.size(), [&](std::byte* chunk, std::size_t n, std::size_t done) {
          if (!nt) {
            f.copy(chunk, data.data() + done, n);
            return true;
          }
          status = f.copy_and_flush(chunk, data.data() + done, n);
          return status.has_value();
        });
    if (w.end == GuardedWalk::End::kFault) {
      learn(w.granule_begin, w.granule_end);
      return media_error();
    }
    if (!status) return status;
    if (flush && !nt) return this->flush(offset, data.size());
    return {};
  });
}

flush::Status MediaAccess::store_repeated(std::uint64_t offset, std::uint64_t len,
                                          std::span<const std::byte> pattern,
                                          bool flush) noexcept {
  if (len == 0) return {};
  if (pattern.empty()) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  auto& f = medium_.flusher();
  std::byte* dst = medium_.data() + offset;
  const bool uniform = std::all_of(pattern.begin(), pattern.end(),
                                   [&](std::byte b) { return b == pattern[0]; });
  const int fill = std::to_integer<int>(pattern[0]);
  const std::size_t psize = pattern.size();
  return write_op(offset, len, [&]() -> flush::Status {
    flush::Status status;
    const bool nt = flush && copy_flushes_;
    const GuardedWalk w =
        guarded_walk(dst, len, [&](std::byte* chunk, std::size_t n, std::size_t done) {
          if (uniform) {
            if (!nt) {
              f.fill(chunk, fill, n);
              return true;
            }
            status = f.fill_and_flush(chunk, fill, n);
            return status.has_value();
          }
          // The pattern's phase at this chunk: chunks need not start on a repetition.
          for (std::size_t pos = 0; pos < n;) {
            const std::size_t phase = (done + pos) % psize;
            const std::size_t k = std::min(psize - phase, n - pos);
            if (!nt) {
              f.copy(chunk + pos, pattern.data() + phase, k);
            } else if (status = f.copy_and_flush(chunk + pos, pattern.data() + phase, k);
                       !status) {
              return false;
            }
            pos += k;
          }
          return true;
        });
    if (w.end == GuardedWalk::End::kFault) {
      learn(w.granule_begin, w.granule_end);
      return media_error();
    }
    if (!status) return status;
    if (flush && !nt) return this->flush(offset, len);
    return {};
  });
}

std::expected<Medium::Dealloc, std::error_code> MediaAccess::deallocate(
    std::uint64_t offset, std::uint64_t len) noexcept {
  if (len == 0) return medium_.deallocate(offset, len);
  std::expected<Medium::Dealloc, std::error_code> how =
      std::unexpected(std::make_error_code(std::errc::invalid_argument));
  const flush::Status s = write_op(offset, len, [&]() -> flush::Status {
    // One guarded call: the medium zeroes the range itself (memset) or punches a hole.
    const GuardedWalk w = guarded_walk(
        medium_.data() + offset, len,
        [&](std::byte*, std::size_t, std::size_t) {
          how = medium_.deallocate(offset, len);
          return true;
        },
        SIZE_MAX);
    if (w.end == GuardedWalk::End::kFault) {
      learn(w.granule_begin, w.granule_end);
      return media_error();
    }
    if (!how) return std::unexpected(how.error());
    return {};
  });
  if (!s) return std::unexpected(s.error());
  return how;
}

flush::Status MediaAccess::flush(std::uint64_t offset, std::uint64_t len) noexcept {
  auto& f = medium_.flusher();
  flush::Status status;
  // One guarded call: a cache-line flush of a page that is gone faults like a load.
  const GuardedWalk w = guarded_walk(
      medium_.data() + offset, len,
      [&](std::byte* chunk, std::size_t n, std::size_t) {
        status = f.flush(chunk, n);
        return true;
      },
      SIZE_MAX);
  if (w.end == GuardedWalk::End::kFault) {
    learn(w.granule_begin, w.granule_end);
    return media_error();
  }
  return status;
}

std::optional<std::uint64_t> MediaAccess::write_error_at(std::uint64_t offset,
                                                         std::uint64_t len) const noexcept {
  try {
    return bad_.write_error_at(offset, len);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace tgt_pmem::bs
