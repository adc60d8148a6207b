// SPDX-License-Identifier: GPL-2.0-only
// The mirror's in-flight extent table (extent_table.h). Bugs it catches: two overlapping
// ranges admitted together; a waiting range overtaken by a later overlapping one (order lost,
// or a write that waits for ever); ranges that merely touch treated as overlapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "mirror/extent_table.h"

namespace tgt_pmem::bs::mirror {
namespace {

TEST(ExtentTable, OverlapsWaitTouchingRangesDoNot) {
  ExtentTable t;
  EXPECT_TRUE(t.admit(1, 0, 100));
  EXPECT_TRUE(t.admit(2, 100, 100)) << "touching, not overlapping";
  EXPECT_FALSE(t.admit(3, 99, 2));
  EXPECT_FALSE(t.admit(4, 150, 10)) << "overlaps 2";
  EXPECT_TRUE(t.admit(5, 1000, 1));
  EXPECT_EQ(t.admitted(), 3u);
  EXPECT_EQ(t.waiting(), 2u);
  EXPECT_TRUE(t.release(1).empty()) << "3 still overlaps 2";
  EXPECT_EQ(t.release(2), (std::vector<ExtentTable::Ticket>{3, 4}));
  EXPECT_TRUE(t.release(99).empty());
}

TEST(ExtentTable, AWaitingRangeIsNotOvertakenByALaterOverlappingOne) {
  ExtentTable t;
  ASSERT_TRUE(t.admit(1, 0, 10));
  ASSERT_FALSE(t.admit(2, 5, 10));   // waits for 1
  EXPECT_FALSE(t.admit(3, 12, 10)) << "overlaps only the waiting 2: behind it";
  EXPECT_EQ(t.release(1), std::vector<ExtentTable::Ticket>{2});
  EXPECT_EQ(t.release(2), std::vector<ExtentTable::Ticket>{3});
}

// As a property: at no time do two admitted ranges overlap, and every range is admitted
// eventually, after every earlier range it overlaps.
TEST(ExtentTable, RandomRangesNeverOverlapAndAllGetThrough) {
  std::mt19937_64 rng(5);
  ExtentTable t;
  struct R { std::uint64_t off, end; };
  std::map<ExtentTable::Ticket, R> all, admitted;
  std::vector<ExtentTable::Ticket> order;  // admission order
  auto admit_now = [&](ExtentTable::Ticket k) {
    for (const auto& [o, r] : admitted)
      ASSERT_FALSE(r.off < all[k].end && all[k].off < r.end) << k << " overlaps " << o;
    for (const auto& [o, r] : all) {  // every earlier overlapping range went first
      if (o < k && r.off < all[k].end && all[k].off < r.end) {
        ASSERT_NE(std::find(order.begin(), order.end(), o), order.end()) << k << " before " << o;
      }
    }
    admitted[k] = all[k];
    order.push_back(k);
  };
  ExtentTable::Ticket next = 1;
  for (int i = 0; i < 5000; ++i) {
    if (rng() % 2) {
      const std::uint64_t off = rng() % 1000;
      all[next] = {off, off + 1 + rng() % 50};
      if (t.admit(next, off, all[next].end - off)) admit_now(next);
      ++next;
    } else if (!admitted.empty()) {
      auto it = admitted.begin();
      std::advance(it, static_cast<long>(rng() % admitted.size()));
      const auto k = it->first;
      admitted.erase(it);
      for (auto n : t.release(k)) admit_now(n);
    }
  }
  while (!admitted.empty()) {
    const auto k = admitted.begin()->first;
    admitted.erase(admitted.begin());
    for (auto n : t.release(k)) admit_now(n);
  }
  EXPECT_EQ(t.waiting(), 0u);
  EXPECT_EQ(order.size(), all.size());
}

}  // namespace
}  // namespace tgt_pmem::bs::mirror
