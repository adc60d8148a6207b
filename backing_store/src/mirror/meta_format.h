// SPDX-License-Identifier: GPL-2.0-only
// The on-media format of a mirror metadata store, version 1 (mirror_meta=; docs:
// backing_store/docs/mirror-meta.md). Pure functions over bytes: geometry, record encoding
// and validation. Integers are big-endian (utils/bytes), so the format does not depend on
// the host.
//
//   [0, 4 KiB)        record slot 0
//   [4 KiB, 8 KiB)    record slot 1
//   [8 KiB, ...)      the write-intent bitmap: one bit per region, 64-bit words, bit i of
//                     word w (least significant first) is region 64 * w + i
//
// A record is written whole into the slot that does not hold the newest valid record, then
// made durable; the valid record with the higher sequence number is the store's state. A
// record torn by a power loss fails its checksum and the other slot still holds the one
// before it (the atomic layout's header discipline, backing_store/docs/atomic-layout.md).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "mirror/generations.h"

namespace tgt_pmem::bs::mirror {

inline constexpr char kMagic[8] = {'T', 'G', 'T', 'P', 'M', 'M', 'I', 'R'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint64_t kSlotSize = 4096;
inline constexpr std::uint64_t kRecordSize = 256;
inline constexpr std::uint64_t kBitmapOffset = 2 * kSlotSize;
inline constexpr std::uint32_t kMinRegionShift = 12;  // 4 KiB
inline constexpr std::uint32_t kMaxRegionShift = 30;  // 1 GiB
inline constexpr std::uint32_t kDefaultRegionShift = 20;  // 1 MiB: 1 TiB needs 128 KiB

enum class Role : std::uint32_t { kPrimary = 1, kSecondary = 2 };
[[nodiscard]] const char* to_string(Role r) noexcept;

struct Record {
  Role role = Role::kPrimary;
  std::uint64_t seq = 0;          // newer records have higher numbers
  Generations generations;
  std::uint32_t region_shift = kDefaultRegionShift;  // a region is 1 << region_shift bytes
  std::uint64_t lun_size = 0;     // bytes of the LUN the bitmap covers
  std::array<std::uint8_t, 16> store_uuid{};  // this store's identity, random at format

  friend bool operator==(const Record&, const Record&) = default;
};

// Regions of a LUN of lun_size bytes, and the bytes of bitmap they need (whole words).
[[nodiscard]] std::uint64_t regions_of(std::uint64_t lun_size, std::uint32_t region_shift) noexcept;
[[nodiscard]] std::uint64_t bitmap_bytes(std::uint64_t regions) noexcept;
// The smallest store that holds the metadata of such a LUN.
[[nodiscard]] std::uint64_t store_size_for(std::uint64_t lun_size,
                                           std::uint32_t region_shift) noexcept;

// The kRecordSize bytes of a record (the rest of its slot stays zero).
[[nodiscard]] std::array<std::uint8_t, kRecordSize> encode_record(const Record& r);

enum class SlotState { kValid, kBlank, kForeign, kCorrupt, kNewerVersion };
struct DecodedSlot {
  SlotState state;
  Record record;       // with kValid
  std::string detail;  // why, for the other states
};
// Validates magic, version, checksum (SHA-256 of the record, Nettle) and the fields' ranges.
[[nodiscard]] DecodedSlot decode_record(std::span<const std::uint8_t> bytes);

// Which of two decoded slots holds the store's state: 0 or 1, or -1 if neither is valid.
[[nodiscard]] int newest_slot(const DecodedSlot& a, const DecodedSlot& b) noexcept;

}  // namespace tgt_pmem::bs::mirror
