// SPDX-License-Identifier: GPL-2.0-only
// Workload generator (see workload.h).
#include "tgt_pmem/load/workload.h"

#include <algorithm>

namespace tgt_pmem::load {
namespace {
// How many random draws may land on busy units before giving up until the next completion.
// With QD busy units out of U, all draws hit busy ones with probability (QD/U)^kTries.
constexpr int kRandomTries = 16;

bool contains(std::span<const std::uint64_t> units, std::uint64_t unit) {
  return std::find(units.begin(), units.end(), unit) != units.end();
}
}  // namespace

std::uint64_t SplitMix64::next() noexcept {
  // Steele, Lea, Flood: "Fast splittable pseudorandom number generators" (OOPSLA 2014).
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) noexcept {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
}

WorkloadGenerator::WorkloadGenerator(const WorkloadSpec& spec) noexcept
    : spec_(spec), rng_(spec.seed) {
  spec_.units = std::max<std::uint64_t>(spec_.units, 1);
  spec_.blocks_per_unit = std::max<std::uint32_t>(spec_.blocks_per_unit, 1);
  spec_.read_percent = std::min(spec_.read_percent, 100u);
}

std::optional<IoRequest> WorkloadGenerator::next(std::span<const std::uint64_t> busy) noexcept {
  std::optional<std::uint64_t> unit;
  if (spec_.access == AccessPattern::kSequential) {
    if (!contains(busy, cursor_)) {
      unit = cursor_;
      cursor_ = (cursor_ + 1) % spec_.units;
    }
  } else {
    for (int i = 0; i < kRandomTries && !unit; ++i) {
      const std::uint64_t candidate = rng_.below(spec_.units);
      if (!contains(busy, candidate)) unit = candidate;
    }
  }
  if (!unit) return std::nullopt;
  const bool read = rng_.below(100) < spec_.read_percent;
  return IoRequest{read ? IoKind::kRead : IoKind::kWrite, *unit,
                   spec_.first_lba + *unit * spec_.blocks_per_unit, spec_.blocks_per_unit};
}

}  // namespace tgt_pmem::load
