// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/intent_bitmap.h"

#include <bit>
#include <cerrno>

namespace tgt_pmem::bs::mirror {
namespace {

flush::Status fail(int e) noexcept {
  return std::unexpected(std::error_code(e, std::generic_category()));
}

// The bits of word w that regions [first, last] cover.
std::uint64_t mask_of(std::uint64_t w, std::uint64_t first, std::uint64_t last) noexcept {
  const std::uint64_t lo = w * 64 < first ? first - w * 64 : 0;
  const std::uint64_t hi = last - w * 64 >= 63 ? 63 : last - w * 64;
  const std::uint64_t width = hi - lo + 1;
  const std::uint64_t ones = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
  return ones << lo;
}

}  // namespace

IntentBitmap::IntentBitmap(Medium& medium, std::uint64_t offset, std::uint64_t regions,
                           std::uint32_t region_shift) noexcept
    : medium_(medium),
      words_(reinterpret_cast<std::uint64_t*>(medium.data() + offset)),
      regions_(regions),
      shift_(region_shift) {}

IntentBitmap::Span IntentBitmap::regions_of(std::uint64_t offset,
                                            std::uint64_t len) const noexcept {
  return {offset >> shift_, (offset + len - 1) >> shift_};
}

std::uint64_t IntentBitmap::load(std::uint64_t word) const noexcept {
  return __atomic_load_n(&words_[word], __ATOMIC_ACQUIRE);
}

flush::Status IntentBitmap::mark(std::uint64_t offset, std::uint64_t len) noexcept {
  if (len == 0) return {};
  const Span s = regions_of(offset, len);
  if (s.last >= regions_ || s.last < s.first) return fail(EINVAL);
  std::lock_guard lock(mu_);
  return change_locked(s.first, s.last, true);
}

flush::Status IntentBitmap::mark_all() noexcept {
  if (regions_ == 0) return {};
  std::lock_guard lock(mu_);
  return change_locked(0, regions_ - 1, true);
}

flush::Status IntentBitmap::clear(std::uint64_t first, std::uint64_t count) noexcept {
  if (count == 0) return {};
  if (first >= regions_ || count > regions_ - first) return fail(EINVAL);
  std::lock_guard lock(mu_);
  return change_locked(first, first + count - 1, false);
}

flush::Status IntentBitmap::change_locked(std::uint64_t first, std::uint64_t last,
                                          bool set) noexcept {
  // A latched flush error: bits that look set may never have become durable.
  if (const int e = medium_.flush_error(); e != 0) return fail(e);
  flush::Flusher& f = medium_.flusher();
  std::uint64_t lo = UINT64_MAX, hi = 0;  // words changed
  for (std::uint64_t w = first / 64; w <= last / 64; ++w) {
    const std::uint64_t mask = mask_of(w, first, last);
    const std::uint64_t old = load(w);
    const std::uint64_t now = set ? old | mask : old & ~mask;
    if (now == old) continue;
    f.store_word(&words_[w], now);
    if (lo == UINT64_MAX) lo = w;
    hi = w;
  }
  if (lo == UINT64_MAX) return {};
  // One flush over the changed words (unchanged ones between cost a line at most), then the
  // fence, both before the lock is released: see the header.
  if (auto s = f.flush(&words_[lo], (hi - lo + 1) * sizeof(std::uint64_t)); !s) return s;
  return f.drain();
}

bool IntentBitmap::is_marked(std::uint64_t region) const noexcept {
  if (region >= regions_) return false;
  return (load(region / 64) >> (region % 64) & 1) != 0;
}

std::uint64_t IntentBitmap::marked() const noexcept {
  std::uint64_t n = 0;
  const std::uint64_t words = (regions_ + 63) / 64;
  for (std::uint64_t w = 0; w < words; ++w) {
    std::uint64_t bits = load(w);
    if (w + 1 == words && regions_ % 64 != 0) bits &= (std::uint64_t{1} << (regions_ % 64)) - 1;
    n += static_cast<std::uint64_t>(std::popcount(bits));
  }
  return n;
}

std::optional<std::uint64_t> IntentBitmap::next_marked(std::uint64_t from) const noexcept {
  for (std::uint64_t w = from / 64; w < (regions_ + 63) / 64; ++w) {
    std::uint64_t bits = load(w);
    if (w == from / 64) bits &= ~std::uint64_t{0} << (from % 64);
    if (bits != 0) {
      const std::uint64_t r = w * 64 + static_cast<std::uint64_t>(std::countr_zero(bits));
      if (r < regions_) return r;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace tgt_pmem::bs::mirror
