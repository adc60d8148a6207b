// SPDX-License-Identifier: GPL-2.0-only
// Deciding that a store was never formatted, quickly and rightly (issue 17, item 2): the scan
// reads data extents only, stops at its budget, and finds a non-zero byte wherever it sits;
// on real sparse files the atomic layout's first open reads (faults in) almost nothing.
#include "zero_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atomic_layout.h"
#include "pmem_medium.h"
#include "scratch_dir.h"

namespace tgt_pmem::bs {
namespace {

using Verdict = ZeroScan::Verdict;

// A store described by its extents, over bytes in memory; records what the finder was asked.
struct FakeStore {
  std::vector<std::byte> bytes;
  std::vector<Medium::Extent> extents;  // consecutive, covering bytes
  std::vector<std::pair<std::uint64_t, std::uint64_t>> asked;

  ExtentQuery query() {
    return [this](std::uint64_t off) -> std::expected<Medium::Extent, std::error_code> {
      for (const auto& e : extents)
        if (off < e.end) return e;
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    };
  }
  NonzeroFinder finder() {
    return [this](std::uint64_t b, std::uint64_t e) {
      asked.emplace_back(b, e);
      return mapped_nonzero_finder(bytes.data())(b, e);
    };
  }
};

TEST(ZeroScan, ReadsOnlyTheDataExtents) {
  FakeStore s{std::vector<std::byte>(1 << 20),
              {{true, 4096}, {false, 512 << 10}, {true, 1 << 20}},
              {}};
  // A hole is zero by definition: what the bytes say there must not matter (it is never read).
  s.bytes[8192] = std::byte{7};
  auto r = scan_zero(1 << 20, kOpenScanBudget, s.query(), s.finder());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->verdict, Verdict::kZero);
  EXPECT_EQ(r->read, 4096 + (512u << 10));
  ASSERT_EQ(s.asked.size(), 2u);
  EXPECT_EQ(s.asked[0], std::make_pair(std::uint64_t{0}, std::uint64_t{4096}));
  EXPECT_EQ(s.asked[1], std::make_pair(std::uint64_t{512} << 10, std::uint64_t{1} << 20));
}

TEST(ZeroScan, FindsANonZeroByteInALaterDataExtent) {
  FakeStore s{std::vector<std::byte>(1 << 20), {{false, 4096}, {true, 8192}, {false, 900000},
                                                {true, 1 << 20}}, {}};
  s.bytes[1000000] = std::byte{1};
  auto r = scan_zero(1 << 20, kOpenScanBudget, s.query(), s.finder());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->verdict, Verdict::kNonZero);
  EXPECT_EQ(r->offset, 1000000u);
}

TEST(ZeroScan, OnlyTheRegionAskedFor) {
  FakeStore s{std::vector<std::byte>(1 << 20), {{true, 1 << 20}}, {}};
  s.bytes[65536] = std::byte{1};  // past the region: someone else's data
  auto r = scan_zero(65536, kOpenScanBudget, s.query(), s.finder());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->verdict, Verdict::kZero);
}

TEST(ZeroScan, StopsAtTheBudgetWithoutAnAnswer) {
  // No holes at all (a devdax device): 1 MiB of data, a budget of 256 KiB.
  FakeStore s{std::vector<std::byte>(1 << 20), {{true, 1 << 20}}, {}};
  s.bytes[(1 << 20) - 1] = std::byte{1};  // beyond the budget: must not be claimed zero
  auto r = scan_zero(1 << 20, 256 << 10, s.query(), s.finder());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->verdict, Verdict::kOverBudget);
  EXPECT_EQ(r->read, 256u << 10);
  EXPECT_EQ(r->offset, 256u << 10);
}

TEST(ZeroScan, ANonZeroByteWithinTheBudgetIsNamedEvenIfMoreDataFollows) {
  FakeStore s{std::vector<std::byte>(1 << 20), {{true, 1 << 20}}, {}};
  s.bytes[1000] = std::byte{1};
  auto r = scan_zero(1 << 20, 256 << 10, s.query(), s.finder());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->verdict, Verdict::kNonZero);
  EXPECT_EQ(r->offset, 1000u);
}

TEST(ZeroScan, BrokenExtentAnswersAreErrorsNotLoops) {
  FakeStore s{std::vector<std::byte>(8192), {}, {}};
  const ExtentQuery stuck = [](std::uint64_t) -> std::expected<Medium::Extent, std::error_code> {
    return Medium::Extent{false, 0};
  };
  auto r = scan_zero(8192, kOpenScanBudget, stuck, s.finder());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no progress"), std::string::npos) << r.error();
  FakeStore t{std::vector<std::byte>(8192), {{false, 4096}}, {}};  // the query fails past 4 KiB
  auto q = scan_zero(8192, kOpenScanBudget, t.query(), t.finder());
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().find("offset 4096"), std::string::npos) << q.error();
}

// --- the atomic layout's first open on real sparse files ------------------------------------

class SparseFile {
 public:
  explicit SparseFile(std::uint64_t size) {
    path_ = dir_.file("store.img");
    std::ofstream(path_).close();
    std::filesystem::resize_file(path_, size);
  }
  void write_at(std::uint64_t off, const std::vector<char>& bytes) const {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(off)),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  const std::string& path() const { return path_; }

 private:
  testing::ScratchDir dir_{"tgtpmem-zero-scan"};
  std::string path_;
};

// This process's resident memory in KiB (VmRSS): pages of the store read through the
// mapping stay resident (and counted) while it is mapped.
long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  long v = -1;
  while (in >> key)
    if (key == "VmRSS:" && in >> v) break;
  return v;
}

constexpr std::uint64_t kBig = std::uint64_t{64} << 30;  // 1 GiB of map at 512-byte blocks

std::expected<std::unique_ptr<AtomicLayout>, std::string> open_atomic(PmemMedium& m) {
  return AtomicLayout::open(m, 512);
}

TEST(AtomicFirstOpen, ASparseStoreIsFormattedWithoutReadingItsHoles) {
  SparseFile f(kBig);
  auto m = PmemMedium::open(f.path(), 1 << 20, Durability::kEmulated);
  ASSERT_TRUE(m) << m.error().message;
  const long before = rss_kib();
  auto l = open_atomic(**m);
  ASSERT_TRUE(l) << l.error();
  const long grown = rss_kib() - before;
  // The header, the logs and the free lists: ~100 KiB. Reading the whole map area (1 GiB of
  // holes) through the mapping, as the check used to, made it grow by 1 GiB.
  EXPECT_LT(grown, 16 << 10) << "the first open made the process grow by " << grown << " KiB";
  EXPECT_EQ((*l)->header().geometry.medium_size, kBig);
  // Formatted: a second open finds the header.
  l->reset();
  auto again = open_atomic(**m);
  ASSERT_TRUE(again) << again.error();
}

TEST(AtomicFirstOpen, DataDeepInTheMetadataAreaIsStillFound) {
  SparseFile f(kBig);
  auto g = atomic::compute_geometry(kBig, 512);
  ASSERT_TRUE(g);
  // A raw LUN's block that happens to fall near the end of the map area; the rest is holes.
  f.write_at(g->data_offset - 4096 + 123, {'x'});
  auto m = PmemMedium::open(f.path(), 1 << 20, Durability::kEmulated);
  ASSERT_TRUE(m) << m.error().message;
  auto l = open_atomic(**m);
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().find("not zero (offset " + std::to_string(g->data_offset - 4096 + 123)),
            std::string::npos)
      << l.error();
  std::vector<std::byte> head(4096);
  std::memcpy(head.data(), (*m)->data(), head.size());
  EXPECT_EQ(head, std::vector<std::byte>(4096)) << "nothing written";
}

TEST(AtomicFirstOpen, MoreAllocatedDataThanTheBudgetIsRefusedWithTheWayOut) {
  SparseFile f(kBig);
  // Zeros, but written: allocated extents (as on a devdax device, which has no holes).
  f.write_at(4096, std::vector<char>(kOpenScanBudget + (1 << 20), 0));
  auto m = PmemMedium::open(f.path(), 1 << 20, Durability::kEmulated);
  ASSERT_TRUE(m) << m.error().message;
  auto l = open_atomic(**m);
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().find("tgtpmem-admin create"), std::string::npos) << l.error();
  EXPECT_NE(l.error().find("too much to check"), std::string::npos) << l.error();
}

TEST(AtomicFirstOpen, AllocatedZerosWithinTheBudgetAreFormatted) {
  SparseFile f(kBig);
  f.write_at(4096, std::vector<char>(4 << 20, 0));
  auto m = PmemMedium::open(f.path(), 1 << 20, Durability::kEmulated);
  ASSERT_TRUE(m) << m.error().message;
  auto l = open_atomic(**m);
  EXPECT_TRUE(l) << l.error();
}

}  // namespace
}  // namespace tgt_pmem::bs
