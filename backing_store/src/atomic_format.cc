// SPDX-License-Identifier: GPL-2.0-only
#include "atomic_format.h"

#include <algorithm>
#include <cstring>

namespace tgt_pmem::bs::atomic {

namespace {

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

// Header field offsets.
enum : std::size_t {
  kOffMagic = 0, kOffVersion = 8, kOffHeaderSize = 12, kOffBlockSize = 16, kOffLanes = 20,
  kOffMaxAtomic = 24, kOffFlags = 28, kOffCapacity = 32, kOffPhysical = 40, kOffLog = 48,
  kOffFree = 56, kOffMap = 64, kOffData = 72, kOffMediumSize = 80, kOffUuid = 88,
  kOffChecksum = 104, kChecksummed = 104,
};

template <typename T>
T get(std::span<const std::uint8_t> b, std::size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}
template <typename T>
void put(std::span<std::uint8_t> b, std::size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

}  // namespace

std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes, std::uint64_t h) {
  for (std::uint8_t c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::expected<Geometry, std::string> compute_geometry(std::uint64_t size,
                                                      std::uint32_t block_size) {
  Geometry g;
  g.block_size = block_size;
  g.lanes = kLanes;
  g.max_atomic = kMaxAtomicBlocks;
  g.medium_size = size;
  g.log_offset = kHeaderSize;
  g.free_offset = g.log_offset + g.lanes * kLogSlotSize;
  g.map_offset = g.free_offset + g.lanes * kFreePageSize;
  const std::uint64_t spare = std::uint64_t{g.lanes} * g.max_atomic;
  // Room for capacity c: align4k(map_offset + 8c) + (c + spare) * block_size <= size.
  const std::uint64_t fixed = g.map_offset + 4096 + spare * block_size;
  if (size <= fixed)
    return std::unexpected("too small for the atomic layout: needs more than " +
                           std::to_string(fixed) + " bytes");
  std::uint64_t c = (size - fixed) / (block_size + 8);
  while (c > 0 && align_up(g.map_offset + 8 * c, 4096) + (c + spare) * block_size > size) --c;
  if (c == 0) return std::unexpected(std::string("too small for the atomic layout"));
  g.capacity = c;
  g.physical_blocks = c + spare;
  g.data_offset = align_up(g.map_offset + 8 * c, 4096);
  return g;
}

std::array<std::uint8_t, kHeaderSize> encode_header(const Header& h) {
  std::array<std::uint8_t, kHeaderSize> b{};
  std::span<std::uint8_t> s(b);
  std::memcpy(b.data() + kOffMagic, kMagic, sizeof kMagic);
  const Geometry& g = h.geometry;
  put<std::uint32_t>(s, kOffVersion, kVersion);
  put<std::uint32_t>(s, kOffHeaderSize, static_cast<std::uint32_t>(kHeaderSize));
  put<std::uint32_t>(s, kOffBlockSize, g.block_size);
  put<std::uint32_t>(s, kOffLanes, g.lanes);
  put<std::uint32_t>(s, kOffMaxAtomic, g.max_atomic);
  put<std::uint32_t>(s, kOffFlags, 0);
  put<std::uint64_t>(s, kOffCapacity, g.capacity);
  put<std::uint64_t>(s, kOffPhysical, g.physical_blocks);
  put<std::uint64_t>(s, kOffLog, g.log_offset);
  put<std::uint64_t>(s, kOffFree, g.free_offset);
  put<std::uint64_t>(s, kOffMap, g.map_offset);
  put<std::uint64_t>(s, kOffData, g.data_offset);
  put<std::uint64_t>(s, kOffMediumSize, g.medium_size);
  std::memcpy(b.data() + kOffUuid, h.uuid.data(), h.uuid.size());
  put<std::uint64_t>(s, kOffChecksum, fnv1a64(s.first(kChecksummed)));
  return b;
}

Decoded decode_header(std::span<const std::uint8_t> b) {
  Decoded d{HeaderState::kForeign, {}, {}};
  if (b.size() < kHeaderSize) {
    d.state = HeaderState::kCorrupt;
    d.detail = "header shorter than 4096 bytes";
    return d;
  }
  if (std::all_of(b.begin(), b.begin() + kHeaderSize, [](std::uint8_t c) { return c == 0; })) {
    d.state = HeaderState::kBlank;
    return d;
  }
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) {
    d.detail = "no tgt-pmem atomic-layout header";
    return d;
  }
  if (get<std::uint64_t>(b, kOffChecksum) != fnv1a64(b.first(kChecksummed))) {
    d.state = HeaderState::kCorrupt;
    d.detail = "header checksum mismatch";
    return d;
  }
  const auto version = get<std::uint32_t>(b, kOffVersion);
  if (version > kVersion) {
    d.state = HeaderState::kNewerVersion;
    d.detail = "format version " + std::to_string(version) + " is newer than this module's " +
               std::to_string(kVersion);
    return d;
  }
  Geometry& g = d.header.geometry;
  g.block_size = get<std::uint32_t>(b, kOffBlockSize);
  g.lanes = get<std::uint32_t>(b, kOffLanes);
  g.max_atomic = get<std::uint32_t>(b, kOffMaxAtomic);
  g.capacity = get<std::uint64_t>(b, kOffCapacity);
  g.physical_blocks = get<std::uint64_t>(b, kOffPhysical);
  g.log_offset = get<std::uint64_t>(b, kOffLog);
  g.free_offset = get<std::uint64_t>(b, kOffFree);
  g.map_offset = get<std::uint64_t>(b, kOffMap);
  g.data_offset = get<std::uint64_t>(b, kOffData);
  g.medium_size = get<std::uint64_t>(b, kOffMediumSize);
  std::memcpy(d.header.uuid.data(), b.data() + kOffUuid, d.header.uuid.size());
  // Version 1 geometry is a function of size and block size: anything else is corrupt.
  auto expect = compute_geometry(g.medium_size, g.block_size);
  if ((g.block_size != 512 && g.block_size != 4096) || !expect || !(*expect == g)) {
    d.state = HeaderState::kCorrupt;
    d.detail = "header geometry is inconsistent";
    return d;
  }
  d.state = HeaderState::kValid;
  return d;
}

std::uint64_t log_checksum(std::span<const std::uint8_t> slot, std::uint32_t count) {
  std::array<std::uint8_t, kLogHeadSize> head{};
  std::memcpy(head.data(), slot.data(), kLogHeadSize);
  std::memset(head.data() + 16, 0, 8);  // the checksum field itself
  const std::uint64_t h = fnv1a64(head);
  return fnv1a64(slot.subspan(kLogHeadSize, std::size_t{count} * sizeof(LogEntry)), h);
}

}  // namespace tgt_pmem::bs::atomic
