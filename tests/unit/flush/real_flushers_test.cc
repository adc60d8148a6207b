// SPDX-License-Identifier: GPL-2.0-only
// The real flushers on a real mapping of a temporary file: the method a medium needs, and the
// system calls each flusher makes (msync and fdatasync are interposed, syscall_recorder.h).
// Reading data back through the page cache would pass with a flusher that did nothing, so
// these tests check the calls: their range, MS_SYNC, their errors reaching the caller.
#include <fcntl.h>
#include <libpmem2.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "scratch_dir.h"
#include "syscall_recorder.h"
#include "tgt_pmem/flush/select.h"

namespace tgt_pmem::flush {
namespace {

using testing::SyscallRecord;
using testing::SyscallRecorder;

class MappedFile {
 public:
  explicit MappedFile(std::size_t size) {
    fd_ = ::open(dir_.file("mapped").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd_, 0) << "in scratch directory '" << dir_.path() << "'";
    EXPECT_EQ(::ftruncate(fd_, static_cast<off_t>(size)), 0);
    EXPECT_EQ(pmem2_source_from_fd(&src_, fd_), 0);
    EXPECT_EQ(pmem2_config_new(&cfg_), 0);
    EXPECT_EQ(pmem2_config_set_required_store_granularity(cfg_, PMEM2_GRANULARITY_PAGE), 0);
    EXPECT_EQ(pmem2_map_new(&map_, cfg_, src_), 0) << pmem2_errormsg();
  }
  ~MappedFile() {
    if (map_) pmem2_map_delete(&map_);
    pmem2_config_delete(&cfg_);
    pmem2_source_delete(&src_);
    ::close(fd_);
  }
  pmem2_map* map() { return map_; }
  int fd() const { return fd_; }
  char* data() { return static_cast<char*>(pmem2_map_get_address(map_)); }

 private:
  int fd_ = -1;
  tgt_pmem::testing::ScratchDir dir_{"tgtpmem-flush"};
  pmem2_source* src_ = nullptr;
  pmem2_config* cfg_ = nullptr;
  pmem2_map* map_ = nullptr;
};

class RealFlushers : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
    SyscallRecorder::get().clear();
  }
  void TearDown() override { ::unsetenv("PMEM2_FORCE_GRANULARITY"); }
};

TEST_F(RealFlushers, APlainFileNeedsMsync) {
  MappedFile f(1 << 20);
  EXPECT_EQ(needed_method(f.map(), f.fd(), false), Method::kMsync);
}

// Issue 13, defect 6: PMEM2_FORCE_GRANULARITY in tgtd's environment turned every plain-file
// LUN into cache-flush (no msync), silently losing writes on a power loss.
TEST_F(RealFlushers, TheForcingVariableDoesNotMakeAFilePmem) {
  ::setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);
  MappedFile f(1 << 20);
  ASSERT_EQ(pmem2_map_get_store_granularity(f.map()), PMEM2_GRANULARITY_CACHE_LINE)
      << "libpmem2 obeys the variable";
  EXPECT_EQ(needed_method(f.map(), f.fd(), false), Method::kMsync);
  ::setenv("PMEM2_FORCE_GRANULARITY", "BYTE", 1);
  MappedFile g(1 << 20);
  EXPECT_EQ(needed_method(g.map(), g.fd(), false), Method::kMsync);
}

TEST_F(RealFlushers, MsyncFlushIsASynchronousMsyncOfTheWholeRange) {
  MappedFile f(1 << 20);
  auto fl = make_flusher(Method::kMsync, f.fd());
  EXPECT_EQ(fl->method(), Method::kMsync);
  fl->copy(f.data() + 5000, "durable", 7);
  ASSERT_TRUE(fl->flush(f.data() + 5000, 7));
  EXPECT_TRUE(SyscallRecorder::get().msynced(f.data() + 5000, 7));
  const std::string big(100000, 'x');
  ASSERT_TRUE(fl->copy_and_flush(f.data() + 12345, big.data(), big.size()));
  EXPECT_TRUE(SyscallRecorder::get().msynced(f.data() + 12345, big.size()));
  EXPECT_EQ(std::memcmp(f.data() + 12345, big.data(), big.size()), 0);
}

TEST_F(RealFlushers, AnMsyncErrorReachesTheCaller) {
  MappedFile f(1 << 20);
  auto fl = make_flusher(Method::kMsync, f.fd());
  SyscallRecorder::get().fail_next(1, EIO);
  auto s = fl->flush(f.data(), 64);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().value(), EIO);
}

TEST_F(RealFlushers, SyncFileIsAnFdatasyncOfTheFileAndReportsItsError) {
  MappedFile f(1 << 20);
  auto fl = make_flusher(Method::kMsync, f.fd());
  ASSERT_TRUE(fl->sync_file());
  const auto calls = SyscallRecorder::get().calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, SyscallRecord::kFdatasync);
  EXPECT_EQ(calls[0].fd, f.fd());
  SyscallRecorder::get().fail_next(1, ENOSPC);
  auto s = fl->sync_file();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().value(), ENOSPC);
}

// The CPU methods make no system call for data (that is what durability=emulated and real
// pmem rely on); what they run is libpmem2's code for the granularity.
TEST_F(RealFlushers, CpuMethodsCopyWithoutSystemCalls) {
  MappedFile f(1 << 20);
  for (Method m : {Method::kCacheFlush, Method::kFenceOnly}) {
    auto fl = make_flusher(m, f.fd());
    EXPECT_EQ(fl->method(), m);
    const std::string big(100000, 'y');
    ASSERT_TRUE(fl->copy_and_flush(f.data() + 4096, big.data(), big.size()));
    ASSERT_TRUE(fl->fill_and_flush(f.data(), 'z', 100));
    ASSERT_TRUE(fl->flush(f.data(), 100));
    ASSERT_TRUE(fl->drain());
    EXPECT_EQ(std::memcmp(f.data() + 4096, big.data(), big.size()), 0);
    EXPECT_EQ(f.data()[99], 'z');
  }
  EXPECT_TRUE(SyscallRecorder::get().calls().empty());
}

TEST_F(RealFlushers, FdatasyncFlusherSyncsTheFileAtDrain) {
  MappedFile f(1 << 20);
  auto fl = make_fdatasync_flusher(f.fd());
  EXPECT_EQ(fl->method(), Method::kFdatasync);
  ASSERT_TRUE(fl->flush(nullptr, 0));
  EXPECT_TRUE(SyscallRecorder::get().calls().empty());
  ASSERT_TRUE(fl->drain());
  const auto calls = SyscallRecorder::get().calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].fd, f.fd());
}

TEST_F(RealFlushers, FdatasyncOnABadFdReportsTheError) {
  auto fl = make_fdatasync_flusher(1000000);
  auto s = fl->drain();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().value(), EBADF);
}

TEST_F(RealFlushers, PrepareProcessTakesTheForcingVariableOutOnce) {
  // Runs in a child: prepare_process() acts once per process.
  EXPECT_EXIT(
      {
        ::setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);
        auto v = prepare_process();
        const bool ok = v && *v == "CACHE_LINE" && !std::getenv("PMEM2_FORCE_GRANULARITY") &&
                        !prepare_process();
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace tgt_pmem::flush
