// SPDX-License-Identifier: GPL-2.0-only
// The crash model itself (tests/crash/crash_states.h): an explorer whose model were too kind
// (a store durable before its fence, a failed msync retried successfully) would pass a broken
// engine, so the model's own rules are pinned down here, each on a hand-made trace.
#include "crash_states.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

namespace tgt_pmem::crash {
namespace {

using flush::Method;

class Model : public ::testing::Test {
 protected:
  // Events are appended as the engine would make them, through a TraceFlusher on mem_.
  Model() : mem_(4096 * 4) {}
  TraceFlusher& flusher(Method m) {
    f_ = std::make_unique<TraceFlusher>(std::span(mem_), m);
    return *f_;
  }
  std::uint64_t word(const std::vector<std::byte>& img, std::size_t off) {
    std::uint64_t v;
    std::memcpy(&v, img.data() + off, 8);
    return v;
  }
  // Every value the word at off takes over many random images.
  std::set<std::uint64_t> seen(CrashStates& s, std::size_t off) {
    std::set<std::uint64_t> vals;
    std::mt19937_64 rng(1);
    for (int i = 0; i < 200; ++i) vals.insert(word(s.image_random(rng), off));
    return vals;
  }
  std::vector<std::byte> mem_;
  std::unique_ptr<TraceFlusher> f_;
};

TEST_F(Model, AStoreIsNotDurableBeforeItsFlushAndFenceButMayBeSeen) {
  auto& f = flusher(Method::kCacheFlush);
  std::uint64_t v = 7;
  f.copy(mem_.data() + 64, &v, 8);
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 64), 0u);
  EXPECT_EQ(word(s.image_latest(), 64), 7u);
  EXPECT_EQ(seen(s, 64), (std::set<std::uint64_t>{0, 7}));  // an eviction may persist it
}

TEST_F(Model, FlushWithoutFenceIsNotDurableAndFenceOfAnotherThreadDoesNotHelp) {
  auto& f = flusher(Method::kCacheFlush);
  std::uint64_t v = 9;
  f.copy(mem_.data(), &v, 8);
  ASSERT_TRUE(f.flush(mem_.data(), 8));
  std::thread([&] { ASSERT_TRUE(f.drain()); }).join();  // another thread's SFENCE
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 0), 0u);
  ASSERT_TRUE(f.drain());  // this thread's
  const Trace t2 = f.trace();
  CrashStates s2(t2, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s2.advance_to(t2.events.size());
  EXPECT_EQ(word(s2.image_durable(), 0), 9u);
  EXPECT_EQ(s2.uncertain_words(), 0u);
}

TEST_F(Model, ANonTemporalStoreIsDurableAtItsThreadsFence) {
  auto& f = flusher(Method::kCacheFlush);
  std::uint64_t v = 5;
  ASSERT_TRUE(f.copy_and_flush(mem_.data() + 8, &v, 8));
  const std::size_t before_fence = f.events();
  ASSERT_TRUE(f.drain());
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s.advance_to(before_fence);
  EXPECT_EQ(word(s.image_durable(), 8), 0u);
  EXPECT_EQ(seen(s, 8), (std::set<std::uint64_t>{0, 5}));
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 8), 5u);
}

TEST_F(Model, AStoreAfterTheFlushStaysUncertain) {
  auto& f = flusher(Method::kCacheFlush);
  std::uint64_t a = 1, b = 2;
  f.copy(mem_.data(), &a, 8);
  ASSERT_TRUE(f.flush(mem_.data(), 8));
  f.copy(mem_.data(), &b, 8);
  ASSERT_TRUE(f.drain());
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 0), 1u);  // the flush wrote back a = 1
  EXPECT_EQ(seen(s, 0), (std::set<std::uint64_t>{1, 2}));
}

TEST_F(Model, EveryIntermediateValueOfAWordMayBeWhatSurvives) {
  auto& f = flusher(Method::kCacheFlush);
  for (std::uint64_t v : {11u, 12u, 13u}) f.copy(mem_.data(), &v, 8);
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kCacheFlush);
  s.advance_to(t.events.size());
  EXPECT_EQ(seen(s, 0), (std::set<std::uint64_t>{0, 11, 12, 13}));
}

TEST_F(Model, MsyncIsDurableWhenItReturnsForItsWholePages) {
  auto& f = flusher(Method::kMsync);
  std::uint64_t v = 3;
  f.copy(mem_.data() + 4096 + 100 * 8, &v, 8);
  f.copy(mem_.data() + 2 * 4096, &v, 8);        // another page
  ASSERT_TRUE(f.flush(mem_.data() + 4096, 8));  // msync of the first page only
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kMsync);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 4096 + 800), 3u);
  EXPECT_EQ(word(s.image_durable(), 2 * 4096), 0u);
}

// Bug it catches in an engine: retrying a failed msync and trusting its success. Linux marks
// the failed pages clean, so the second msync writes nothing.
TEST_F(Model, AFailedMsyncIsNotMadeGoodByASecondOne) {
  auto& f = flusher(Method::kMsync);
  std::uint64_t v = 4;
  f.copy(mem_.data(), &v, 8);
  f.fail_call(0);
  ASSERT_FALSE(f.flush(mem_.data(), 8));
  ASSERT_TRUE(f.flush(mem_.data(), 8));
  ASSERT_TRUE(f.sync_file());
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kMsync);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 0), 0u);
  EXPECT_EQ(seen(s, 0), (std::set<std::uint64_t>{0, 4}));  // it may or may not have landed
  // A fresh store to the page makes it dirty again: then it is written.
  f.copy(mem_.data(), &v, 8);
  ASSERT_TRUE(f.flush(mem_.data(), 8));
  const Trace t2 = f.trace();
  CrashStates s2(t2, std::vector<std::byte>(mem_.size()), Method::kMsync);
  s2.advance_to(t2.events.size());
  EXPECT_EQ(word(s2.image_durable(), 0), 4u);
}

TEST_F(Model, FdatasyncWritesEveryDirtyPage) {
  auto& f = flusher(Method::kMsync);
  std::uint64_t v = 6;
  f.copy(mem_.data() + 8, &v, 8);
  f.copy(mem_.data() + 3 * 4096, &v, 8);
  ASSERT_TRUE(f.sync_file());
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kMsync);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 8), 6u);
  EXPECT_EQ(word(s.image_durable(), 3 * 4096), 6u);
}

TEST_F(Model, FenceOnlyMakesStoresDurableAtTheFence) {
  auto& f = flusher(Method::kFenceOnly);
  std::uint64_t v = 8;
  f.copy(mem_.data(), &v, 8);
  const std::size_t before = f.events();
  ASSERT_TRUE(f.drain());
  const Trace t = f.trace();
  CrashStates s(t, std::vector<std::byte>(mem_.size()), Method::kFenceOnly);
  s.advance_to(before);
  EXPECT_EQ(word(s.image_durable(), 0), 0u);
  s.advance_to(t.events.size());
  EXPECT_EQ(word(s.image_durable(), 0), 8u);
}

}  // namespace
}  // namespace tgt_pmem::crash
