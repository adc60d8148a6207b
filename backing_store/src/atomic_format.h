// SPDX-License-Identifier: GPL-2.0-only
// The on-media format of the atomic layout, version 1 (docs: backing_store/docs/atomic-layout.md).
// Pure functions over bytes: geometry, header encoding and validation, log-entry checksums.
// All integers are little-endian (x86-64, where pmem lives).
//
//   [0, 4 KiB)             header
//   [log_offset, ...)      one log slot per lane (kLogSlotSize each)
//   [free_offset, ...)     one free-list page per lane: max_atomic 64-bit entries
//   [map_offset, ...)      one 64-bit entry per logical block
//   [data_offset, ...)     physical blocks: capacity + lanes * max_atomic of them
//
// Map and free-list entries store (physical block + 1); 0 means "the initial value": the
// identity for the map (logical N on physical N) and, for free-list entry i of lane l, the
// spare block capacity + l * max_atomic + i. A freshly zeroed metadata area is therefore a
// valid, empty layout, and formatting writes only the header.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>

namespace tgt_pmem::bs::atomic {

inline constexpr char kMagic[8] = {'T', 'G', 'T', 'P', 'M', 'E', 'M', 'A'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint64_t kHeaderSize = 4096;
inline constexpr std::uint32_t kLanes = 8;
inline constexpr std::uint32_t kMaxAtomicBlocks = 256;
inline constexpr std::uint64_t kLogSlotSize = 8192;   // 32-byte head + 256 * 24-byte entries
inline constexpr std::uint64_t kFreePageSize = 4096;  // 256 * 8-byte entries, + room

struct Geometry {
  std::uint32_t block_size = 0;
  std::uint32_t lanes = 0;
  std::uint32_t max_atomic = 0;
  std::uint64_t capacity = 0;        // logical blocks
  std::uint64_t physical_blocks = 0;
  std::uint64_t log_offset = 0;
  std::uint64_t free_offset = 0;
  std::uint64_t map_offset = 0;
  std::uint64_t data_offset = 0;
  std::uint64_t medium_size = 0;

  friend bool operator==(const Geometry&, const Geometry&) = default;
};

// The geometry for a medium of `size` bytes. Error: too small for one logical block.
[[nodiscard]] std::expected<Geometry, std::string> compute_geometry(std::uint64_t size,
                                                                    std::uint32_t block_size);

struct Header {
  Geometry geometry;
  std::array<std::uint8_t, 16> uuid{};
};

// The 4 KiB header image.
[[nodiscard]] std::array<std::uint8_t, kHeaderSize> encode_header(const Header& h);

enum class HeaderState { kValid, kBlank, kForeign, kCorrupt, kNewerVersion };
struct Decoded {
  HeaderState state;
  Header header;       // with kValid
  std::string detail;  // why, for the other states
};
// Validates magic, version, checksum and the geometry's internal consistency.
// kBlank: all zero. kForeign: not our magic (another format, or raw data).
[[nodiscard]] Decoded decode_header(std::span<const std::uint8_t> bytes);

// Log slot: head {u64 seq; u32 count; u32 lane; u64 checksum; u64 reserved} + entries.
struct LogEntry {
  std::uint64_t lba;
  std::uint64_t old_pba;
  std::uint64_t new_pba;
};
inline constexpr std::size_t kLogHeadSize = 32;

// FNV-1a, 64-bit: detects a torn or corrupted log slot or header (not an adversary).
[[nodiscard]] std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes,
                                    std::uint64_t h = 0xcbf29ce484222325ull);

// Checksum of a slot with `count` entries, the checksum field taken as zero.
[[nodiscard]] std::uint64_t log_checksum(std::span<const std::uint8_t> slot, std::uint32_t count);

}  // namespace tgt_pmem::bs::atomic
