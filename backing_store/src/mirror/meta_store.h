// SPDX-License-Identifier: GPL-2.0-only
// The mirror metadata store (mirror_meta=, issue 16): a small pmem medium of its own beside a
// mirrored LUN, holding the LUN's role, generation identifiers (generations.h) and
// write-intent bitmap (intent_bitmap.h). The raw layout gives every byte of the LUN to the
// initiator, which is why this is not in the LUN. Format: meta_format.h.
//
// Durability: format() and update() return once what they wrote is durable; a crash at any
// moment leaves either the record before an update or the one after it, never neither
// (two slots, checksummed records). The bitmap's rules are intent_bitmap.h's.
//
// Thread-safety: update() serialises on a mutex; record() returns a copy under it. The
// bitmap is thread-safe on its own. The medium must outlive the store.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>

#include "medium.h"
#include "mirror/intent_bitmap.h"
#include "mirror/meta_format.h"
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::bs::mirror {

class MetaStore {
 public:
  struct Params {
    Role role = Role::kPrimary;
    Generations generations;
    std::uint64_t lun_size = 0;  // bytes
    std::uint32_t region_shift = kDefaultRegionShift;
  };

  // Writes a new, empty store over medium (every bit clear; whatever was there is lost), and
  // returns it open, durable. Errors (a message): the medium too small for the LUN's bitmap
  // (it says how large it must be), a region size out of range, a flush error.
  [[nodiscard]] static std::expected<std::unique_ptr<MetaStore>, std::string> format(
      Medium& medium, const Params& p);

  // Opens the store on medium. Errors (a message saying what to do): blank (never
  // formatted), foreign (something else is there), no valid record (both damaged), a newer
  // format version, a medium too small for the bitmap its record describes.
  [[nodiscard]] static std::expected<std::unique_ptr<MetaStore>, std::string> open(
      Medium& medium);

  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  [[nodiscard]] Record record() const;
  // Writes a record with this role and these generations (seq + 1) into the other slot and
  // returns once it is durable. On error the store's record stays the old one, but the
  // medium may hold either (the latch then fails every later durability claim).
  [[nodiscard]] flush::Status update(Role role, const Generations& g) noexcept;

  [[nodiscard]] IntentBitmap& bitmap() noexcept { return bitmap_; }
  [[nodiscard]] const IntentBitmap& bitmap() const noexcept { return bitmap_; }

 private:
  MetaStore(Medium& medium, const Record& r, int active);
  flush::Status write_slot(int slot, const Record& r) noexcept;

  Medium& medium_;
  mutable std::mutex mu_;
  Record record_;
  int active_;  // the slot holding record_
  IntentBitmap bitmap_;
};

}  // namespace tgt_pmem::bs::mirror
