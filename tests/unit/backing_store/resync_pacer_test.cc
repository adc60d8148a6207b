// SPDX-License-Identifier: GPL-2.0-only
// The resync's rate limit (mirror/resync_pacer.h) on a clock the test moves.
// Bugs these catch: a limit that lets more through than rate x time (plus one second's burst
// and one copy), one that never lets anything through again after a debt, a burst that grows
// with idle time (an hour idle, then an hour's worth at once), and 0 not meaning "no limit".
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

#include "mirror/resync_pacer.h"

namespace tgt_pmem::bs::mirror {
namespace {

using namespace std::chrono_literals;

class ResyncPacerTest : public ::testing::Test {
 protected:
  ResyncPacer::Clock::time_point now_{std::chrono::hours(1)};
  ResyncPacer::Now clock() {
    return [this] { return now_; };
  }
  // Bytes let through in pieces of `piece` until refused.
  std::uint64_t drain(ResyncPacer& p, std::uint64_t piece) {
    std::uint64_t n = 0;
    while (p.take(piece)) n += piece;
    return n;
  }
};

TEST_F(ResyncPacerTest, ZeroIsNoLimit) {
  ResyncPacer p(0, clock());
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(p.take(1 << 20));
}

TEST_F(ResyncPacerTest, LetsThroughTheRateOverTime) {
  const std::uint64_t rate = 10 << 20, piece = 1 << 20;
  ResyncPacer p(rate, clock());
  std::uint64_t total = drain(p, piece);
  EXPECT_EQ(total, rate) << "a new resync starts with one second's worth";
  for (int ms = 0; ms < 60000; ms += 100) {
    now_ += 100ms;
    total += drain(p, piece);
  }
  // 60 s at 10 MiB/s, plus the first second's burst.
  EXPECT_LE(total, 61 * rate + piece);
  EXPECT_GE(total, 61 * rate - piece);
}

TEST_F(ResyncPacerTest, APieceLargerThanTheRateIsPaidBackBeforeTheNext) {
  ResyncPacer p(1 << 20, clock());  // 1 MiB/s, pieces of 4 MiB
  EXPECT_TRUE(p.take(4 << 20));
  EXPECT_FALSE(p.take(4 << 20));
  now_ += 2s;
  EXPECT_FALSE(p.take(4 << 20)) << "2 MiB of debt left";
  now_ += 1s + 1ms;
  EXPECT_TRUE(p.take(4 << 20)) << "paid back: it must not wait forever";
}

TEST_F(ResyncPacerTest, IdleTimeBuysAtMostOneSecondsBurst) {
  const std::uint64_t rate = 8 << 20, piece = 1 << 20;
  ResyncPacer p(rate, clock());
  drain(p, piece);
  now_ += 1h;
  EXPECT_LE(drain(p, piece), rate);
}

TEST_F(ResyncPacerTest, AClockStandingStillOrGoingBackGivesNothing) {
  ResyncPacer p(1 << 20, clock());
  drain(p, 4096);
  EXPECT_FALSE(p.take(4096));
  now_ -= 10s;
  EXPECT_FALSE(p.take(4096));
  now_ += 10s;
  EXPECT_FALSE(p.take(4096));
}

TEST_F(ResyncPacerTest, ResetRefillsForANewResync) {
  ResyncPacer p(1 << 20, clock());
  drain(p, 4096);
  p.reset();
  EXPECT_TRUE(p.take(4096));
}

}  // namespace
}  // namespace tgt_pmem::bs::mirror
