// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/latching.h"

#include <cerrno>

namespace tgt_pmem::flush {

Status LatchingFlusher::check() const noexcept {
  if (const int e = latched(); e != 0)
    return std::unexpected(std::error_code(e, std::generic_category()));
  return {};
}

Status LatchingFlusher::latch(Status s) noexcept {
  if (s) return s;
  failures_.fetch_add(1, std::memory_order_relaxed);
  int e = s.error().value() != 0 ? s.error().value() : EIO;
  int expected = 0;
  // The first error wins: it is the one the administrator must hear about.
  if (!error_.compare_exchange_strong(expected, e, std::memory_order_acq_rel)) e = expected;
  return std::unexpected(std::error_code(e, std::generic_category()));
}

Status LatchingFlusher::flush(const void* addr, std::size_t len) noexcept {
  if (auto s = check(); !s) return s;
  return latch(inner_.flush(addr, len));
}

Status LatchingFlusher::drain() noexcept {
  if (auto s = check(); !s) return s;
  return latch(inner_.drain());
}

Status LatchingFlusher::sync_file() noexcept {
  if (auto s = check(); !s) return s;
  return latch(inner_.sync_file());
}

Status LatchingFlusher::copy_and_flush(void* dst, const void* src, std::size_t len) noexcept {
  if (auto s = check(); !s) {
    inner_.copy(dst, src, len);  // the store still happens, like any write into a cache
    return s;
  }
  return latch(inner_.copy_and_flush(dst, src, len));
}

Status LatchingFlusher::fill_and_flush(void* dst, int c, std::size_t len) noexcept {
  if (auto s = check(); !s) {
    inner_.fill(dst, c, len);
    return s;
  }
  return latch(inner_.fill_and_flush(dst, c, len));
}

bool LatchingFlusher::take_report() noexcept {
  if (latched() == 0) return false;
  return !reported_.exchange(true, std::memory_order_acq_rel);
}

}  // namespace tgt_pmem::flush
