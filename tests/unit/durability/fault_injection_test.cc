// SPDX-License-Identifier: GPL-2.0-only
// Fault injection at every durability call: a scripted workload is run once per flush, drain,
// msync, fdatasync and flushing copy it makes, with that one call failing (EIO), and each run
// is explored for crashes as in explorer_test.cc. Promises checked: no GOOD for a durability
// claim after the failure (the latch, flush/latching.h), every block holds one of its own
// versions (never another LBA's data), and on the atomic layout every block is whole and the
// layout is consistent after recovery, writes after recovery included.
// Bugs these catch: retrying a failed flush and trusting the retry (Linux reports a writeback
// error once); the atomic layout's lane reused after a failed commit with its free list
// pointing at a block that is now mapped (the failed LBA then returns another LBA's data);
// recovery that ignores a failed flush.
#include <gtest/gtest.h>

#include <cstdio>

#include "explorer.h"

namespace tgt_pmem::crash {
namespace {

using flush::Method;

struct Case {
  const char* name;
  LayoutKind layout;
  Method method;
  bool start_cached;
  unsigned ops;
  unsigned stride;  // fail every stride-th call (1: every one)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// The sanitizer build (ASan+UBSan, scripts/test.sh) runs these about twelve times slower: the
// two atomic cases took 110 s each there, a third of that build's unit tests. It fails every
// third call: the same code paths for memory errors to show in; every call is failed in the
// plain builds (RelWithDebInfo and Release), whose runs are the durability check.
#if defined(__SANITIZE_ADDRESS__)
constexpr unsigned kSanitizerStride = 3;
#else
constexpr unsigned kSanitizerStride = 1;
#endif

class FaultInjection : public ::testing::TestWithParam<Case> {};

TEST_P(FaultInjection, EveryFailingCallBreaksNoPromise) {
  const Case& c = GetParam();
  WorkloadOptions w;
  w.layout = c.layout;
  w.threads = 1;
  w.ops_per_thread = c.ops;
  w.start_cached = c.start_cached;
  w.read_modify_write = true;  // the model stops using them after a failed write
  w.seed = 77 + static_cast<unsigned>(c.method);
  w.region_blocks = c.layout == LayoutKind::kAtomic ? 400 : 256;
  ExploreOptions e;
  e.method = c.method;
  e.medium_size = c.layout == LayoutKind::kAtomic ? (5u << 19) : (1u << 20);
  e.seed = w.seed;
  e.max_points = 40;  // per faulty run: the run, its end, and a sample of crashes
  e.random_images = 1;
  const ExploreResult dry = explore(w, e);
  ASSERT_TRUE(dry.failures.empty()) << dry.failures.front();
  ASSERT_GT(dry.calls, 10u);
  std::size_t runs = 0, images = 0, failed_commands = 0;
  for (std::uint64_t k = 0; k < dry.calls; k += c.stride * kSanitizerStride) {
    e.fail_call = k;
    e.seed = w.seed * 1000 + k;
    const ExploreResult r = explore(w, e);
    ++runs;
    images += r.images;
    failed_commands += r.failed;
    ASSERT_NE(r.fault_event, SIZE_MAX) << "call " << k << " was not made";
    for (const auto& v : r.latch_violations) ADD_FAILURE() << "call " << k << " failed: " << v;
    for (const auto& f : r.failures) ADD_FAILURE() << "call " << k << " failed: " << f;
    ASSERT_EQ(r.failed_images, 0u) << "call " << k;
    ASSERT_TRUE(r.latch_violations.empty()) << "call " << k;
  }
  std::printf("[ faults   ] %s: %zu runs, one call of %llu failing in each, %zu crash images, "
              "%zu commands failed\n",
              c.name, runs, static_cast<unsigned long long>(dry.calls), images, failed_commands);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, FaultInjection,
    ::testing::Values(Case{"RawWriteThroughMsync", LayoutKind::kRaw, Method::kMsync, false, 40, 1},
                      Case{"RawWriteCacheMsync", LayoutKind::kRaw, Method::kMsync, true, 40, 1},
                      Case{"RawWriteCacheCacheFlush", LayoutKind::kRaw, Method::kCacheFlush,
                           true, 40, 1},
                      Case{"AtomicCacheFlush", LayoutKind::kAtomic, Method::kCacheFlush, false,
                           16, 1},
                      Case{"AtomicMsync", LayoutKind::kAtomic, Method::kMsync, false, 16, 1}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tgt_pmem::crash
