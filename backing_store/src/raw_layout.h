// SPDX-License-Identifier: GPL-2.0-only
// The raw layout: logical byte X is medium byte X. Durability policy:
//   - write-through (Sync::kNow): a store is flushed and drained before it returns;
//   - write cache (Sync::kLater): a store is remembered as dirty; sync() or a later kNow store
//     makes it and everything stored before it durable.
// Concurrent syncs (exec=threads): one sync at a time takes the dirty set, flushes it and
// drains. A sync that starts while another is flushing waits for it, so "the set was empty"
// can never mean "someone else is still making it durable": everything stored before a sync
// began is durable when it returns ok. A failed flush is latched by the medium's flusher
// (flush/latching.h): the ranges are not put back for a retry, and every later sync fails.
// Every access to the medium goes through MediaAccess: a media error (SIGBUS, a known bad
// range) fails the one access with EIO, and media_error_at() names the byte.
#pragma once

#include <atomic>
#include <mutex>

#include "dirty_ranges.h"
#include "layout.h"
#include "media_access.h"

namespace tgt_pmem::bs {

class RawLayout final : public Layout {
 public:
  // Throws std::bad_alloc (the medium's bad ranges are copied, the dirty set reserved).
  explicit RawLayout(Medium& medium)
      : medium_(medium), media_(medium), taken_(DirtyRanges::make_taken()) {}

  std::string_view name() const noexcept override { return "raw"; }
  std::uint64_t capacity() const noexcept override { return medium_.size(); }
  std::uint32_t max_atomic_blocks() const noexcept override { return 0; }
  flush::Status load(std::uint64_t offset, std::span<std::byte> dst) noexcept override;
  flush::Status store(std::uint64_t offset, std::span<const std::byte> src,
                      Sync sync) noexcept override;
  const std::byte* in_place(std::uint64_t offset, std::uint64_t len) noexcept override {
    return media_.in_place(offset, len);
  }
  flush::Status store_atomic(std::uint64_t offset,
                             std::span<const std::byte> src) noexcept override;
  flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                               std::span<const std::byte> pattern, Sync sync) noexcept override;
  flush::Status deallocate(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept override;
  flush::Status sync() noexcept override;
  std::expected<Medium::Extent, std::error_code> extent_at(
      std::uint64_t offset) const noexcept override {
    return medium_.extent_at(offset);
  }
  std::optional<std::uint64_t> media_error_at(std::uint64_t offset, std::uint64_t len,
                                              bool write) const noexcept override;
  const BadRanges* bad_ranges() const noexcept override { return &media_.bad_ranges(); }

  // Makes [offset, offset + len) durable after writes that did not go through this layout
  // (push mode: an initiator's RDMA WRITEs into the mapping). Errors: EIO for a media error
  // (a poisoned or truncated page: caught, never a SIGBUS), the flusher's.
  flush::Status persist_external(std::uint64_t offset, std::uint64_t len) noexcept override;

 private:
  [[nodiscard]] flush::Status commit(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept;

  Medium& medium_;
  MediaAccess media_;
  DirtyRanges dirty_;
  std::mutex sync_mu_;          // one sync at a time (see above)
  std::atomic<int> syncs_running_{0};  // syncs waiting for or holding sync_mu_
  DirtyRanges::Taken taken_;    // what the running sync took; guarded by sync_mu_
};

}  // namespace tgt_pmem::bs
