// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tgt_pmem/load/latency_histogram.h"
#include "tgt_pmem/load/workload.h"

namespace tgt_pmem::load {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogram, PercentilesOfKnownSamples) {
  // 1..100 ns: every value has its own exact bucket, nearest rank gives the value itself.
  LatencyHistogram h;
  for (std::uint64_t v = 100; v >= 1; --v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.percentile(0.5), 1u);
}

TEST(LatencyHistogram, NearestRankDoesNotRoundUpOnDecimalPercentiles) {
  // 99.9 % of 1000 samples is the 999th: 999 ns, not the outlier.
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 999; ++v) h.record(v % 100);
  h.record(1'000'000'000);
  EXPECT_EQ(h.percentile(99.9), 99u);
  EXPECT_EQ(h.max(), 1'000'000'000u);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  EXPECT_EQ(LatencyHistogram::bucket_index(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_index(127), 127u);
  EXPECT_EQ(LatencyHistogram::bucket_index(128), 128u);
  EXPECT_EQ(LatencyHistogram::bucket_index(~std::uint64_t{0}), LatencyHistogram::kBucketCount - 1);
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_highest(i) + 1, LatencyHistogram::bucket_lowest(i + 1))
        << i;
    ASSERT_EQ(LatencyHistogram::bucket_index(LatencyHistogram::bucket_lowest(i)), i);
    ASSERT_EQ(LatencyHistogram::bucket_index(LatencyHistogram::bucket_highest(i)), i);
  }
  EXPECT_EQ(LatencyHistogram::bucket_highest(LatencyHistogram::kBucketCount - 1),
            ~std::uint64_t{0});
}

TEST(LatencyHistogram, RelativeErrorIsBelowOneSixtyFourth) {
  // Against exact percentiles of pseudo-random latencies spread over 1 us .. 100 ms.
  SplitMix64 rng(7);
  std::vector<std::uint64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const double exponent = 3.0 + 5.0 * static_cast<double>(rng.below(1'000'000)) / 1e6;
    const auto v = static_cast<std::uint64_t>(std::pow(10.0, exponent));
    samples.push_back(v);
    h.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size()));
    const double exact = static_cast<double>(samples[rank - 1]);
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, exact) << p;  // the bucket's top: never below the true value
    EXPECT_LE((got - exact) / exact, 1.0 / 64) << p;
  }
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, both;
  for (std::uint64_t v = 1; v < 5000; v += 7) {
    (v % 2 ? a : b).record(v * 1000);
    both.record(v * 1000);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  EXPECT_DOUBLE_EQ(a.mean(), both.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), both.percentile(p));
}

TEST(LatencyHistogram, ResetForgetsEverything) {
  LatencyHistogram h;
  h.record(5);
  h.record(500000);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  h.record(42);
  EXPECT_EQ(h.min(), 42u);
  EXPECT_EQ(h.percentile(50), 42u);
}

}  // namespace
}  // namespace tgt_pmem::load
