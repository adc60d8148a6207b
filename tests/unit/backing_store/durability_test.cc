// SPDX-License-Identifier: GPL-2.0-only
// The durability contract, checked on the recording flusher: no write completes before its
// range was flushed and drained (write-through); with the write cache on, SYNCHRONIZE CACHE
// and FUA make everything before them durable.
#include <gtest/gtest.h>

#include "dirty_ranges.h"
#include "engine_fixture.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::testing {
namespace {

using namespace bs::scsi;

class Durability : public ::testing::Test {
 protected:
  const void* addr(std::uint64_t lba) { return l_.mem.data() + lba * 512; }
  flush::RecordingFlusher f_;
  MemLun l_{1 << 20, f_};
};

TEST_F(Durability, WriteThroughIsDurableBeforeCompletion) {
  for (std::uint64_t lba : {0u, 7u, 100u, 2040u}) {
    ASSERT_TRUE(l_.write(lba, pattern(8 * 512, static_cast<unsigned>(lba))).good());
    const auto done = f_.mark("completion");
    EXPECT_TRUE(f_.durable_before(addr(lba), 8 * 512, done)) << "lba " << lba;
  }
}

TEST_F(Durability, EveryWritingCommandIsDurableBeforeCompletion) {
  const auto block = pattern(512, 1);
  ASSERT_TRUE(l_.run(cdb16(op::kWriteSame16, 64, 32), block).good());
  EXPECT_TRUE(f_.durable_before(addr(64), 32 * 512, f_.mark("ws")));

  std::vector<std::byte> orw(4 * 512, std::byte{0x11});
  ASSERT_TRUE(l_.run(cdb16(op::kOrWrite16, 200, 4), orw).good());
  EXPECT_TRUE(f_.durable_before(addr(200), 4 * 512, f_.mark("orwrite")));

  ASSERT_TRUE(l_.run(cdb16(op::kWriteVerify16, 300, 2, 0x02), pattern(1024, 2)).good());
  EXPECT_TRUE(f_.durable_before(addr(300), 2 * 512, f_.mark("wv")));

  std::vector<std::byte> caw(2 * 512);
  std::memcpy(caw.data(), addr(400), 512);
  std::memset(caw.data() + 512, 0x5a, 512);
  auto c = cdb16(op::kCompareAndWrite, 400, 0);
  c[13] = 1;
  ASSERT_TRUE(l_.run(c, caw).good());
  EXPECT_TRUE(f_.durable_before(addr(400), 512, f_.mark("caw")));
}

TEST_F(Durability, WriteCacheDefersUntilSynchronizeCache) {
  ASSERT_TRUE(l_.write(10, pattern(4 * 512, 3), /*wce=*/true).good());
  ASSERT_TRUE(l_.write(500, pattern(4 * 512, 4), /*wce=*/true).good());
  const auto cached = f_.mark("cached writes acknowledged");
  EXPECT_FALSE(f_.durable_before(addr(10), 4 * 512, cached));
  ASSERT_TRUE(l_.run(cdb10(op::kSyncCache10, 0, 0), {}, {}, true).good());
  const auto synced = f_.mark("sync cache completion");
  EXPECT_TRUE(f_.durable_before(addr(10), 4 * 512, synced));
  EXPECT_TRUE(f_.durable_before(addr(500), 4 * 512, synced));
}

TEST_F(Durability, FuaMakesEarlierCachedWritesDurableToo) {
  ASSERT_TRUE(l_.write(10, pattern(512, 5), /*wce=*/true).good());
  ASSERT_TRUE(l_.write(900, pattern(512, 6), /*wce=*/true, /*fua=*/true).good());
  const auto done = f_.mark("fua completion");
  EXPECT_TRUE(f_.durable_before(addr(900), 512, done));
  EXPECT_TRUE(f_.durable_before(addr(10), 512, done));
}

TEST_F(Durability, TurningTheCacheOffFlushesWhatItHeld) {
  ASSERT_TRUE(l_.write(10, pattern(512, 7), /*wce=*/true).good());
  ASSERT_TRUE(l_.write(20, pattern(512, 8), /*wce=*/false).good());
  EXPECT_TRUE(f_.durable_before(addr(10), 512, f_.mark("write-through completion")));
}

TEST_F(Durability, ManyScatteredCachedWritesStillAllReachTheMedium) {
  // More ranges than the dirty tracker keeps: it must fall back to flushing everything.
  for (std::uint64_t i = 0; i < bs::DirtyRanges::kMaxRanges + 10; ++i)
    ASSERT_TRUE(l_.write((i * 2) % 2048, pattern(512, static_cast<unsigned>(i)), true).good());
  ASSERT_TRUE(l_.run(cdb16(op::kSyncCache16, 0, 0), {}, {}, true).good());
  EXPECT_TRUE(f_.durable_before(addr(0), 1 << 20, f_.mark("synced")));
}

}  // namespace
}  // namespace tgt_pmem::testing
