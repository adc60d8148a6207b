// SPDX-License-Identifier: GPL-2.0-only
// Data-verification pattern (see verify_pattern.h).
#include "tgt_pmem/load/verify_pattern.h"

#include <cstring>

#include "tgt_pmem/load/workload.h"

namespace tgt_pmem::load {
namespace {

struct Header {
  std::uint64_t magic;
  std::uint64_t lba;
  std::uint64_t generation;
  std::uint64_t run_id;
};
static_assert(sizeof(Header) == kPatternHeaderBytes);

// Body words depend on every header field, so a body from another LBA, generation or run never
// matches by accident.
SplitMix64 body_stream(const BlockStamp& s) {
  return SplitMix64(s.lba * 0x9e3779b97f4a7c15ULL ^ s.generation * 0xc2b2ae3d27d4eb4fULL ^
                    s.run_id);
}

Header read_header(std::span<const std::byte> block) {
  Header h;
  std::memcpy(&h, block.data(), sizeof h);
  return h;
}

// Offset of the first body byte that differs from the stream of `stamp`, or nullopt.
std::optional<std::size_t> first_body_difference(std::span<const std::byte> block,
                                                 const BlockStamp& stamp) {
  SplitMix64 stream = body_stream(stamp);
  for (std::size_t off = kPatternHeaderBytes; off + 8 <= block.size(); off += 8) {
    const std::uint64_t want = stream.next();
    std::uint64_t got;
    std::memcpy(&got, block.data() + off, sizeof got);
    if (got != want) return off;
  }
  return std::nullopt;
}

std::string at(std::uint64_t lba) { return "LBA " + std::to_string(lba) + ": "; }

}  // namespace

void fill_block(std::span<std::byte> block, const BlockStamp& stamp) noexcept {
  const Header h{kPatternMagic, stamp.lba, stamp.generation, stamp.run_id};
  std::memcpy(block.data(), &h, sizeof h);
  SplitMix64 stream = body_stream(stamp);
  for (std::size_t off = kPatternHeaderBytes; off + 8 <= block.size(); off += 8) {
    const std::uint64_t word = stream.next();
    std::memcpy(block.data() + off, &word, sizeof word);
  }
}

std::optional<std::string> check_block(std::span<const std::byte> block, std::uint64_t lba,
                                       std::uint64_t run_id,
                                       std::optional<std::uint64_t> expected_generation) {
  const Header h = read_header(block);
  if (h.magic != kPatternMagic) {
    if (!expected_generation) return std::nullopt;  // never written by us: anything goes
    return at(lba) + "no pattern found, expected generation " +
           std::to_string(*expected_generation) + " (write lost or block overwritten)";
  }
  if (h.lba != lba) {
    return at(lba) + "holds the block written for LBA " + std::to_string(h.lba) +
           " (misdirected write or read)";
  }
  if (h.run_id != run_id) {
    if (!expected_generation) return std::nullopt;  // an earlier run's block, correctly placed
    return at(lba) + "holds data of another run (id " + std::to_string(h.run_id) +
           "), expected generation " + std::to_string(*expected_generation) + " of this run";
  }
  if (expected_generation && h.generation != *expected_generation) {
    const char* what = h.generation < *expected_generation ? "stale data" : "unexpected data";
    return at(lba) + what + ": generation " + std::to_string(h.generation) + ", expected " +
           std::to_string(*expected_generation) + " (the last acknowledged write)";
  }
  if (auto off = first_body_difference(block, {lba, h.generation, run_id})) {
    return at(lba) + "header of generation " + std::to_string(h.generation) +
           " intact but the data differs from byte " + std::to_string(*off) +
           " (torn or corrupted block)";
  }
  return std::nullopt;
}

}  // namespace tgt_pmem::load
