// SPDX-License-Identifier: GPL-2.0-only
// A flusher that remembers its first failure. Linux reports a writeback error once per file
// (errseq) and marks the failed pages clean: a second msync or fdatasync then succeeds without
// having written them. Retrying a failed flush, and answering GOOD when the retry succeeds,
// would claim durability for data that may be gone. So once any durability call of the
// wrapped flusher failed, every later flush(), drain(), sync_file() and flushing copy fails
// with that first error, without calling the flusher again: nothing can claim durability any
// more for data that was acknowledged before the failure. Plain stores (copy, fill,
// store_word) still go through. Only re-opening the medium (a new flusher) clears it.
//
// Thread-safety: as the wrapped flusher; the latch itself is one atomic.
#pragma once

#include <atomic>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

class LatchingFlusher final : public Flusher {
 public:
  // inner: not owned, must outlive this.
  explicit LatchingFlusher(Flusher& inner) noexcept : inner_(inner) {}

  Method method() const noexcept override { return inner_.method(); }
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override;
  Status sync_file() noexcept override;
  Status copy_and_flush(void* dst, const void* src, std::size_t len) noexcept override;
  Status fill_and_flush(void* dst, int c, std::size_t len) noexcept override;
  void copy(void* dst, const void* src, std::size_t len) noexcept override {
    inner_.copy(dst, src, len);
  }
  void fill(void* dst, int c, std::size_t len) noexcept override { inner_.fill(dst, c, len); }
  void store_word(std::uint64_t* dst, std::uint64_t value) noexcept override {
    inner_.store_word(dst, value);
  }

  // The first error (an errno value), or 0.
  [[nodiscard]] int latched() const noexcept { return error_.load(std::memory_order_acquire); }

  // How many flushes, drains or file syncs failed (the first latched; a few more may have
  // been under way at the same time).
  [[nodiscard]] std::uint64_t failures() const noexcept {
    return failures_.load(std::memory_order_relaxed);
  }

  // True exactly once after the latch was set: for a log line written once.
  [[nodiscard]] bool take_report() noexcept;

 private:
  Status check() const noexcept;
  Status latch(Status s) noexcept;

  Flusher& inner_;
  std::atomic<int> error_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<bool> reported_{false};
};

}  // namespace tgt_pmem::flush
