// SPDX-License-Identifier: GPL-2.0-only
// A logical unit on a medium: block geometry and the durability policy. Every store to the
// medium goes through here, so that the rule "nothing is acknowledged before it is durable"
// lives in one place:
//   - write-through (WCE=0): a store is flushed and drained before store() returns;
//   - write cache (WCE=1): a store is remembered as dirty; sync() or a FUA store makes it and
//     everything stored before it durable.
// Thread-safe: stores may run concurrently; read-modify-write commands (COMPARE AND WRITE,
// ORWRITE) take rmw_mutex() exclusively, all other writers take it shared.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>

#include "dirty_ranges.h"
#include "medium.h"

namespace tgt_pmem::bs {

enum class Sync {
  kLater,  // the write cache is on and the command does not ask for durability
  kNow,    // durable before returning (WCE=0, or FUA)
};

class Lun {
 public:
  // block_size: 512 or 4096, dividing medium->size() (checked by the caller).
  Lun(std::unique_ptr<Medium> medium, std::uint32_t block_size);

  [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
  [[nodiscard]] std::uint64_t blocks() const noexcept { return blocks_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return medium_->size(); }
  [[nodiscard]] Medium& medium() noexcept { return *medium_; }
  [[nodiscard]] const std::byte* at(std::uint64_t offset) const noexcept {
    return medium_->data() + offset;
  }

  // Copies data to offset. With Sync::kNow, it and everything stored earlier are durable
  // when this returns ok. Errors: those of the flusher (the command must then fail).
  [[nodiscard]] flush::Status store(std::uint64_t offset, std::span<const std::byte> data,
                                    Sync sync) noexcept;
  // Fills len bytes at offset with a repeating pattern of pattern.size() bytes.
  [[nodiscard]] flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                                             std::span<const std::byte> pattern,
                                             Sync sync) noexcept;
  // Deallocates (reads as zeros afterwards), durable as sync says.
  [[nodiscard]] flush::Status deallocate(std::uint64_t offset, std::uint64_t len,
                                         Sync sync) noexcept;
  // Makes everything stored so far durable (SYNCHRONIZE CACHE).
  [[nodiscard]] flush::Status sync() noexcept;

  [[nodiscard]] std::shared_mutex& rmw_mutex() noexcept { return rmw_mutex_; }

 private:
  [[nodiscard]] flush::Status commit(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept;

  std::unique_ptr<Medium> medium_;
  std::uint32_t block_size_;
  std::uint64_t blocks_;
  DirtyRanges dirty_;
  std::shared_mutex rmw_mutex_;
};

}  // namespace tgt_pmem::bs
