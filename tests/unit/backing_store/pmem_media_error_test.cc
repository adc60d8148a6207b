// SPDX-License-Identifier: GPL-2.0-only
// The production medium losing pages under a running LUN: a real file mapped with libpmem2 is
// truncated underneath. READ and WRITE of the lost LBAs must fail with MEDIUM ERROR and the
// first failing LBA, the rest of the LUN keeps working, and the process lives. Both ways of
// making writes durable are covered: msync (a plain file) and cache-line flushes (the file
// treated as pmem with bsopts durability=emulated, as the quick start does).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>

#include "engine_fixture.h"
#include "pmem_medium.h"
#include "scratch_dir.h"

namespace tgt_pmem::testing {
namespace {

using namespace bs::scsi;

constexpr std::uint64_t kSize = 4 << 20, kKept = 2 << 20;
constexpr std::uint64_t kFirstLost = kKept / 512;

struct Param {
  const char* name;
  bs::Durability choice;
  const char* durability;   // what the flusher must be, to know the case is the one meant
};
// gtest prints the parameter of a failing case by this, not as raw bytes.
void PrintTo(const Param& p, std::ostream* os) { *os << p.name; }

class PmemMediaError : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "cannot make a scratch directory";
    path_ = dir_.file("lun.img");
    std::ofstream(path_).close();
    std::filesystem::resize_file(path_, kSize);
    auto m = bs::PmemMedium::open(path_, 1 << 20, GetParam().choice);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(flush::to_string((*m)->flusher().method()), GetParam().durability);
    EXPECT_TRUE((*m)->bad_ranges_at_open().empty());  // a plain file: libpmem2 knows none
    lun_ = std::make_unique<bs::Lun>(std::move(*m), 512);
    all_ = pattern(kSize, 7);
    ASSERT_EQ(run(cdb16(op::kWrite16, 0, kSize / 512), all_).status, kStatusGood);
  }
  void TearDown() override { lun_.reset(); }

  bs::Result run(std::vector<std::uint8_t> c, std::span<const std::byte> out = {},
                 std::span<std::byte> in = {}, bool wce = false) {
    if (lun_->write_cache() != wce && !lun_->set_write_cache(wce)) {
      bs::Result r;
      r.status = kStatusCheckCondition;
      return r;
    }
    return bs::execute(*lun_, {c, out, in});
  }
  void shrink() { std::filesystem::resize_file(path_, kKept); }
  static void expect_error(const bs::Result& r, std::uint16_t asc, std::uint64_t lba) {
    expect_sense(r, key::kMediumError, asc);
    EXPECT_TRUE(r.info_valid);
    EXPECT_EQ(r.info, lba);
  }

  ScratchDir dir_{"tgtpmem-mediaerr"};
  std::string path_;
  std::unique_ptr<bs::Lun> lun_;
  std::vector<std::byte> all_;
};

TEST_P(PmemMediaError, ReadOfTruncatedBlocksIsAnUnrecoveredReadError) {
  shrink();
  std::vector<std::byte> buf(200 * 512);
  expect_error(run(cdb16(op::kRead16, kFirstLost - 100, 200), {}, buf),
               asc::kUnrecoveredReadError, kFirstLost);
  expect_error(run(cdb16(op::kRead16, kFirstLost + 1000, 1), {}, std::span(buf).first(512)),
               asc::kUnrecoveredReadError, kFirstLost + 1000);
  // What is left reads back.
  std::vector<std::byte> kept(kKept);
  ASSERT_EQ(run(cdb16(op::kRead16, 0, kFirstLost), {}, kept).status, kStatusGood);
  EXPECT_TRUE(std::equal(kept.begin(), kept.end(), all_.begin()));
}

TEST_P(PmemMediaError, WriteOfTruncatedBlocksIsAWriteError) {
  shrink();
  expect_error(run(cdb16(op::kWrite16, kFirstLost - 8, 16), pattern(16 * 512, 1)),
               asc::kWriteError, kFirstLost);
  expect_error(run(cdb16(op::kWrite16, kFirstLost + 77, 1), pattern(512, 1)), asc::kWriteError,
               kFirstLost + 77);
  expect_error(run(cdb16(op::kWriteSame16, kFirstLost - 3, 10), pattern(512, 2)),
               asc::kWriteError, kFirstLost);
  // FUA and write-cache writes go through the same guard.
  expect_error(run(cdb16(op::kWrite16, kFirstLost + 9, 1, 0x08), pattern(512, 1), {}, true),
               asc::kWriteError, kFirstLost + 9);
  expect_error(run(cdb16(op::kWrite16, kFirstLost + 17, 1), pattern(512, 1), {}, true),
               asc::kWriteError, kFirstLost + 17);
  // The blocks that are left take writes.
  const auto fresh = pattern(8 * 512, 9);
  ASSERT_EQ(run(cdb16(op::kWrite16, 100, 8), fresh).status, kStatusGood);
  std::vector<std::byte> back(8 * 512);
  ASSERT_EQ(run(cdb16(op::kRead16, 100, 8), {}, back).status, kStatusGood);
  EXPECT_EQ(back, fresh);
  EXPECT_EQ(run(cdb16(op::kSyncCache16, 0, 0)).status, kStatusGood);
}

TEST_P(PmemMediaError, CommandsOnAWorkerThreadThatBlocksEverySignal) {
  // As with bsopts exec=threads: tgt's workers block every signal.
  shrink();
  bs::Result read_r, write_r;
  std::thread t([&] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<std::byte> buf(4096);
    read_r = run(cdb16(op::kRead16, kFirstLost + 8, 8), {}, buf);
    write_r = run(cdb16(op::kWrite16, kFirstLost + 16, 8), pattern(4096, 3));
  });
  t.join();
  expect_error(read_r, asc::kUnrecoveredReadError, kFirstLost + 8);
  expect_error(write_r, asc::kWriteError, kFirstLost + 16);
}

TEST_P(PmemMediaError, ARegrownFileIsWrittenAfreshPageByPage) {
  shrink();
  std::vector<std::byte> buf(8 * 512);
  expect_error(run(cdb16(op::kRead16, kFirstLost, 8), {}, buf), asc::kUnrecoveredReadError,
               kFirstLost);
  std::filesystem::resize_file(path_, kSize);  // the administrator puts the space back
  expect_error(run(cdb16(op::kRead16, kFirstLost, 8), {}, buf), asc::kUnrecoveredReadError,
               kFirstLost);  // learnt: still bad until written
  const auto page = pattern(4096, 5);
  ASSERT_EQ(run(cdb16(op::kWrite16, kFirstLost, 8), page).status, kStatusGood);
  ASSERT_EQ(run(cdb16(op::kRead16, kFirstLost, 8), {}, buf).status, kStatusGood);
  EXPECT_EQ(buf, page);
}

INSTANTIATE_TEST_SUITE_P(Durability, PmemMediaError,
                         ::testing::Values(Param{"Msync", bs::Durability::kAuto, "msync"},
                                           Param{"CacheFlush", bs::Durability::kEmulated,
                                                 "cache-flush"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PmemMediaErrorWriteCache, SynchronizeCacheOfALostDirtyPageIsAWriteError) {
  // Cache-line flushing: the CLWB/CLFLUSH of a page that is gone faults like a load.
  const ScratchDir dir("tgtpmem-mediaerr");
  ASSERT_FALSE(dir.path().empty()) << "cannot make a scratch directory";
  const std::string path = dir.file("lun.img");
  std::ofstream(path).close();
  std::filesystem::resize_file(path, kSize);
  auto m = bs::PmemMedium::open(path, 1 << 20, bs::Durability::kEmulated);
  ASSERT_TRUE(m) << m.error().message;
  {
    bs::Lun lun(std::move(*m), 512);
    ASSERT_TRUE(lun.set_write_cache(true));
    auto run = [&](std::vector<std::uint8_t> c, std::span<const std::byte> out = {}) {
      return bs::execute(lun, {c, out, {}});
    };
    ASSERT_EQ(run(cdb16(op::kWrite16, kFirstLost + 40, 1), pattern(512, 1)).status, kStatusGood);
    std::filesystem::resize_file(path, kKept);
    const auto r = run(cdb16(op::kSyncCache16, 0, 0));
    expect_sense(r, key::kMediumError, asc::kWriteError);
    EXPECT_TRUE(r.info_valid);
    EXPECT_EQ(r.info, kFirstLost + 40);
  }
}

}  // namespace
}  // namespace tgt_pmem::testing
