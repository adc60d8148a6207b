// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tgt_pmem/load/workload.h"

namespace tgt_pmem::load {
namespace {

WorkloadSpec spec(std::uint64_t units, unsigned read_percent, AccessPattern access) {
  WorkloadSpec s;
  s.first_lba = 1000;
  s.units = units;
  s.blocks_per_unit = 8;
  s.read_percent = read_percent;
  s.access = access;
  s.seed = 12345;
  return s;
}

TEST(WorkloadGenerator, SequentialWalksTheRegionAndWraps) {
  WorkloadGenerator g(spec(4, 100, AccessPattern::kSequential));
  std::vector<std::uint64_t> lbas;
  for (int i = 0; i < 6; ++i) {
    auto r = g.next({});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->blocks, 8u);
    EXPECT_EQ(r->lba, 1000 + r->unit * 8);
    lbas.push_back(r->lba);
  }
  EXPECT_EQ(lbas, (std::vector<std::uint64_t>{1000, 1008, 1016, 1024, 1000, 1008}));
}

TEST(WorkloadGenerator, RandomStaysInsideTheRegionAndCoversIt) {
  WorkloadGenerator g(spec(50, 50, AccessPattern::kRandom));
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 5000; ++i) {
    auto r = g.next({});
    ASSERT_TRUE(r.has_value());
    ASSERT_LT(r->unit, 50u);
    ASSERT_EQ(r->lba, 1000 + r->unit * 8);
    seen.insert(r->unit);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(WorkloadGenerator, SameSeedSameSequence) {
  WorkloadGenerator a(spec(1 << 20, 30, AccessPattern::kRandom));
  WorkloadGenerator b(spec(1 << 20, 30, AccessPattern::kRandom));
  for (int i = 0; i < 1000; ++i) {
    auto x = a.next({});
    auto y = b.next({});
    ASSERT_EQ(x->lba, y->lba);
    ASSERT_EQ(x->kind, y->kind);
  }
}

TEST(WorkloadGenerator, ReadWriteMixFollowsThePercentage) {
  for (unsigned pct : {0u, 30u, 70u, 100u}) {
    WorkloadGenerator g(spec(1000, pct, AccessPattern::kRandom));
    int reads = 0;
    constexpr int kN = 100000;
    for (int i = 0; i < kN; ++i) reads += g.next({})->kind == IoKind::kRead;
    if (pct == 0 || pct == 100) {
      EXPECT_EQ(reads, static_cast<int>(pct) * kN / 100);
    } else {
      EXPECT_NEAR(reads, static_cast<int>(pct) * kN / 100, kN / 100) << pct;  // within 1 %
    }
  }
}

TEST(WorkloadGenerator, RandomAvoidsBusyUnits) {
  WorkloadGenerator g(spec(8, 50, AccessPattern::kRandom));
  const std::vector<std::uint64_t> busy = {0, 1, 2, 3, 4, 5};
  for (int i = 0; i < 1000; ++i) {
    auto r = g.next(busy);
    if (!r) continue;  // allowed: every draw may hit a busy unit
    ASSERT_GE(r->unit, 6u);
  }
}

TEST(WorkloadGenerator, GivesNothingWhenEveryUnitIsBusy) {
  WorkloadGenerator random(spec(3, 50, AccessPattern::kRandom));
  WorkloadGenerator seq(spec(3, 50, AccessPattern::kSequential));
  const std::vector<std::uint64_t> busy = {2, 0, 1};
  EXPECT_FALSE(random.next(busy).has_value());
  EXPECT_FALSE(seq.next(busy).has_value());
}

TEST(WorkloadGenerator, SequentialWaitsForABusyNextUnit) {
  WorkloadGenerator g(spec(4, 100, AccessPattern::kSequential));
  ASSERT_EQ(g.next({})->unit, 0u);
  const std::vector<std::uint64_t> busy = {1};
  EXPECT_FALSE(g.next(busy).has_value());
  EXPECT_EQ(g.next({})->unit, 1u);  // it did not skip unit 1
}

TEST(SplitMix64, BelowStaysBelowTheBound) {
  SplitMix64 r(1);
  for (std::uint64_t bound : {1ull, 2ull, 3ull, 100ull, 1ull << 40}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(r.below(bound), bound);
  }
}

}  // namespace
}  // namespace tgt_pmem::load
