// SPDX-License-Identifier: GPL-2.0-only
// SIGBUS-safe access for real: a shared mapping of a memfd that is truncated underneath raises
// SIGBUS on the lost pages, as a truncated backing file or poisoned pmem does. The fault must
// fail the one guarded access, on any thread (also one that blocks every signal, as tgt's
// workers do), any number of times, and leave every other SIGBUS to whoever handled it before.
#include "media_guard.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "engine_fixture.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::testing {
namespace {

using bs::GuardedWalk;
using bs::guarded_walk;

// A MAP_SHARED mapping of a memfd, which the test can shrink and grow underneath.
class ShrinkableMapping {
 public:
  explicit ShrinkableMapping(std::size_t size) : size_(size) {
    fd_ = ::memfd_create("tgtpmem-guard-test", MFD_CLOEXEC);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::ftruncate(fd_, static_cast<off_t>(size)), 0);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<std::byte*>(p);
  }
  ~ShrinkableMapping() {
    ::munmap(base_, size_);
    ::close(fd_);
  }
  std::byte* data() const { return base_; }
  std::span<std::byte> bytes() const { return {base_, size_}; }
  void resize(std::size_t n) const { ASSERT_EQ(::ftruncate(fd_, static_cast<off_t>(n)), 0); }

 private:
  std::size_t size_;
  int fd_ = -1;
  std::byte* base_ = nullptr;
};

// Reads [off, off + len) of m under the guard; counts the chunks.
GuardedWalk guarded_read(const ShrinkableMapping& m, std::size_t off, std::size_t len,
                         std::vector<std::byte>& out, int* chunks = nullptr) {
  out.assign(len, std::byte{0});
  return guarded_walk(m.data() + off, len, [&](std::byte* c, std::size_t n, std::size_t done) {
    std::memcpy(out.data() + done, c, n);
    if (chunks) ++*chunks;
    return true;
  });
}

TEST(MediaGuard, AFaultEndsTheWalkAtTheFirstLostPage) {
  ShrinkableMapping m(64 << 10);
  std::memset(m.data(), 0x5a, 64 << 10);
  m.resize(16 << 10);
  std::vector<std::byte> out;
  int chunks = 0;
  const GuardedWalk w = guarded_read(m, 4096 + 100, 40 << 10, out, &chunks);
  ASSERT_EQ(w.end, GuardedWalk::End::kFault);
  EXPECT_EQ(w.fault_offset, (16u << 10) - 4096 - 100);  // where the lost pages begin
  EXPECT_EQ(w.granule_begin, reinterpret_cast<std::uintptr_t>(m.data() + (16 << 10)));
  EXPECT_EQ(w.granule_end - w.granule_begin, 4096u);
  EXPECT_EQ(chunks, 3);  // the three chunks before the lost pages completed
  EXPECT_EQ(out[w.fault_offset - 1], std::byte{0x5a});
}

TEST(MediaGuard, AWalkThatDoesNotFaultIsDoneOrStopped) {
  ShrinkableMapping m(64 << 10);
  std::vector<std::byte> out;
  int chunks = 0;
  EXPECT_EQ(guarded_read(m, 1, (64 << 10) - 1, out, &chunks).end, GuardedWalk::End::kDone);
  EXPECT_EQ(chunks, 16);  // chunks follow page boundaries, not the start of the walk
  const GuardedWalk w = guarded_walk(m.data(), 64 << 10, [&](std::byte*, std::size_t, std::size_t done) {
    return done < 8192;
  });
  EXPECT_EQ(w.end, GuardedWalk::End::kStopped);
  EXPECT_EQ(guarded_walk(m.data(), 0, [](std::byte*, std::size_t, std::size_t) { return false; }).end,
            GuardedWalk::End::kDone);
}

TEST(MediaGuard, StoresFaultToo) {
  ShrinkableMapping m(64 << 10);
  m.resize(8 << 10);
  const GuardedWalk w = guarded_walk(m.data(), 64 << 10, [](std::byte* c, std::size_t n, std::size_t) {
    std::memset(c, 1, n);
    return true;
  });
  ASSERT_EQ(w.end, GuardedWalk::End::kFault);
  EXPECT_EQ(w.fault_offset, 8u << 10);
}

TEST(MediaGuard, FaultsAgainAndAgainOnOneThread) {
  // SIGBUS must not stay blocked after the handler jumped out of a fault.
  ShrinkableMapping m(16 << 10);
  m.resize(4096);
  std::vector<std::byte> out;
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(guarded_read(m, 0, 16 << 10, out).end, GuardedWalk::End::kFault) << i;
}

TEST(MediaGuard, WorksOnAThreadThatBlocksEverySignal) {
  // tgt's bs_thread workers run with every signal blocked; a fault with SIGBUS blocked would
  // make the kernel kill the process.
  ShrinkableMapping m(16 << 10);
  m.resize(4096);
  GuardedWalk::End end = GuardedWalk::End::kDone;
  std::thread t([&] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<std::byte> out;
    for (int i = 0; i < 10; ++i) end = guarded_read(m, 0, 16 << 10, out).end;
  });
  t.join();
  EXPECT_EQ(end, GuardedWalk::End::kFault);
}

TEST(MediaGuard, ManyThreadsFaultAtOnce) {
  ShrinkableMapping m(64 << 10);
  m.resize(32 << 10);
  std::atomic<int> faults{0}, clean{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::byte> out;
      for (int i = 0; i < 500; ++i) {
        // Odd threads stay in the pages that are left, even ones run into the lost ones.
        const auto w = guarded_read(m, (t % 2) ? 0 : (16 << 10), 32 << 10, out);
        if (w.end == GuardedWalk::End::kFault && w.fault_offset == (16u << 10)) ++faults;
        if (w.end == GuardedWalk::End::kDone) ++clean;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(faults.load(), 1000);
  EXPECT_EQ(clean.load(), 1000);
}

TEST(MediaGuard, NestedWalksEachCatchTheirOwnFaults) {
  ShrinkableMapping m(64 << 10);
  m.resize(32 << 10);
  GuardedWalk inner;
  const GuardedWalk outer = guarded_walk(m.data(), 16 << 10, [&](std::byte*, std::size_t, std::size_t done) {
    if (done == 0) {
      std::vector<std::byte> out;
      inner = guarded_read(m, 30 << 10, 8 << 10, out);
    }
    return true;
  });
  EXPECT_EQ(outer.end, GuardedWalk::End::kDone);
  ASSERT_EQ(inner.end, GuardedWalk::End::kFault);
  EXPECT_EQ(inner.fault_offset, 2u << 10);
}

// --- faults that are not ours ---------------------------------------------------------------

void touch(const std::byte* p) { (void)*static_cast<const volatile std::byte*>(p); }

TEST(MediaGuardDeathTest, AFaultOutsideTheGuardedRangeStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto body = [] {
    ShrinkableMapping m(64 << 10);
    m.resize(16 << 10);
    // The walk guards its first page only; the step touches a lost page elsewhere.
    (void)guarded_walk(m.data(), 4096, [&](std::byte*, std::size_t, std::size_t) {
      touch(m.data() + (32 << 10));
      return true;
    });
  };
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_DEATH(body(), "");  // ASan's own SIGBUS handler reports it and exits
#else
  EXPECT_EXIT(body(), ::testing::KilledBySignal(SIGBUS), "");
#endif
}

TEST(MediaGuardDeathTest, AnUnguardedFaultStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto body = [] {
    ASSERT_TRUE(bs::install_media_guard());
    ShrinkableMapping m(64 << 10);
    m.resize(16 << 10);
    touch(m.data() + (32 << 10));
  };
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_DEATH(body(), "");
#else
  EXPECT_EXIT(body(), ::testing::KilledBySignal(SIGBUS), "");
#endif
}

void exit_42(int, siginfo_t*, void*) { ::_exit(42); }

TEST(MediaGuardDeathTest, AFaultThatIsNotOursGoesToThePreviousHandler) {
  // A fresh process: the handler installed before ours must still see what is not ours.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction sa {};
        sa.sa_sigaction = exit_42;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGBUS, &sa, nullptr);
        ShrinkableMapping m(64 << 10);
        m.resize(16 << 10);
        std::vector<std::byte> out;
        if (guarded_read(m, 0, 64 << 10, out).end != GuardedWalk::End::kFault) ::_exit(1);
        touch(m.data() + (32 << 10));  // unguarded
        ::_exit(2);
      },
      ::testing::ExitedWithCode(42), "");
}

// --- through the engine: a Lun on memory that loses pages -------------------------------------

TEST(MediaGuard, ALunLearnsLostPagesAndAWholeRewriteClearsThem) {
  using namespace bs::scsi;
  ShrinkableMapping m(1 << 20);
  flush::RecordingFlusher flusher;
  auto medium = std::make_unique<MemoryMedium>(m.bytes(), flusher);
  MemoryMedium* mm = medium.get();
  bs::Lun lun(std::move(medium), 512);
  auto run = [&](std::vector<std::uint8_t> c, std::span<const std::byte> out = {},
                 std::span<std::byte> in = {}) { return bs::execute(lun, {c, out, in}); };
  auto expect_error = [](const bs::Result& r, std::uint16_t asc, std::uint64_t lba) {
    expect_sense(r, key::kMediumError, asc);
    EXPECT_TRUE(r.info_valid);
    EXPECT_EQ(r.info, lba);
  };
  const auto all = pattern(1 << 20, 1);
  ASSERT_EQ(run(cdb16(op::kWrite16, 0, 2048), all).status, kStatusGood);

  m.resize(512 << 10);  // LBAs 1024.. are gone
  std::vector<std::byte> buf(101 * 512);
  expect_error(run(cdb16(op::kRead16, 1000, 101), {}, buf), asc::kUnrecoveredReadError, 1024);
  expect_error(run(cdb16(op::kWrite16, 2001, 2), pattern(1024, 2)), asc::kWriteError, 2001);
  std::vector<std::byte> good(1024 * 512);
  ASSERT_EQ(run(cdb16(op::kRead16, 0, 1024), {}, good).status, kStatusGood);
  EXPECT_TRUE(std::equal(good.begin(), good.end(), all.begin()));

  m.resize(1 << 20);  // the pages are back (as zeros), but LBAs 1024..1031 are known bad
  expect_error(run(cdb16(op::kRead16, 1000, 101), {}, buf), asc::kUnrecoveredReadError, 1024);
  // A write of part of the learnt page fails; one of the whole page clears it.
  expect_error(run(cdb16(op::kWrite16, 1025, 1), pattern(512, 3)), asc::kWriteError, 1025);
  const auto page = pattern(4096, 4);
  ASSERT_EQ(run(cdb16(op::kWrite16, 1024, 8), page).status, kStatusGood);
  EXPECT_TRUE(mm->cleared.empty());  // learnt ranges are not cleared through the medium
  ASSERT_EQ(run(cdb16(op::kRead16, 1000, 101), {}, buf).status, kStatusGood);
  EXPECT_TRUE(std::equal(page.begin(), page.end(), buf.begin() + 24 * 512));
}

}  // namespace
}  // namespace tgt_pmem::testing
