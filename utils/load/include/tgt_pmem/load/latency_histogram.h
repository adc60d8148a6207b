// SPDX-License-Identifier: GPL-2.0-only
// A log-linear latency histogram: exact below 128 ns, then 64 buckets per power of two, so any
// reported percentile is within 1/64 (1.6 %) of a recorded value. Fixed size (about 30 KiB), no
// allocation on record(); recording is O(1).
//
// Thread-safety: none; one histogram per thread, merge() afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tgt_pmem::load {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(std::uint64_t nanoseconds) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  void reset() noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;

  // Nearest-rank percentile, p in [0, 100]: the smallest recorded value v (to bucket precision)
  // such that at least p % of the samples are <= v. p <= 0 gives min(), p >= 100 gives max().
  // 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept;

  // Bucket geometry, public for tests.
  [[nodiscard]] static std::size_t bucket_index(std::uint64_t value) noexcept;
  [[nodiscard]] static std::uint64_t bucket_lowest(std::size_t index) noexcept;
  [[nodiscard]] static std::uint64_t bucket_highest(std::size_t index) noexcept;
  static constexpr std::size_t kBucketCount = 3776;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace tgt_pmem::load
