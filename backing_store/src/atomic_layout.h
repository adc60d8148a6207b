// SPDX-License-Identifier: GPL-2.0-only
// The atomic layout: logical blocks are remapped on every write, after the BTT idea (our own
// design, described with its proofs in backing_store/docs/atomic-layout.md). A write of up to
// max_atomic blocks is one transaction in a lane:
//   1. the new data goes to the lane's free physical blocks; flush, drain;
//   2. a log entry {seq, (lba, old, new) per block} with a checksum goes to the lane's slot;
//      flush, drain  <- the commit point;
//   3. the map entries become `new`, the lane's free-list entries become `old`; flush, drain.
// Recovery (at open, O(lanes * max_atomic)) redoes step 3 of each lane's last valid entry:
// a map entry still equal to `old` becomes `new`. A torn entry fails its checksum and counts
// as never written, which is right because step 3 had not begun. So after a power loss every
// block, and every transaction, is entirely old or entirely new, and every acknowledged write
// is present. Writes are always durable when acknowledged (this layout is write-through).
// Thread-safe: data copies run in parallel in separate lanes; commits are serialised.
// Flush failures: a transaction that fails after its commit point began retires its lane
// (see transaction()); the medium's latched flusher then fails every later write.
// Media errors: a data block that cannot be read fails the READ with its LBA; a write whose
// new blocks cannot be written fails before its commit point and changes nothing.
#pragma once

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "atomic_format.h"
#include "layout.h"
#include "media_access.h"

namespace tgt_pmem::bs {

class AtomicLayout final : public Layout {
 public:
  // Opens the layout on `medium` (not owned), running recovery. A medium whose whole metadata
  // area is zero is formatted (only the header is written); one with another header, a
  // corrupt or newer one, or one of another block size is refused. Never overwrites data.
  // Error: the reason, for the administrator.
  [[nodiscard]] static std::expected<std::unique_ptr<AtomicLayout>, std::string> open(
      Medium& medium, std::uint32_t block_size);

  std::string_view name() const noexcept override { return "atomic"; }
  std::uint64_t capacity() const noexcept override {
    return geometry_.capacity * geometry_.block_size;
  }
  std::uint32_t max_atomic_blocks() const noexcept override { return geometry_.max_atomic; }
  flush::Status load(std::uint64_t offset, std::span<std::byte> dst) noexcept override;
  flush::Status store(std::uint64_t offset, std::span<const std::byte> src,
                      Sync sync) noexcept override;
  flush::Status store_atomic(std::uint64_t offset,
                             std::span<const std::byte> src) noexcept override;
  flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                               std::span<const std::byte> pattern, Sync sync) noexcept override;
  flush::Status deallocate(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept override;
  flush::Status sync() noexcept override;
  std::expected<Medium::Extent, std::error_code> extent_at(
      std::uint64_t) const noexcept override {
    return Medium::Extent{true, capacity()};
  }

  std::optional<std::uint64_t> media_error_at(std::uint64_t offset, std::uint64_t len,
                                              bool write) const noexcept override;
  const BadRanges* bad_ranges() const noexcept override { return &media_.bad_ranges(); }

  [[nodiscard]] const atomic::Header& header() const noexcept { return header_; }
  // What recovery did at open: lanes whose last transaction it had to finish.
  [[nodiscard]] std::uint32_t lanes_recovered() const noexcept { return lanes_recovered_; }

 private:
  struct Lane {
    std::uint64_t seq = 0;
    std::vector<std::uint64_t> free;  // physical blocks, max_atomic of them
  };

  AtomicLayout(Medium& medium, const atomic::Header& header);
  [[nodiscard]] std::expected<void, std::string> recover();
  [[nodiscard]] std::uint64_t pba_of(std::uint64_t lba) const noexcept;
  [[nodiscard]] std::byte* block(std::uint64_t pba) const noexcept;
  [[nodiscard]] std::uint64_t block_offset(std::uint64_t pba) const noexcept {
    return geometry_.data_offset + pba * geometry_.block_size;
  }
  [[nodiscard]] std::uint64_t* map_entry(std::uint64_t lba) const noexcept;
  [[nodiscard]] std::uint64_t* free_entry(std::uint32_t lane, std::uint32_t i) const noexcept;
  [[nodiscard]] std::byte* log_slot(std::uint32_t lane) const noexcept;
  // Writes n whole blocks starting at lba as one transaction. With expect_gen (n == 1): if a
  // write to lba's stripe committed since *expect_gen was read, nothing is committed and
  // *stale is set.
  [[nodiscard]] flush::Status transaction(std::uint64_t lba, std::uint32_t n, const std::byte* src,
                                          const std::uint64_t* expect_gen = nullptr,
                                          bool* stale = nullptr) noexcept;
  // Splits [offset, offset + src.size()) into transactions of at most max_atomic blocks,
  // completing a partial last block with its current content.
  [[nodiscard]] flush::Status write_blocks(std::uint64_t offset,
                                           std::span<const std::byte> src) noexcept;
  // A lane to use; nullopt once every lane is retired.
  std::optional<std::uint32_t> acquire_lane();
  void release_lane(std::uint32_t lane);
  // A lane whose transaction failed after its commit point began: never used again.
  void retire_lane(std::uint32_t lane);

  Medium& medium_;
  // Data blocks are read and written through it: a SIGBUS (poison, truncated file) or a known
  // bad block fails the one command. The metadata (map, logs, free lists) is not guarded.
  mutable MediaAccess media_;
  atomic::Header header_;
  atomic::Geometry geometry_;
  std::uint32_t lanes_recovered_ = 0;
  std::vector<Lane> lanes_;
  std::mutex lanes_mu_;
  std::condition_variable lanes_cv_;
  std::vector<std::uint32_t> idle_lanes_;
  std::uint32_t live_lanes_ = 0;  // lanes not retired; guarded by lanes_mu_
  // Per stripe of logical blocks, commits so far (guarded by map_mu_): a partial-block
  // read-modify-write commits only if its block's stripe saw no commit since its read.
  static constexpr std::size_t kGenStripes = 1024;
  std::array<std::uint64_t, kGenStripes> block_gen_{};
  // Readers hold it shared from map lookup to the end of their copy; commits hold it
  // exclusively, so a block freed by a commit is never still being read (the next
  // transaction of that lane may overwrite it).
  mutable std::shared_mutex map_mu_;
};

}  // namespace tgt_pmem::bs
