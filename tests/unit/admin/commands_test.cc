// SPDX-License-Identifier: GPL-2.0-only
// create / info / check on real files in a temporary directory, through libpmem2.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "atomic_format.h"
#include "commands.h"
#include "scratch_dir.h"
#include "tgt_pmem/bs_pmem.h"
#include "zero_scan.h"

namespace tgt_pmem::admin {
namespace {

namespace fs = std::filesystem;

class AdminCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
  }
  void TearDown() override { ::unsetenv("PMEM2_FORCE_GRANULARITY"); }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  int create(CreateArgs a) {
    reset();
    return run_create(a, io_);
  }
  int info(const std::string& p, bool json = true) {
    reset();
    return run_info(InfoArgs{p, json}, io_);
  }
  int check(const std::string& p, std::optional<std::uint32_t> bs = std::nullopt, bool json = true) {
    reset();
    return run_check(CheckArgs{p, bs, json}, io_);
  }
  void reset() {
    out_.str("");
    err_.str("");
  }
  static void write_at(const std::string& p, std::uint64_t offset, const std::string& bytes) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f << bytes;
  }
  static std::string contents(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  static void make_file(const std::string& p, std::uint64_t size) {
    { std::ofstream f(p); }
    fs::resize_file(p, size);
  }

  testing::ScratchDir scratch_{"tgtpmem-admin-test"};
  fs::path dir_ = scratch_.path();
  std::ostringstream out_, err_;
  Io io_{out_, err_, false};
};

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(AdminCommands, CreateMakesASparseFileOfTheSize) {
  CreateArgs a{.path = path("a.img"), .size = 64u << 20, .json = true};
  ASSERT_EQ(create(a), kExitOk) << err_.str();
  EXPECT_EQ(fs::file_size(a.path), 64u << 20);
  struct stat st {};
  ASSERT_EQ(::stat(a.path.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // not written: sparse
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(has(out_.str(), "\"created\":true")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "\"layout\":\"raw\"")) << out_.str();
  EXPECT_EQ(check(a.path), kExitOk) << out_.str();
}

TEST_F(AdminCommands, CreateRefusesAStoreWithDataAndLeavesItAlone) {
  const auto p = path("data.img");
  make_file(p, 8u << 20);
  write_at(p, 5u << 20, "precious");
  const auto before = contents(p);
  EXPECT_EQ(create({.path = p, .size = 16u << 20}), kExitRefused);
  EXPECT_TRUE(has(err_.str(), "holds data (first non-zero byte at offset 5242880)")) << err_.str();
  EXPECT_TRUE(has(err_.str(), "--force"));
  EXPECT_EQ(contents(p), before);
  EXPECT_EQ(create({.path = p, .zero = true}), kExitRefused);
  EXPECT_EQ(contents(p), before);
}

TEST_F(AdminCommands, CreateWithForceAndZeroWipesAndResizes) {
  const auto p = path("wipe.img");
  make_file(p, 8u << 20);
  write_at(p, 4096, "old data");
  ASSERT_EQ(create({.path = p, .size = 4u << 20, .force = true, .zero = true}), kExitOk)
      << err_.str();
  EXPECT_EQ(fs::file_size(p), 4u << 20);
  EXPECT_EQ(contents(p), std::string(4u << 20, '\0'));
  EXPECT_TRUE(has(err_.str(), "zeroing " + p + ": 100% (4 MiB of 4 MiB)")) << err_.str();
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_GE(st.st_blocks * 512, 4 << 20);  // zeroing allocated every block
}

TEST_F(AdminCommands, CreateAcceptsAnEmptyExistingFileAndAZeroFile) {
  const auto p = path("empty.img");
  make_file(p, 0);
  EXPECT_EQ(create({.path = p}), kExitUsage) << "an empty file needs --size";
  EXPECT_EQ(create({.path = p, .size = 2u << 20}), kExitOk) << err_.str();
  EXPECT_EQ(create({.path = p}), kExitOk) << "all zeros: nothing to lose";
  EXPECT_EQ(fs::file_size(p), 2u << 20);
}

TEST_F(AdminCommands, CreateRefusesBadSizesWithoutLeavingAFile) {
  const auto p = path("bad.img");
  EXPECT_EQ(create({.path = p, .size = 512u << 10}), kExitUsage);
  EXPECT_TRUE(has(err_.str(), "below the minimum of 1048576 bytes")) << err_.str();
  EXPECT_EQ(create({.path = p, .size = (1u << 20) + 512}), kExitUsage);
  EXPECT_TRUE(has(err_.str(), "not a multiple of the mapping alignment")) << err_.str();
  EXPECT_EQ(create({.path = p, .size = (1u << 20) + 4096 * 3, .block_size = 4096}), kExitOk);
  fs::remove(p);
  EXPECT_EQ(create({.path = p, .size = (1u << 20) + 512, .block_size = 4096}), kExitUsage);
  EXPECT_EQ(create({.path = p}), kExitUsage);
  EXPECT_TRUE(has(err_.str(), "does not exist: give --size")) << err_.str();
  EXPECT_FALSE(fs::exists(p));
  EXPECT_EQ(create({.path = path("no/such/dir/x.img"), .size = 1u << 20}), kExitCannotUse);
  EXPECT_EQ(create({.path = dir_.string(), .size = 1u << 20}), kExitCannotUse);
  EXPECT_TRUE(has(err_.str(), "not a regular file or a devdax")) << err_.str();
}

TEST_F(AdminCommands, InfoReportsTheDurabilityTheModuleWouldChoose) {
  const auto p = path("i.img");
  ASSERT_EQ(create({.path = p, .size = 4u << 20}), kExitOk);
  ASSERT_EQ(info(p), kExitOk);
  EXPECT_TRUE(has(out_.str(), "\"medium\":\"file\",\"size\":4194304")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "\"block_size\":null,\"accepted_block_sizes\":[512,4096]"));
  EXPECT_TRUE(has(out_.str(), "\"store_granularity\":\"page\",\"forced_granularity\":null,"
                              "\"durability\":\"msync\"")) << out_.str();
  // The variable forces what libpmem2 reports, not what bs_pmem does (issue 13, defect 6):
  // a plain file still needs msync.
  ::setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);
  ASSERT_EQ(info(p), kExitOk);
  EXPECT_TRUE(has(out_.str(), "\"store_granularity\":\"cache-line\",\"forced_granularity\":"
                              "\"CACHE_LINE\",\"durability\":\"msync\"")) << out_.str();
  ::setenv("PMEM2_FORCE_GRANULARITY", "BYTE", 1);
  ASSERT_EQ(info(p, false), kExitOk);
  EXPECT_TRUE(has(out_.str(), "durability:     msync\n")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "which bs_pmem ignores")) << out_.str();
}

TEST_F(AdminCommands, InfoOnAStoreThatCannotBeMapped) {
  const auto p = path("odd.img");
  make_file(p, (2u << 20) + 512);
  ASSERT_EQ(info(p), kExitOk);
  EXPECT_TRUE(has(out_.str(), "\"layout\":null")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "\"accepted_block_sizes\":[]")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "\"durability\":null")) << out_.str();
  EXPECT_EQ(info(path("missing.img")), kExitCannotUse);
  EXPECT_TRUE(has(err_.str(), "no such file or device")) << err_.str();
}

TEST_F(AdminCommands, CheckFollowsTheModulesSizeRules) {
  const auto small = path("small.img");
  make_file(small, 64u << 10);
  EXPECT_EQ(check(small), kExitCheckFailed);
  EXPECT_TRUE(has(out_.str(), "{\"name\":\"size.minimum\",\"result\":\"failed\"")) << out_.str();

  const auto odd = path("odd.img");
  make_file(odd, (2u << 20) + 512);
  EXPECT_EQ(check(odd), kExitCheckFailed);
  EXPECT_TRUE(has(out_.str(), "{\"name\":\"size.alignment\",\"result\":\"failed\"")) << out_.str();
  EXPECT_TRUE(has(out_.str(), "{\"name\":\"map\",\"result\":\"skipped\"")) << out_.str();

  const auto p = path("bs.img");
  make_file(p, (1u << 20) + 4096 * 3);  // page aligned: fine for both block sizes
  EXPECT_EQ(check(p, 512), kExitOk) << out_.str();
  EXPECT_EQ(check(p, 4096), kExitOk) << out_.str();
  make_file(p, (1u << 20) + 4096 + 2048);  // fails the alignment, and 4096 too
  EXPECT_EQ(check(p, 4096, false), kExitCheckFailed);
  EXPECT_TRUE(has(out_.str(), "check FAILED: bs_pmem cannot serve")) << out_.str();
}

TEST_F(AdminCommands, CheckNamesWhatIsMissing) {
  EXPECT_EQ(check(path("missing.img"), std::nullopt, false), kExitCannotUse);
  EXPECT_TRUE(has(out_.str(), "failed  exists")) << out_.str();
  EXPECT_EQ(check(dir_.string()), kExitCannotUse);
  EXPECT_TRUE(has(out_.str(), "{\"name\":\"type\",\"result\":\"failed\"")) << out_.str();
}

TEST_F(AdminCommands, CheckNeverWrites) {
  const auto p = path("ro.img");
  make_file(p, 4u << 20);
  write_at(p, 123, "data");
  struct stat before {};
  ASSERT_EQ(::stat(p.c_str(), &before), 0);
  ASSERT_EQ(::chmod(p.c_str(), 0400), 0);
  check(p);
  info(p);
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
  struct stat after {};
  ASSERT_EQ(::stat(p.c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(contents(p).substr(123, 4), "data");
}

}  // namespace
}  // namespace tgt_pmem::admin

namespace tgt_pmem::admin {
namespace {

class AdminAtomic : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }
  std::string path(const char* n) const { return (dir_ / n).string(); }
  testing::ScratchDir scratch_{"tgtpmem-admin-atomic"};
  std::filesystem::path dir_ = scratch_.path();
  std::ostringstream out_, err_;
  Io io_{out_, err_, false};
};

TEST_F(AdminAtomic, CreateFormatsWhatTheModuleOpensAndCheckVerifiesIt) {
  const auto p = path("atomic.img");
  ASSERT_EQ(run_create({.path = p, .size = 64u << 20, .block_size = 4096, .layout = "atomic",
                        .json = true}, io_), kExitOk) << err_.str();
  out_.str("");
  ASSERT_EQ(run_info({p, true}, io_), kExitOk);
  EXPECT_NE(out_.str().find("\"layout\":\"atomic\""), std::string::npos) << out_.str();
  out_.str("");
  ASSERT_EQ(run_check({p, std::nullopt, false}, io_), kExitOk) << out_.str();
  EXPECT_NE(out_.str().find("atomic layout v1, UUID"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("map entries in range and distinct"), std::string::npos);
  // The module opens it as formatted (and refuses another block size).
  tgtpmem_options* o = nullptr;
  char err[256];
  ASSERT_EQ(tgtpmem_options_parse("layout=atomic", &o, err, sizeof err), 0);
  tgtpmem_lun* lun = nullptr;
  EXPECT_EQ(tgtpmem_lun_open(p.c_str(), o, 512, &lun, err, sizeof err), TGTPMEM_E_LAYOUT);
  ASSERT_EQ(tgtpmem_lun_open(p.c_str(), o, 4096, &lun, err, sizeof err), 0) << err;
  tgtpmem_lun_close(lun);
  tgtpmem_options_free(o);
}

TEST_F(AdminAtomic, CheckFailsOnACorruptMapEntry) {
  const auto p = path("atomic.img");
  ASSERT_EQ(run_create({.path = p, .size = 16u << 20, .layout = "atomic"}, io_), kExitOk);
  // Map entry of LBA 1 := LBA 0's physical block (+1 encoding): two LBAs on one block.
  const auto g = *bs::atomic::compute_geometry(16u << 20, 512);
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(g.map_offset + 8));
  const std::uint64_t v = 1;
  f.write(reinterpret_cast<const char*>(&v), 8);
  f.close();
  out_.str("");
  EXPECT_EQ(run_check({p, std::nullopt, false}, io_), kExitCheckFailed) << out_.str();
  EXPECT_NE(out_.str().find("shares its physical block"), std::string::npos) << out_.str();
}

// A large sparse store: create formats it without allocating its holes, and check-config
// predicts what bs_pmem's open does, by the same scan (zero_scan.h).
constexpr std::uint64_t kSparse = std::uint64_t{64} << 30;

std::uint64_t allocated_bytes(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

void write_at(const std::string& p, std::uint64_t off, const std::vector<char>& bytes) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_F(AdminAtomic, CreateOnASparseStoreZeroesOnlyItsDataExtents) {
  const auto p = path("sparse.img");
  std::ofstream(p).close();
  std::filesystem::resize_file(p, kSparse);
  const auto g = *bs::atomic::compute_geometry(kSparse, 512);
  // Data deep in the map area (a raw LUN's block, say): it must be zeroed, the holes not
  // allocated (the map area is 1 GiB).
  write_at(p, g.data_offset - 4096, std::vector<char>(4096, 'x'));
  ASSERT_EQ(run_create({.path = p, .layout = "atomic", .force = true}, io_), kExitOk)
      << err_.str();
  EXPECT_LT(allocated_bytes(p), std::uint64_t{16} << 20);
  std::ifstream f(p, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(g.data_offset - 4096));
  std::vector<char> back(4096, 1);
  f.read(back.data(), 4096);
  EXPECT_EQ(back, std::vector<char>(4096, 0)) << "the data extent in the map area was zeroed";
  out_.str("");
  EXPECT_EQ(run_check({p, std::nullopt, false}, io_), kExitOk) << out_.str();
}

TEST_F(AdminAtomic, PredictsWhatTheModuleDoesWithAnUnformattedStore) {
  const auto p = path("sparse.img");
  std::ofstream(p).close();
  std::filesystem::resize_file(p, kSparse);
  auto r = atomic_open_outcome(p, 512);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, AtomicOpen::kFormats);
  // Zeros, but allocated, beyond what bs_pmem reads while opening.
  write_at(p, 4096, std::vector<char>(bs::kOpenScanBudget + (1 << 20), 0));
  r = atomic_open_outcome(p, 512);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, AtomicOpen::kRefusedTooMuchData);
  write_at(p, 8192, {'x'});
  r = atomic_open_outcome(p, 512);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, AtomicOpen::kRefusedData);
  // And bs_pmem agrees on each: it refuses this one.
  tgtpmem_options* o = nullptr;
  char err[512];
  ASSERT_EQ(tgtpmem_options_parse("layout=atomic;durability=emulated", &o, err, sizeof err), 0);
  tgtpmem_lun* lun = nullptr;
  EXPECT_NE(tgtpmem_lun_open(p.c_str(), o, 512, &lun, err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("not zero"), std::string::npos) << err;
  tgtpmem_options_free(o);
}

}  // namespace
}  // namespace tgt_pmem::admin
