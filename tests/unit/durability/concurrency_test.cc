// SPDX-License-Identifier: GPL-2.0-only
// Concurrent syncs on one LUN (exec=threads), made deterministic with a flusher that holds the
// first sync inside its flush until the test lets it go.
// Bug these catch (issue 13, defect 1): a sync took the dirty set before its flush was done,
// so a second thread's SYNCHRONIZE CACHE, or FUA or write-through write, found the set empty,
// drained and answered GOOD while the first thread was still flushing the data it covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "atomic_layout.h"
#include "cdb.h"
#include "cdb_builders.h"
#include "lun.h"
#include "memory_medium.h"
#include "scsi_codes.h"
#include "scsi_exec.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::crash {
namespace {

using namespace bs::scsi;
using namespace std::chrono_literals;

// After arm(), the first flush() waits, once inside, until open() is called.
class GateFlusher final : public flush::Flusher {
 public:
  flush::Method method() const noexcept override { return flush::Method::kCacheFlush; }
  flush::Status flush(const void* a, std::size_t n) noexcept override {
    {
      std::unique_lock lock(mu_);
      if (armed_ && !used_) {
        used_ = true;
        inside_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
        flushed_ = true;
      }
    }
    return rec_.flush(a, n);
  }
  flush::Status drain() noexcept override { return rec_.drain(); }
  flush::Status sync_file() noexcept override { return {}; }

  void arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  void wait_inside() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return inside_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool held_flush_done() {
    std::lock_guard lock(mu_);
    return flushed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, used_ = false, inside_ = false, open_ = false, flushed_ = false;
  flush::RecordingFlusher rec_;
};

using testing::cdb16;

class ConcurrentSync : public ::testing::Test {
 protected:
  ConcurrentSync() : mem_(1 << 20) {
    lun_ = std::make_unique<bs::Lun>(std::make_unique<testing::MemoryMedium>(mem_, f_), 512);
    EXPECT_TRUE(lun_->set_write_cache(true));
    const std::vector<std::byte> data(8 * 512, std::byte{0x42});
    EXPECT_TRUE(bs::execute(*lun_, {cdb16(op::kWrite16, 100, 8), data, {}}).good());
    f_.arm();
  }

  // Thread A syncs and is held inside its flush of the cached write; `second` runs on thread
  // B meanwhile and must not complete before A's flush is done.
  void expect_waits_for_the_first(std::function<bool()> second) {
    std::thread a([&] { EXPECT_TRUE(lun_->sync()); });
    f_.wait_inside();
    std::atomic<bool> b_done{false};
    bool b_good = false;
    bool flush_done_when_b_returned = false;
    std::thread b([&] {
      b_good = second();
      flush_done_when_b_returned = f_.held_flush_done();
      b_done = true;
    });
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(b_done) << "it completed while another thread was still flushing";
    f_.open();
    a.join();
    b.join();
    EXPECT_TRUE(b_good);
    EXPECT_TRUE(flush_done_when_b_returned);
  }

  std::vector<std::byte> mem_;
  GateFlusher f_;
  std::unique_ptr<bs::Lun> lun_;
};

TEST_F(ConcurrentSync, SynchronizeCacheWaitsForASyncThatIsStillFlushing) {
  expect_waits_for_the_first(
      [&] { return bs::execute(*lun_, {cdb16(op::kSyncCache16, 0, 0), {}, {}}).good(); });
}

TEST_F(ConcurrentSync, AFuaWriteWaitsForASyncThatIsStillFlushing) {
  expect_waits_for_the_first([&] {
    const std::vector<std::byte> data(512, std::byte{7});
    return bs::execute(*lun_, {cdb16(op::kWrite16, 900, 1, 0x08), data, {}}).good();
  });
}

TEST_F(ConcurrentSync, TurningTheCacheOffWaitsForASyncThatIsStillFlushing) {
  expect_waits_for_the_first([&] { return lun_->set_write_cache(false).has_value(); });
}

// Defect 3: an initiator that clears WCE stops sending SYNCHRONIZE CACHE; what the cache held
// must be durable when its MODE SELECT completes.
TEST(WriteCacheOff, MakesWhatTheCacheHeldDurableBeforeItReturns) {
  std::vector<std::byte> mem(1 << 20);
  flush::RecordingFlusher f;
  bs::Lun lun(std::make_unique<testing::MemoryMedium>(mem, f), 512);
  ASSERT_TRUE(lun.set_write_cache(true));
  const std::vector<std::byte> data(4 * 512, std::byte{9});
  ASSERT_TRUE(bs::execute(lun, {cdb16(op::kWrite16, 10, 4), data, {}}).good());
  ASSERT_TRUE(bs::execute(lun, {cdb16(op::kWrite16, 700, 4), data, {}}).good());
  EXPECT_FALSE(f.durable_before(mem.data() + 10 * 512, 4 * 512, f.mark("cached")));
  ASSERT_TRUE(lun.set_write_cache(false));
  const auto done = f.mark("MODE SELECT completed");
  EXPECT_TRUE(f.durable_before(mem.data() + 10 * 512, 4 * 512, done));
  EXPECT_TRUE(f.durable_before(mem.data() + 700 * 512, 4 * 512, done));
  EXPECT_FALSE(lun.write_cache());
}

// Atomic layout, a Data-Out shorter than its last block (defect 7): the layout reads the block,
// merges the new bytes and commits a whole new block. A write of that block committed between
// the read and the commit must not be lost. Thread A's merge is held inside its data flush
// while thread B rewrites the block whole.
TEST(AtomicPartialBlock, AConcurrentWriteOfTheBlockIsNotLost) {
  std::vector<std::byte> mem(5u << 19);
  GateFlusher f;
  auto m = std::make_unique<testing::MemoryMedium>(mem, f);
  auto l = bs::AtomicLayout::open(*m, 512);
  ASSERT_TRUE(l) << l.error();
  bs::Lun lun(std::move(m), std::move(*l), 512);
  f.arm();
  const std::vector<std::byte> head(256, std::byte{0xaa});  // A: the first half of block 5
  const std::vector<std::byte> whole(512, std::byte{0xbb});  // B: all of block 5
  std::thread a([&] {
    EXPECT_TRUE(bs::execute(lun, {cdb16(op::kWrite16, 5, 1), head, {}}).good());
  });
  f.wait_inside();
  EXPECT_TRUE(bs::execute(lun, {cdb16(op::kWrite16, 5, 1), whole, {}}).good());
  f.open();
  a.join();
  std::vector<std::byte> back(512);
  ASSERT_TRUE(bs::execute(lun, {cdb16(op::kRead16, 5, 1), {}, back}).good());
  EXPECT_EQ(std::count(back.begin(), back.begin() + 256, std::byte{0xaa}), 256);
  EXPECT_EQ(std::count(back.begin() + 256, back.end(), std::byte{0xbb}), 256)
      << "the whole-block write that committed meanwhile was lost";
}

}  // namespace
}  // namespace tgt_pmem::crash
