// SPDX-License-Identifier: GPL-2.0-only
// The workload generator: decides what the next I/O is (read or write, which LBA), from a seed,
// so that a run can be repeated. It knows nothing about iSCSI.
//
// The region is divided into "units" of one I/O each (block_size bytes, aligned to the region
// start); every I/O covers exactly one unit. Verification relies on that: two in-flight I/Os
// either cover the same unit or do not overlap at all.
//
// Thread-safety: none; one generator per issuing thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "tgt_pmem/load/options.h"

namespace tgt_pmem::load {

enum class IoKind { kRead, kWrite };

struct IoRequest {
  IoKind kind;
  std::uint64_t unit;  // index of the unit in the region
  std::uint64_t lba;   // first logical block: first_lba + unit * blocks_per_unit
  std::uint32_t blocks;
};

struct WorkloadSpec {
  std::uint64_t first_lba = 0;
  std::uint64_t units = 1;            // > 0
  std::uint32_t blocks_per_unit = 1;  // > 0
  unsigned read_percent = 100;        // 0..100
  AccessPattern access = AccessPattern::kRandom;
  std::uint64_t seed = 0;
};

// SplitMix64: small, fast, and good enough to scatter I/Os; deterministic on every platform
// (unlike std::uniform_int_distribution).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept;
  // Uniform in [0, bound), bound > 0 (multiply-shift; the bias is below 2^-32 for our bounds).
  std::uint64_t below(std::uint64_t bound) noexcept;

 private:
  std::uint64_t state_;
};

class WorkloadGenerator {
 public:
  explicit WorkloadGenerator(const WorkloadSpec& spec) noexcept;

  // The next I/O, avoiding the units listed in `busy` (the caller passes the units in flight
  // when it needs non-overlapping I/O, or an empty span). nullopt when the generator cannot
  // find a free unit now (sequential: the next unit is busy; random: several draws hit busy
  // units); the caller retries after a completion. The read/write choice is drawn only when a
  // unit is found, so the mix stays exact in the long run.
  [[nodiscard]] std::optional<IoRequest> next(std::span<const std::uint64_t> busy) noexcept;

  [[nodiscard]] const WorkloadSpec& spec() const noexcept { return spec_; }

 private:
  WorkloadSpec spec_;
  SplitMix64 rng_;
  std::uint64_t cursor_ = 0;  // sequential: the next unit
};

}  // namespace tgt_pmem::load
