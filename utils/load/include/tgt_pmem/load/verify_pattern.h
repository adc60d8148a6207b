// SPDX-License-Identifier: GPL-2.0-only
// The data-verification pattern. Every logical block written in --verify mode starts with a
// header (magic, its own LBA, a write generation, the run id) and is filled with a
// pseudo-random stream derived from those, so a read can tell apart
//   - correct data (header and the whole body match the last acknowledged write),
//   - stale data (an older generation of the same LBA: a lost or reordered write),
//   - misdirected data (another LBA's block),
//   - torn or corrupted data (header right, body wrong),
//   - data from another run or not ours at all.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace tgt_pmem::load {

inline constexpr std::uint64_t kPatternMagic = 0x74677470'6d656d31ULL;  // "tgtpmem1"
inline constexpr std::size_t kPatternHeaderBytes = 32;

struct BlockStamp {
  std::uint64_t lba;
  std::uint64_t generation;  // > 0; 0 is reserved for "unknown"
  std::uint64_t run_id;
};

// Fills one logical block. block.size() must be a multiple of 8 and at least
// kPatternHeaderBytes (every SCSI logical block size is).
void fill_block(std::span<std::byte> block, const BlockStamp& stamp) noexcept;

// Checks one logical block read from `lba`.
// expected_generation set: the block must be exactly fill_block({lba, gen, run_id}).
// expected_generation unset (never written by this run, or a write to it failed): the block may
// hold anything, but if it carries our magic its LBA field must be `lba`, and if it carries our
// run id its body must be intact.
// Returns nullopt when the block is acceptable, else a one-line description of the mismatch.
[[nodiscard]] std::optional<std::string> check_block(
    std::span<const std::byte> block, std::uint64_t lba, std::uint64_t run_id,
    std::optional<std::uint64_t> expected_generation);

}  // namespace tgt_pmem::load
