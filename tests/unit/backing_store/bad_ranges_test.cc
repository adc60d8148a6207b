// SPDX-License-Identifier: GPL-2.0-only
// The set of known bad byte ranges: ranges stay as reported, a write must cover one wholly
// to clear it, and a failed write names the range that made it fail.
#include "bad_ranges.h"

#include <gtest/gtest.h>

namespace tgt_pmem::bs {
namespace {

using R = BadRanges::Range;
constexpr auto kMedium = BadRanges::Origin::kMedium;
constexpr auto kLearnt = BadRanges::Origin::kLearnt;

TEST(BadRanges, StartsEmptyAndFindsNothing) {
  BadRanges b;
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.first_bad(0, UINT32_MAX));
  EXPECT_FALSE(b.write_error_at(0, 4096));
  EXPECT_FALSE(b.plan_write(0, 4096).partial);
  EXPECT_TRUE(b.plan_write(0, 4096).covered.empty());
}

TEST(BadRanges, KeepsRangesAsReportedWithoutMerging) {
  BadRanges b;
  b.add(4096, 4096, kLearnt);
  b.add(8192, 4096, kLearnt);  // adjacent: stays a range of its own
  EXPECT_EQ(b.ranges(), (std::vector<R>{{4096, 8192, kLearnt}, {8192, 12288, kLearnt}}));
}

TEST(BadRanges, AddsOnlyTheBytesNotYetKnown) {
  BadRanges b;
  b.add(1000, 100, kMedium);
  b.add(1200, 100, kMedium);
  b.add(900, 500, kLearnt);  // overlaps both and the gaps around them
  EXPECT_EQ(b.ranges(), (std::vector<R>{{900, 1000, kLearnt},
                                        {1000, 1100, kMedium},
                                        {1100, 1200, kLearnt},
                                        {1200, 1300, kMedium},
                                        {1300, 1400, kLearnt}}));
  b.add(1000, 50, kLearnt);  // already known: nothing new
  EXPECT_EQ(b.ranges().size(), 5u);
}

TEST(BadRanges, FirstBadIsTheFirstBadByteInsideTheQuery) {
  BadRanges b;
  b.add(4096, 512, kMedium);
  b.add(10000, 10, kMedium);
  EXPECT_EQ(b.first_bad(0, 8192), 4096u);
  EXPECT_EQ(b.first_bad(4200, 8192), 4200u);  // starts inside a range
  EXPECT_EQ(b.first_bad(4608, 8192), 10000u);
  EXPECT_FALSE(b.first_bad(0, 4096));  // ends right before
  EXPECT_FALSE(b.first_bad(4608, 10000 - 4608));
  EXPECT_FALSE(b.first_bad(4096, 0));
}

TEST(BadRanges, AWriteCoveringARangeWhollyClearsIt) {
  BadRanges b;
  b.add(4096, 512, kMedium);
  b.add(8192, 4096, kLearnt);
  const auto plan = b.plan_write(4096, 8192);
  EXPECT_FALSE(plan.partial);
  EXPECT_EQ(plan.covered, (std::vector<R>{{4096, 4608, kMedium}, {8192, 12288, kLearnt}}));
}

TEST(BadRanges, AWriteCoveringARangeInPartFailsAtItsFirstBadByte) {
  BadRanges b;
  b.add(4096, 512, kMedium);
  b.add(8192, 4096, kLearnt);
  EXPECT_EQ(b.plan_write(4096, 4096 + 512).partial, 8192u);  // the second only in part
  EXPECT_EQ(b.plan_write(10000, 4096).partial, 10000u);       // its end only
  EXPECT_EQ(b.plan_write(4096 + 100, 100).partial, 4196u);  // inside the first
  EXPECT_EQ(b.plan_write(0, 4096 + 1).partial, 4096u);
}

TEST(BadRanges, AFailedWriteNamesThePartlyCoveredRangeFirst) {
  BadRanges b;
  b.add(4096, 512, kMedium);   // wholly covered by the write below
  b.add(8192, 4096, kLearnt);  // only partly
  EXPECT_EQ(b.write_error_at(0, 10000), 8192u);
  EXPECT_EQ(b.write_error_at(0, 8192), 4096u);  // none partly covered: the first overlapped
  EXPECT_FALSE(b.write_error_at(0, 4096));
}

TEST(BadRanges, ForgetsOnlyRangesWhollyInsideAWrite) {
  BadRanges b;
  b.add(4096, 512, kMedium);
  b.add(8192, 4096, kLearnt);
  b.forget_within(0, 10000);
  EXPECT_EQ(b.ranges(), (std::vector<R>{{8192, 12288, kLearnt}}));
  b.forget_within(8192, 4096);
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.first_bad(0, 1 << 20));
}

}  // namespace
}  // namespace tgt_pmem::bs
