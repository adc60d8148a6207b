// SPDX-License-Identifier: GPL-2.0-only
// A layout: how logical blocks are placed on the medium, and how a write becomes durable and,
// for the atomic layout, failure-atomic. Offsets and lengths are in bytes of the logical
// address space and block-aligned at the start; a length may end inside a block (a short
// Data-Out buffer), in which case the rest of that block keeps its content.
//
//   raw     logical block N is at byte N * block_size of the medium (files and devices with no
//           header; the default). A power loss can leave a block half old, half new.
//   atomic  a header, a map and per-lane logs (atomic_layout.h): every block, and every write
//           of up to max_atomic_blocks(), is entirely old or entirely new after a power loss.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "bad_ranges.h"
#include "medium.h"
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::bs {

enum class Sync {
  kLater,  // the write cache is on and the command does not ask for durability
  kNow,    // durable before returning (WCE=0, or FUA)
  kBatch,  // one of several stores of a write-through command that calls sync() once
           // before it completes (UNMAP's descriptors, WRITE SAME with LBDATA): like kLater
           // for the layout, but never left to the write cache
};

class Layout {
 public:
  virtual ~Layout() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  // Bytes of logical address space.
  [[nodiscard]] virtual std::uint64_t capacity() const noexcept = 0;
  // Largest all-or-nothing write in blocks (WRITE ATOMIC); 0: none.
  [[nodiscard]] virtual std::uint32_t max_atomic_blocks() const noexcept = 0;

  [[nodiscard]] virtual flush::Status load(std::uint64_t offset,
                                           std::span<std::byte> dst) noexcept = 0;
  // With Sync::kNow, it and everything stored earlier are durable when this returns ok.
  [[nodiscard]] virtual flush::Status store(std::uint64_t offset, std::span<const std::byte> src,
                                            Sync sync) noexcept = 0;
  // Like store(), all-or-nothing across a power loss; src.size() <= max_atomic_blocks() blocks.
  [[nodiscard]] virtual flush::Status store_atomic(std::uint64_t offset,
                                                   std::span<const std::byte> src) noexcept = 0;
  // Fills len bytes at offset with a repeating pattern of one block.
  [[nodiscard]] virtual flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                                                     std::span<const std::byte> pattern,
                                                     Sync sync) noexcept = 0;
  // Reads as zeros afterwards; releases space where the layout can.
  [[nodiscard]] virtual flush::Status deallocate(std::uint64_t offset, std::uint64_t len,
                                                 Sync sync) noexcept = 0;
  // Everything stored so far is durable (SYNCHRONIZE CACHE).
  [[nodiscard]] virtual flush::Status sync() noexcept = 0;
  // Where the logical bytes [offset, offset + len) lie in the mapping, for a transport to send
  // them from there (READ IN PLACE); nullptr where the layout cannot tell (the atomic layout
  // remaps blocks, so a block could be reused before it is sent) or a media error is known.
  [[nodiscard]] virtual const std::byte* in_place(std::uint64_t /*offset*/,
                                                  std::uint64_t /*len*/) noexcept {
    return nullptr;
  }
  // Makes [offset, offset + len) durable after writes that did not go through the layout
  // (push mode's RDMA WRITEs). ENOTSUP where logical bytes are not medium bytes (atomic).
  [[nodiscard]] virtual flush::Status persist_external(std::uint64_t /*offset*/,
                                                       std::uint64_t /*len*/) noexcept {
    return std::unexpected(std::make_error_code(std::errc::operation_not_supported));
  }
  // Provisioning status of the logical run starting at offset.
  [[nodiscard]] virtual std::expected<Medium::Extent, std::error_code> extent_at(
      std::uint64_t offset) const noexcept = 0;
  // After a load (write false) or a store (write true) of [offset, offset + len) failed: the
  // first logical byte of it that is bad on the medium, for the INFORMATION field of the
  // MEDIUM ERROR; nullopt if the failure was no media error, or the layout cannot tell.
  [[nodiscard]] virtual std::optional<std::uint64_t> media_error_at(std::uint64_t /*offset*/,
                                                                    std::uint64_t /*len*/,
                                                                    bool /*write*/) const noexcept {
    return std::nullopt;
  }
  // The medium's known bad ranges (medium offsets), for the status view; nullptr if the
  // layout keeps none.
  [[nodiscard]] virtual const BadRanges* bad_ranges() const noexcept { return nullptr; }
};

}  // namespace tgt_pmem::bs
