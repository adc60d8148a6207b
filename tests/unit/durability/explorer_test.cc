// SPDX-License-Identifier: GPL-2.0-only
// The crash-state explorer (tests/crash/explorer.h) over the production code path: the real
// command executor, layouts, MediaAccess and libpmem2's flusher for each method, recorded;
// every persist point and random other points crashed; every image recovered and checked.
// Bugs these catch (each shown by the mutation check, tests/mutation/): a missing data
// flush or drain, ranges marked clean before they are flushed (concurrent syncs), a FUA
// write completed before its sync, no flush when the write cache is turned off, and in the
// atomic layout map and free-list entries stored before the commit point, a recovery that
// ignores the log checksum, redoes an entry over a newer mapping, or leaves the free list
// pointing at a mapped block.
#include "explorer.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace tgt_pmem::crash {
namespace {

using flush::Method;

struct Case {
  const char* name;
  LayoutKind layout;
  Method method;
  unsigned threads;
  bool start_cached;
  unsigned ops;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class CrashExplorer : public ::testing::TestWithParam<Case> {};

TEST_P(CrashExplorer, EveryAcknowledgedWriteSurvivesEveryCrash) {
  const Case& c = GetParam();
  WorkloadOptions w;
  w.layout = c.layout;
  w.threads = c.threads;
  w.ops_per_thread = c.ops;
  w.start_cached = c.start_cached;
  w.seed = 1000 + c.threads * 10 + static_cast<unsigned>(c.method);
  w.region_blocks = c.layout == LayoutKind::kAtomic ? 400 : 256;
  ExploreOptions e;
  e.method = c.method;
  e.medium_size = c.layout == LayoutKind::kAtomic ? (5u << 19) : (1u << 20);
  e.seed = w.seed;
  if (c.threads > 1) {
    e.jitter_percent = 20;  // widen the windows between threads' flushes and fences
    e.jitter_max_us = 200;
  }
  const ExploreResult r = explore(w, e);
  std::printf("[ explorer ] %s\n", summary(w, e, r).c_str());
  for (const auto& err : r.errors) ADD_FAILURE() << err;
  for (const auto& f : r.failures) ADD_FAILURE() << f;
  EXPECT_EQ(r.failed_images, 0u);
  EXPECT_EQ(r.failed, 0u) << "without faults, every command completes as expected";
  EXPECT_GT(r.images, 100u);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, CrashExplorer,
    ::testing::Values(
        Case{"RawWriteThroughCacheFlush", LayoutKind::kRaw, Method::kCacheFlush, 1, false, 150},
        Case{"RawWriteCacheCacheFlush", LayoutKind::kRaw, Method::kCacheFlush, 1, true, 150},
        Case{"RawThreadsCacheFlush", LayoutKind::kRaw, Method::kCacheFlush, 4, true, 80},
        Case{"RawWriteCacheMsync", LayoutKind::kRaw, Method::kMsync, 1, true, 150},
        Case{"RawThreadsMsync", LayoutKind::kRaw, Method::kMsync, 3, true, 80},
        Case{"RawThreadsFenceOnly", LayoutKind::kRaw, Method::kFenceOnly, 3, true, 80},
        Case{"AtomicCacheFlush", LayoutKind::kAtomic, Method::kCacheFlush, 1, false, 120},
        Case{"AtomicThreadsCacheFlush", LayoutKind::kAtomic, Method::kCacheFlush, 4, false, 60},
        Case{"AtomicThreadsMsync", LayoutKind::kAtomic, Method::kMsync, 3, false, 60}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tgt_pmem::crash
