// SPDX-License-Identifier: GPL-2.0-only
#include "layout_atomic.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "atomic_format.h"

namespace tgt_pmem::admin {

namespace {

namespace at = bs::atomic;

std::span<const std::uint8_t> bytes(std::span<const std::byte> m) {
  return {reinterpret_cast<const std::uint8_t*>(m.data()), m.size()};
}

std::uint64_t u64(std::span<const std::byte> m, std::uint64_t off) {
  std::uint64_t v;
  std::memcpy(&v, m.data() + off, 8);
  return v;
}

std::string hex(const std::array<std::uint8_t, 16>& uuid) {
  char s[33];
  for (int i = 0; i < 16; ++i) std::snprintf(s + 2 * i, 3, "%02x", uuid[i]);
  return s;
}

}  // namespace

bool AtomicLayout::detect(std::span<const std::byte> medium) const {
  return medium.size() >= sizeof at::kMagic &&
         std::memcmp(medium.data(), at::kMagic, sizeof at::kMagic) == 0;
}

std::optional<std::uint32_t> AtomicLayout::recorded_block_size(
    std::span<const std::byte> medium) const {
  const auto d = at::decode_header(bytes(medium));
  if (d.state != at::HeaderState::kValid) return std::nullopt;
  return d.header.geometry.block_size;
}

void AtomicLayout::check(std::span<const std::byte> medium, std::uint32_t block_size,
                         std::vector<Finding>& out) const {
  using V = Finding::Verdict;
  const auto d = at::decode_header(bytes(medium));
  if (d.state != at::HeaderState::kValid) {
    out.push_back({"layout.atomic.header", V::kFailed, "atomic-layout header: " + d.detail});
    return;
  }
  const at::Geometry& g = d.header.geometry;
  if (g.medium_size != medium.size() || g.block_size != block_size) {
    out.push_back({"layout.atomic.geometry", V::kFailed,
                   "the header describes " + std::to_string(g.medium_size) + " bytes in blocks of " +
                       std::to_string(g.block_size) + ", the store has " +
                       std::to_string(medium.size()) + " bytes, block size " +
                       std::to_string(block_size) + " was asked for"});
    return;
  }
  out.push_back({"layout.atomic.header", V::kOk,
                 "atomic layout v" + std::to_string(at::kVersion) + ", UUID " + hex(d.header.uuid) +
                     ", " + std::to_string(g.capacity) + " blocks of " +
                     std::to_string(g.block_size) + " bytes, " + std::to_string(g.lanes) +
                     " lanes, WRITE ATOMIC up to " + std::to_string(g.max_atomic) + " blocks"});
  // Lane logs: a slot is empty, or a checksummed entry whose blocks are in range.
  std::uint32_t committed = 0;
  for (std::uint32_t l = 0; l < g.lanes; ++l) {
    const auto slot = bytes(medium).subspan(g.log_offset + l * at::kLogSlotSize, at::kLogSlotSize);
    std::uint32_t count;
    std::memcpy(&count, slot.data() + 8, 4);
    const std::uint64_t seq = u64(medium, g.log_offset + l * at::kLogSlotSize);
    if (seq == 0) continue;
    const bool sane = count >= 1 && count <= g.max_atomic &&
                      u64(medium, g.log_offset + l * at::kLogSlotSize + 16) ==
                          at::log_checksum(slot, count);
    if (!sane) {
      // A torn last entry is what a power loss during a commit leaves: recovery ignores it.
      out.push_back({"layout.atomic.log", V::kWarning,
                     "lane " + std::to_string(l) + ": the last log entry is torn (a power loss " +
                         "during a commit); recovery treats it as never written"});
      continue;
    }
    ++committed;
    for (std::uint32_t i = 0; i < count; ++i) {
      at::LogEntry e;
      std::memcpy(&e, slot.data() + at::kLogHeadSize + i * sizeof e, sizeof e);
      if (e.lba >= g.capacity || e.old_pba >= g.physical_blocks || e.new_pba >= g.physical_blocks) {
        out.push_back({"layout.atomic.log", V::kFailed,
                       "lane " + std::to_string(l) + ": a log entry points outside the layout"});
        return;
      }
    }
  }
  out.push_back({"layout.atomic.log", V::kOk,
                 std::to_string(committed) + " of " + std::to_string(g.lanes) +
                     " lanes have a committed transaction in their log"});
  // Map and free lists: every physical block referenced at most once by the map, all in range.
  std::vector<bool> used(g.physical_blocks);
  std::uint64_t remapped = 0;
  for (std::uint64_t lba = 0; lba < g.capacity; ++lba) {
    const std::uint64_t v = u64(medium, g.map_offset + lba * 8);
    const std::uint64_t pba = v == 0 ? lba : v - 1;
    if (pba >= g.physical_blocks || used[pba]) {
      out.push_back({"layout.atomic.map", V::kFailed,
                     "map entry of LBA " + std::to_string(lba) +
                         (pba >= g.physical_blocks ? " points outside the data area"
                                                   : " shares its physical block with another LBA")});
      return;
    }
    used[pba] = true;
    remapped += v != 0;
  }
  for (std::uint32_t l = 0; l < g.lanes; ++l)
    for (std::uint32_t i = 0; i < g.max_atomic; ++i) {
      const std::uint64_t v = u64(medium, g.free_offset + l * at::kFreePageSize + i * 8);
      const std::uint64_t pba = v == 0 ? g.capacity + std::uint64_t{l} * g.max_atomic + i : v - 1;
      if (pba >= g.physical_blocks) {
        out.push_back({"layout.atomic.free", V::kFailed,
                       "lane " + std::to_string(l) + "'s free list points outside the data area"});
        return;
      }
    }
  out.push_back({"layout.atomic.map", V::kOk,
                 std::to_string(g.capacity) + " map entries in range and distinct, " +
                     std::to_string(remapped) + " remapped"});
}

std::expected<void, std::string> AtomicLayout::format(std::span<std::byte> medium,
                                                      std::uint32_t block_size,
                                                      flush::Flusher& flusher,
                                                      const bs::ExtentQuery& extents) const {
  const auto g = at::compute_geometry(medium.size(), block_size);
  if (!g) return std::unexpected(g.error());
  at::Header h;
  h.geometry = *g;
  if (::getrandom(h.uuid.data(), h.uuid.size(), 0) != static_cast<ssize_t>(h.uuid.size()))
    return std::unexpected("cannot read random bytes for the UUID");
  h.uuid[6] = static_cast<std::uint8_t>((h.uuid[6] & 0x0f) | 0x40);
  h.uuid[8] = static_cast<std::uint8_t>((h.uuid[8] & 0x3f) | 0x80);
  // Zeros first (an empty map, free lists and logs), the header last: a store cut short
  // while formatting has no header, so nothing will ever take it for a formatted one. Holes
  // of a sparse file are zero already: storing zeros there would allocate them (16 GiB of
  // map for a 1 TiB store of 512-byte blocks) for nothing.
  for (std::uint64_t off = at::kHeaderSize; off < g->data_offset;) {
    auto e = extents(off);
    if (!e) return std::unexpected("cannot query the extents: " + e.error().message());
    if (e->end <= off) return std::unexpected(std::string("the extent query made no progress"));
    const std::uint64_t stop = std::min(e->end, g->data_offset);
    if (e->mapped && !flusher.fill_and_flush(medium.data() + off, 0, stop - off))
      return std::unexpected("cannot zero the metadata area");
    off = stop;
  }
  if (!flusher.drain()) return std::unexpected("cannot zero the metadata area");
  const auto image = at::encode_header(h);
  if (!flusher.copy_and_flush(medium.data(), image.data(), image.size()) || !flusher.drain())
    return std::unexpected("cannot write the header");
  return {};
}

}  // namespace tgt_pmem::admin
