// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/power_cut.h"

#include <gtest/gtest.h>

#include <vector>

namespace tgt_pmem::flush {
namespace {

struct Images {
  std::vector<std::byte> vol = std::vector<std::byte>(4096);
  std::vector<std::byte> dur = std::vector<std::byte>(4096);
};

TEST(PowerCutFlusher, UnflushedStoresAreLost) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  im.vol[10] = std::byte{0xaa};
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(im.dur[10], std::byte{0});
}

TEST(PowerCutFlusher, FlushedButNotDrainedStoresAreLost) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  im.vol[10] = std::byte{0xaa};
  ASSERT_TRUE(f.flush(&im.vol[10], 1));
  EXPECT_EQ(im.dur[10], std::byte{0});
}

TEST(PowerCutFlusher, FlushedAndDrainedStoresSurvive) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  im.vol[10] = std::byte{0xaa};
  ASSERT_TRUE(f.persist(&im.vol[10], 1));
  EXPECT_EQ(im.dur[10], std::byte{0xaa});
  EXPECT_EQ(f.persist_points(), 1u);
}

TEST(PowerCutFlusher, ContentIsTakenAtFlushTime) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  im.vol[0] = std::byte{1};
  ASSERT_TRUE(f.flush(im.vol.data(), 1));
  im.vol[0] = std::byte{2};  // stored after the flush, never flushed itself
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(im.dur[0], std::byte{1});
}

TEST(PowerCutFlusher, NothingReachesTheImageAfterTheCrashPoint) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  f.crash_after(1);
  im.vol[0] = std::byte{1};
  ASSERT_TRUE(f.persist(im.vol.data(), 1));
  EXPECT_TRUE(f.crashed());
  im.vol[1] = std::byte{2};
  ASSERT_TRUE(f.persist(&im.vol[1], 1));
  EXPECT_EQ(im.dur[0], std::byte{1});
  EXPECT_EQ(im.dur[1], std::byte{0});
}

TEST(PowerCutFlusher, RefusesRangesOutsideTheRegion) {
  Images im;
  PowerCutFlusher f(im.vol, im.dur);
  EXPECT_FALSE(f.flush(im.vol.data() + 4000, 200));
  std::byte other[8];
  EXPECT_FALSE(f.flush(other, sizeof other));
}

}  // namespace
}  // namespace tgt_pmem::flush
