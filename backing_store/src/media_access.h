// SPDX-License-Identifier: GPL-2.0-only
// Every load from and store to the medium that a command makes, with media errors as values:
//   - a SIGBUS during the access (poisoned pmem, a truncated backing file) fails that access
//     and nothing else (media_guard.h), and its range becomes known bad;
//   - the known bad ranges (libpmem2's bad blocks at open, and those learnt at run time,
//     bad_ranges.h) fail a read that touches them, and a write that covers one of them only
//     in part; a write that covers a range completely clears it (pmem2_badblock_clear for the
//     ones libpmem2 reported; for learnt ones the fresh write is the clear) and succeeds.
// A failed load names the first byte that could not be read; a failed store returns EIO and
// write_error_at() names where. Offsets are the medium's. The durability ordering stays the
// layout's (raw_layout.h): store() and store_repeated() only copy, and flush when asked.
//
// Thread-safe as the Lun: concurrent loads and stores; clearing is serialised by the set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "bad_ranges.h"
#include "medium.h"
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::bs {

class MediaAccess {
 public:
  // Seeds the known bad ranges from medium.bad_ranges_at_open(). Throws std::bad_alloc.
  explicit MediaAccess(Medium& medium);

  // Copies [offset, offset + dst.size()) to dst. Returns the offset of the first byte that
  // could not be read, or nullopt when all were.
  [[nodiscard]] std::optional<std::uint64_t> read(std::uint64_t offset,
                                                  std::span<std::byte> dst) noexcept;

  // Where [offset, offset + len) can be read in place (sent from the mapping by the
  // transport, not copied): nullptr if a known bad range lies in it, or if touching one byte
  // of each of its pages faults (a truncated file, a poisoned line on a touched byte: learned,
  // so that read() of the range then names the bad byte). A page that faults later, while the
  // transport sends it, is not caught here (bs_pmem(8), READ IN PLACE).
  [[nodiscard]] const std::byte* in_place(std::uint64_t offset, std::uint64_t len) noexcept;

  // Copies data to offset; with flush, the range is also flush()ed (not drained).
  // Errors: EIO for a media error (see write_error_at), those of the flusher.
  [[nodiscard]] flush::Status store(std::uint64_t offset, std::span<const std::byte> data,
                                    bool flush) noexcept;
  // Fills len bytes at offset with a repeating pattern (non-empty), likewise.
  [[nodiscard]] flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                                             std::span<const std::byte> pattern,
                                             bool flush) noexcept;
  // Medium::deallocate under the same rules as a store (it stores zeros).
  [[nodiscard]] std::expected<Medium::Dealloc, std::error_code> deallocate(
      std::uint64_t offset, std::uint64_t len) noexcept;
  // flush() of a range already stored (write-cache sync). Errors: EIO, the flusher's.
  [[nodiscard]] flush::Status flush(std::uint64_t offset, std::uint64_t len) noexcept;

  // Where a failed store of [offset, offset + len) failed (BadRanges::write_error_at).
  [[nodiscard]] std::optional<std::uint64_t> write_error_at(std::uint64_t offset,
                                                            std::uint64_t len) const noexcept;

  [[nodiscard]] BadRanges& bad_ranges() noexcept { return bad_; }
  [[nodiscard]] const BadRanges& bad_ranges() const noexcept { return bad_; }

 private:
  // Runs op (a guarded store of [offset, offset + len)) under the bad-range rules.
  template <class Op>
  flush::Status write_op(std::uint64_t offset, std::uint64_t len, Op&& op) noexcept;
  void learn(std::uintptr_t granule_begin, std::uintptr_t granule_end) noexcept;

  Medium& medium_;
  // libpmem2's memcpy/memset flush as they copy (non-temporal stores); a system-call
  // flusher (msync) is called once per range rather than per guarded chunk.
  bool copy_flushes_;
  BadRanges bad_;
};

}  // namespace tgt_pmem::bs
