// SPDX-License-Identifier: GPL-2.0-only
// The latch (flush/latching.h). Bug it catches: a flush error that is retried and then
// "succeeds" (Linux reports a writeback error once and marks the pages clean), so that a later
// SYNCHRONIZE CACHE answers GOOD for data that never reached the medium.
#include "tgt_pmem/flush/latching.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace tgt_pmem::flush {
namespace {

// Fails its n-th durability call, as msync(2) does once after a writeback error; counts calls.
class FailsOnce final : public Flusher {
 public:
  explicit FailsOnce(int n, int err = EIO) : n_(n), err_(err) {}
  Method method() const noexcept override { return Method::kMsync; }
  Status flush(const void*, std::size_t) noexcept override { return call(); }
  Status drain() noexcept override { return call(); }
  Status sync_file() noexcept override { return call(); }
  int calls = 0;

 private:
  Status call() noexcept {
    if (calls++ == n_) return std::unexpected(std::error_code(err_, std::generic_category()));
    return {};
  }
  int n_;
  int err_;
};

TEST(LatchingFlusher, PassesCallsThroughUntilOneFails) {
  FailsOnce inner(3);
  LatchingFlusher f(inner);
  char buf[64] = {};
  EXPECT_TRUE(f.flush(buf, 8));
  EXPECT_TRUE(f.drain());
  EXPECT_TRUE(f.sync_file());
  EXPECT_EQ(inner.calls, 3);
  EXPECT_EQ(f.latched(), 0);
  EXPECT_FALSE(f.take_report());
}

TEST(LatchingFlusher, AFailureFailsEveryLaterDurabilityCall) {
  FailsOnce inner(0, ENOSPC);
  LatchingFlusher f(inner);
  char buf[64] = {};
  auto s = f.flush(buf, 8);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().value(), ENOSPC);
  // The inner flusher would now succeed (errseq: reported once); the latch must not ask it.
  for (auto r : {f.drain(), f.sync_file(), f.flush(buf, 8), f.copy_and_flush(buf, "x", 1),
                 f.fill_and_flush(buf, 0, 4)}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value(), ENOSPC);  // the first error, not a later one
  }
  EXPECT_EQ(inner.calls, 1);
  EXPECT_EQ(f.latched(), ENOSPC);
}

TEST(LatchingFlusher, PlainStoresStillHappenAfterTheLatch) {
  FailsOnce inner(0);
  LatchingFlusher f(inner);
  ASSERT_FALSE(f.drain());
  char buf[16] = {};
  f.copy(buf, "abc", 3);
  EXPECT_EQ(std::string(buf, 3), "abc");
  // A latched flushing copy still stores: the command fails, and a failed write may leave
  // new data, as any write into a cache would.
  EXPECT_FALSE(f.copy_and_flush(buf + 4, "def", 3));
  EXPECT_EQ(std::string(buf + 4, 3), "def");
  std::uint64_t w = 0;
  f.store_word(&w, 42);
  EXPECT_EQ(w, 42u);
}

TEST(LatchingFlusher, ReportsTheErrorExactlyOnce) {
  FailsOnce inner(0);
  LatchingFlusher f(inner);
  ASSERT_FALSE(f.drain());
  EXPECT_TRUE(f.take_report());
  EXPECT_FALSE(f.take_report());
  ASSERT_FALSE(f.drain());
  EXPECT_FALSE(f.take_report());
}

}  // namespace
}  // namespace tgt_pmem::flush
