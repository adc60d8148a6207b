// SPDX-License-Identifier: GPL-2.0-only
// The real flushers on a real mapping of a temporary file: the method chosen from the
// granularity libpmem2 reports, and data that round-trips through the file.
#include <fcntl.h>
#include <libpmem2.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "scratch_dir.h"
#include "tgt_pmem/flush/select.h"

namespace tgt_pmem::flush {
namespace {

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
  std::string read_back(off_t off, std::size_t n) const {
    std::string s(n, '\0');
    EXPECT_EQ(::pread(fd_, s.data(), n, off), static_cast<ssize_t>(n));
    return s;
  }

 private:
  int fd_ = -1;
  tgt_pmem::testing::ScratchDir dir_{"tgtpmem-flush"};
  pmem2_source* src_ = nullptr;
  pmem2_config* cfg_ = nullptr;
  pmem2_map* map_ = nullptr;
};

// libpmem2 reads PMEM2_FORCE_GRANULARITY when a mapping is made.
class ForcedGranularity {
 public:
  explicit ForcedGranularity(const char* g) { ::setenv("PMEM2_FORCE_GRANULARITY", g, 1); }
  ~ForcedGranularity() { ::unsetenv("PMEM2_FORCE_GRANULARITY"); }
};

TEST(SelectFlusher, PlainFileWithoutForcingUsesMsync) {
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  MappedFile f(1 << 20);
  auto fl = make_flusher_for_map(f.map(), f.fd());
  EXPECT_EQ(fl->method(), Method::kMsync);
  std::memcpy(f.data() + 5000, "durable", 7);
  ASSERT_TRUE(fl->persist(f.data() + 5000, 7));
  EXPECT_EQ(f.read_back(5000, 7), "durable");
  ASSERT_TRUE(fl->sync_file());
}

TEST(SelectFlusher, ForcedCacheLineUsesCacheFlush) {
  ForcedGranularity g("CACHE_LINE");
  MappedFile f(1 << 20);
  auto fl = make_flusher_for_map(f.map(), f.fd());
  EXPECT_EQ(fl->method(), Method::kCacheFlush);
  const std::string big(100000, 'x');
  ASSERT_TRUE(fl->copy_and_flush(f.data() + 12345, big.data(), big.size()));
  ASSERT_TRUE(fl->fill_and_flush(f.data(), 'z', 100));
  ASSERT_TRUE(fl->drain());
  EXPECT_EQ(f.read_back(12345, big.size()), big);
  EXPECT_EQ(f.read_back(0, 100), std::string(100, 'z'));
}

TEST(SelectFlusher, ForcedByteUsesFenceOnly) {
  ForcedGranularity g("BYTE");
  MappedFile f(1 << 20);
  auto fl = make_flusher_for_map(f.map(), f.fd());
  EXPECT_EQ(fl->method(), Method::kFenceOnly);
  ASSERT_TRUE(fl->persist(f.data(), 64));
}

TEST(SelectFlusher, FdatasyncFlusherSyncsTheFile) {
  MappedFile f(1 << 20);
  auto fl = make_fdatasync_flusher(f.fd());
  EXPECT_EQ(fl->method(), Method::kFdatasync);
  ASSERT_EQ(::pwrite(f.fd(), "abc", 3, 0), 3);
  ASSERT_TRUE(fl->drain());
  EXPECT_EQ(to_string(fl->method()), "fdatasync");
}

TEST(SelectFlusher, FdatasyncOnABadFdReportsTheError) {
  auto fl = make_fdatasync_flusher(1000000);
  auto s = fl->drain();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().value(), EBADF);
}

}  // namespace
}  // namespace tgt_pmem::flush
