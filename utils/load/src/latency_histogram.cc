// SPDX-License-Identifier: GPL-2.0-only
// Log-linear latency histogram (see latency_histogram.h).
#include "tgt_pmem/load/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace tgt_pmem::load {
namespace {
// Values below 2^kLinearBits have a bucket each; above, every power of two [2^k, 2^(k+1)) is
// split into 2^(kLinearBits-1) equal buckets.
constexpr unsigned kLinearBits = 7;
constexpr std::uint64_t kLinearLimit = std::uint64_t{1} << kLinearBits;  // 128
constexpr std::uint64_t kSubBuckets = kLinearLimit / 2;                   // 64
}  // namespace

static_assert(LatencyHistogram::kBucketCount ==
              (64 - kLinearBits) * kSubBuckets + (2 * kSubBuckets - 1) + 1);

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) { reset(); }

std::size_t LatencyHistogram::bucket_index(std::uint64_t value) noexcept {
  if (value < kLinearLimit) return static_cast<std::size_t>(value);
  const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - kLinearBits;
  // value >> shift lies in [64, 128): the position inside this power of two.
  return static_cast<std::size_t>(shift * kSubBuckets + (value >> shift));
}

std::uint64_t LatencyHistogram::bucket_lowest(std::size_t index) noexcept {
  if (index < kLinearLimit) return index;
  const unsigned shift = static_cast<unsigned>(index / kSubBuckets) - 1;
  const std::uint64_t mantissa = index % kSubBuckets + kSubBuckets;
  return mantissa << shift;
}

std::uint64_t LatencyHistogram::bucket_highest(std::size_t index) noexcept {
  if (index < kLinearLimit) return index;
  const unsigned shift = static_cast<unsigned>(index / kSubBuckets) - 1;
  return bucket_lowest(index) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t nanoseconds) noexcept {
  ++counts_[bucket_index(nanoseconds)];
  ++count_;
  min_ = std::min(min_, nanoseconds);
  max_ = std::max(max_, nanoseconds);
  sum_ += static_cast<long double>(nanoseconds);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = std::numeric_limits<std::uint64_t>::max();
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;
  if (p >= 100) return max_;
  // Nearest rank: the ceil(p/100 * N)-th smallest sample (1-based).
  // The small slack keeps 99.9 % of 1000 samples at rank 999, not 1000, despite 99.9 having no
  // exact binary representation.
  const double exact = p / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // Report the bucket's top, but never beyond what was actually recorded.
      return std::clamp(bucket_highest(i), min_, max_);
    }
  }
  return max_;  // unreachable: the counts add up to count_
}

}  // namespace tgt_pmem::load
