// SPDX-License-Identifier: GPL-2.0-only
// When bs_pmem tunes tgtd's malloc thresholds: always, unless the administrator tuned them or
// asked for glibc's defaults (tgtd_heap.h). What the tuning does to tgtd is counted against
// the real tgtd in tests/integration/large_io_test.sh.
#include "tgtd_heap.h"

#include <gtest/gtest.h>

namespace tgt_pmem::bs {
namespace {

TEST(TgtdHeap, TunedByDefault) {
  EXPECT_TRUE(decide_heap_tuning(nullptr, nullptr, nullptr, nullptr).tune);
  EXPECT_TRUE(decide_heap_tuning("", nullptr, nullptr, nullptr).tune);
  // Tunables of something else are no reason to hold back.
  EXPECT_TRUE(decide_heap_tuning(nullptr, "glibc.malloc.arena_max=2", nullptr, nullptr).tune);
}

TEST(TgtdHeap, TheAdministratorsChoiceWins) {
  const auto off = decide_heap_tuning("default", nullptr, nullptr, nullptr);
  EXPECT_FALSE(off.tune);
  EXPECT_EQ(off.reason, "TGTPMEM_TGTD_HEAP=default");
  EXPECT_FALSE(decide_heap_tuning(nullptr, "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=4096",
                                  nullptr, nullptr).tune);
  EXPECT_FALSE(decide_heap_tuning(nullptr, "glibc.malloc.trim_threshold=0", nullptr, nullptr).tune);
  EXPECT_FALSE(decide_heap_tuning(nullptr, nullptr, "131072", nullptr).tune);
  EXPECT_FALSE(decide_heap_tuning(nullptr, nullptr, nullptr, "131072").tune);
}

}  // namespace
}  // namespace tgt_pmem::bs
