// SPDX-License-Identifier: GPL-2.0-only
// The write-intent bitmap of a mirrored LUN (issue 16): one bit per region of the LUN, kept
// on pmem in the mirror metadata store (meta_format.h). A set bit means "this region may
// differ between the two copies". The rule that makes it worth having: a region's bit is
// durable *before* any write to that region can reach the local medium, so after any crash
// or link loss, every region the copies could differ in is marked, and a resync of the marked
// regions alone makes them equal. A bit is cleared only once both copies are known to hold the
// same bytes there (the resync copied it and the secondary made it durable).
//
// Bits live in 64-bit little-endian words, each set or cleared with one 8-byte atomic store
// (Flusher::store_word), so a power loss leaves every word old or new, never a mix.
//
// Thread-safety: mark() and clear() may be called from several threads; they serialise on
// one mutex, held until their flush has drained. That is what lets a mark() that finds its
// bits already set return at once: a bit visible under the mutex is durable (a second caller
// cannot see a bit that the first has stored but not yet made durable). is_marked(),
// marked() and next_marked() read without the lock and may miss a concurrent change.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "medium.h"
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::bs::mirror {

class IntentBitmap {
 public:
  // The bitmap of `regions` regions of 1 << region_shift bytes, at byte `offset` of medium
  // (8-byte aligned; the caller checked that it fits). medium is not owned.
  IntentBitmap(Medium& medium, std::uint64_t offset, std::uint64_t regions,
               std::uint32_t region_shift) noexcept;

  [[nodiscard]] std::uint64_t regions() const noexcept { return regions_; }
  [[nodiscard]] std::uint32_t region_shift() const noexcept { return shift_; }
  // The regions [first, last] that the LUN's bytes [offset, offset + len) touch (len > 0).
  struct Span {
    std::uint64_t first;
    std::uint64_t last;
  };
  [[nodiscard]] Span regions_of(std::uint64_t offset, std::uint64_t len) const noexcept;

  // Marks every region the LUN's bytes [offset, offset + len) touch, and returns once the
  // marks are durable. Bits already set cost nothing (no store, no flush). Errors: the
  // medium's flush error; once a flush of the medium failed, every later call fails with it
  // (the latch, flush/latching.h), even when its bits were already set, because the bits
  // may not be durable. EINVAL: beyond the LUN.
  [[nodiscard]] flush::Status mark(std::uint64_t offset, std::uint64_t len) noexcept;
  // Marks every region (a full resync), durably.
  [[nodiscard]] flush::Status mark_all() noexcept;
  // Clears regions [first, first + count), durably. Errors as mark().
  [[nodiscard]] flush::Status clear(std::uint64_t first, std::uint64_t count = 1) noexcept;

  [[nodiscard]] bool is_marked(std::uint64_t region) const noexcept;
  // How many regions are marked.
  [[nodiscard]] std::uint64_t marked() const noexcept;
  // The first marked region at or after `from`, if any.
  [[nodiscard]] std::optional<std::uint64_t> next_marked(std::uint64_t from) const noexcept;

 private:
  // Sets (or clears) the bits of regions [first, last] and makes them durable; under mu_.
  flush::Status change_locked(std::uint64_t first, std::uint64_t last, bool set) noexcept;
  std::uint64_t load(std::uint64_t word) const noexcept;

  Medium& medium_;
  std::uint64_t* words_;
  std::uint64_t regions_;
  std::uint32_t shift_;
  std::mutex mu_;
};

}  // namespace tgt_pmem::bs::mirror
