// SPDX-License-Identifier: GPL-2.0-only
// A logical unit: a medium, the layout of blocks on it, and the block geometry. Every access
// of a command goes through here, so that the durability rule ("nothing is acknowledged before
// it is durable") and the layout's guarantees live in one place (see layout.h).
// Thread-safe: accesses may run concurrently; read-modify-write commands (COMPARE AND WRITE,
// ORWRITE) take rmw_mutex() exclusively, all other writers take it shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>

#include "layout.h"
#include "medium.h"

namespace tgt_pmem::bs {

class Lun {
 public:
  // The raw layout on the whole medium. block_size: 512 or 4096, dividing medium->size().
  Lun(std::unique_ptr<Medium> medium, std::uint32_t block_size);
  // layout must refer to *medium; block_size divides layout->capacity().
  Lun(std::unique_ptr<Medium> medium, std::unique_ptr<Layout> layout, std::uint32_t block_size);

  [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
  [[nodiscard]] std::uint64_t blocks() const noexcept { return layout_->capacity() / block_size_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return layout_->capacity(); }
  [[nodiscard]] Medium& medium() noexcept { return *medium_; }
  [[nodiscard]] Layout& layout() noexcept { return *layout_; }

  // The volatile write cache (WCE of the caching mode page). Turning it off makes everything
  // stored so far durable before it returns (SBC: an initiator that clears WCE stops sending
  // SYNCHRONIZE CACHE); that flush's error is returned, and the cache is off all the same.
  [[nodiscard]] bool write_cache() const noexcept {
    return write_cache_.load(std::memory_order_seq_cst);
  }
  [[nodiscard]] flush::Status set_write_cache(bool on) noexcept;
  // How a write is made durable: now if FUA or the cache is off.
  [[nodiscard]] Sync sync_mode(bool fua) const noexcept {
    return (fua || !write_cache()) ? Sync::kNow : Sync::kLater;
  }

  [[nodiscard]] flush::Status load(std::uint64_t offset, std::span<std::byte> dst) noexcept {
    return layout_->load(offset, dst);
  }
  // With Sync::kLater: if the cache was turned off meanwhile, the store is made durable
  // before returning (see settle()).
  [[nodiscard]] flush::Status store(std::uint64_t offset, std::span<const std::byte> data,
                                    Sync sync) noexcept {
    return settle(layout_->store(offset, data, sync), sync);
  }
  [[nodiscard]] flush::Status store_atomic(std::uint64_t offset,
                                           std::span<const std::byte> data) noexcept {
    return layout_->store_atomic(offset, data);
  }
  [[nodiscard]] flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                                             std::span<const std::byte> pattern,
                                             Sync sync) noexcept {
    return settle(layout_->store_repeated(offset, len, pattern, sync), sync);
  }
  [[nodiscard]] flush::Status deallocate(std::uint64_t offset, std::uint64_t len,
                                         Sync sync) noexcept {
    return settle(layout_->deallocate(offset, len, sync), sync);
  }
  [[nodiscard]] flush::Status sync() noexcept { return layout_->sync(); }

  [[nodiscard]] std::shared_mutex& rmw_mutex() noexcept { return rmw_mutex_; }

  // Every command of this LUN runs on one thread (exec=inline, tgtd's event loop): the
  // read-modify-write lock is then skipped (it cost ~3% of tgtd's CPU at 75k IOPS).
  void set_single_threaded() noexcept { single_threaded_ = true; }
  [[nodiscard]] bool single_threaded() const noexcept { return single_threaded_; }

 private:
  // A cached store raced with set_write_cache(false): that call's sync may have taken the
  // dirty set before this store was added to it. The store is in the set now and the flag
  // is seen off (both sequentially consistent), so syncing here covers it.
  [[nodiscard]] flush::Status settle(flush::Status s, Sync sync) noexcept {
    if (!s || sync != Sync::kLater || write_cache()) return s;
    return layout_->sync();
  }

  std::unique_ptr<Medium> medium_;
  std::unique_ptr<Layout> layout_;  // refers to *medium_: declared after it, destroyed first
  std::uint32_t block_size_;
  std::atomic<bool> write_cache_{false};
  std::shared_mutex rmw_mutex_;
  bool single_threaded_ = false;
};

// Holds lun.rmw_mutex() shared (writers) or exclusively (read-modify-write commands), unless
// the LUN is single-threaded.
class RmwLock {
 public:
  RmwLock(Lun& lun, bool exclusive) : mu_(lun.single_threaded() ? nullptr : &lun.rmw_mutex()),
                                      exclusive_(exclusive) {
    if (!mu_) return;
    if (exclusive_) mu_->lock(); else mu_->lock_shared();
  }
  ~RmwLock() {
    if (!mu_) return;
    if (exclusive_) mu_->unlock(); else mu_->unlock_shared();
  }
  RmwLock(const RmwLock&) = delete;
  RmwLock& operator=(const RmwLock&) = delete;

 private:
  std::shared_mutex* mu_;
  bool exclusive_;
};

}  // namespace tgt_pmem::bs
