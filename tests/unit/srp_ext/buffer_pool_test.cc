// SPDX-License-Identifier: GPL-2.0-only
// The SRP channel's pool of pre-registered data buffers (srp_ext/src/buffer_pool.h) on the
// fake verbs: one registration, contiguous runs of chunks, first fit, nothing beyond it.
#include "buffer_pool.h"

#include <gtest/gtest.h>

#include "fake_rdma.h"

namespace tgt_pmem::srp {
namespace {

using testing::FakePeer;

class Pool : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool.init(*conn, 4096, 4)); }
  FakePeer peer;
  std::unique_ptr<testing::FakeConnection> conn = peer.connect();
  BufferPool pool;
};

TEST_F(Pool, OneRegistrationForAllItsChunks) {
  EXPECT_EQ(peer.registrations(), 1u);
  EXPECT_EQ(peer.live_regions(), 1u);
  EXPECT_EQ(pool.bytes(), 4u * 4096);
  pool.reset();
  EXPECT_EQ(peer.live_regions(), 0u);
}

TEST_F(Pool, RunsAreContiguousFirstFitAndComeBack) {
  auto a = pool.take(100);        // chunk 0
  const std::uint32_t a_lkey = a.lkey;
  auto b = pool.take(4097);       // chunks 1-2
  auto c = pool.take(4096);       // chunk 3
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(b.data, a.data + 4096);
  EXPECT_EQ(b.count, 2u);
  EXPECT_EQ(c.data, a.data + 3 * 4096);
  EXPECT_FALSE(pool.take(1)) << "all four chunks are lent";
  pool.give(a);
  pool.give(c);
  EXPECT_FALSE(a);
  EXPECT_EQ(pool.chunks_free(), 2u);
  EXPECT_FALSE(pool.take(8192)) << "two chunks free, but not next to each other";
  pool.give(b);
  auto d = pool.take(3 * 4096);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.first, 0u);
  EXPECT_EQ(d.lkey, a_lkey);  // one registration: one lkey
  pool.give(d);
  EXPECT_EQ(pool.chunks_free(), 4u);
}

TEST_F(Pool, NothingLargerThanThePoolAndNothingEmpty) {
  EXPECT_FALSE(pool.take(4 * 4096 + 1));
  EXPECT_FALSE(pool.take(0));
  EXPECT_EQ(pool.chunks_free(), 4u);
}

TEST(PoolInit, RefusesBadSizesAndReportsAFailedRegistration) {
  FakePeer peer;
  auto conn = peer.connect();
  BufferPool pool;
  EXPECT_FALSE(pool.init(*conn, 1000, 4));
  EXPECT_FALSE(pool.init(*conn, 4096, 0));
  peer.fail_next_registration(std::make_error_code(std::errc::not_enough_memory));
  auto r = pool.init(*conn, 4096, 4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::not_enough_memory);
  EXPECT_EQ(pool.bytes(), 0u);
  EXPECT_FALSE(pool.take(1));
}

}  // namespace
}  // namespace tgt_pmem::srp
