// SPDX-License-Identifier: GPL-2.0-only
// The module's C ABI on real files, with msync and fdatasync interposed (syscall_recorder.h):
// what reaches the medium when an administrator deletes a LUN, when an initiator turns the
// write cache off, when a flush fails, and when push mode commits over a lost page.
// Bugs these catch (issue 13): closing a LUN without flushing its write cache (defect 4);
// turning the cache off without flushing (defect 3); a failed flush retried and trusted
// (defect 5); push-mode COMMIT touching a truncated file outside the SIGBUS guard (defect 7).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cdb_builders.h"
#include "scratch_dir.h"
#include "scsi_codes.h"
#include "syscall_recorder.h"
#include "tgt_pmem/bs_pmem.h"

namespace tgt_pmem::crash {
namespace {

using testing::SyscallRecorder;
using namespace bs::scsi;

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("lun.img");
    std::ofstream(path_).close();
    std::filesystem::resize_file(path_, kSize);
    SyscallRecorder::get().clear();
  }
  void TearDown() override {
    if (lun_) tgtpmem_lun_close(lun_);
    if (opts_) tgtpmem_options_free(opts_);
  }
  void open(const char* bsopts = "") {
    char err[256];
    ASSERT_EQ(tgtpmem_options_parse(bsopts, &opts_, err, sizeof err), 0) << err;
    ASSERT_EQ(tgtpmem_lun_open(path_.c_str(), opts_, 512, &lun_, err, sizeof err), 0) << err;
    std::uint64_t size = 0;
    ASSERT_EQ(tgtpmem_lun_expose(lun_, reinterpret_cast<void**>(&base_), &size), 0);
  }
  tgtpmem_result write(std::uint64_t lba, std::uint32_t blocks, bool fua = false) {
    auto c = testing::cdb16(op::kWrite16, lba, blocks, fua ? 0x08 : 0);
    std::vector<std::uint8_t> data(std::size_t{blocks} * 512, 0x6b);
    tgtpmem_cmd cmd{c.data(), 16, data.data(), static_cast<std::uint32_t>(data.size()), nullptr, 0, 0};
    tgtpmem_result r{};
    tgtpmem_execute(lun_, &cmd, &r);
    return r;
  }
  const char* at(std::uint64_t lba) const { return base_ + lba * 512; }

  static constexpr std::uint64_t kSize = 4 << 20;
  tgt_pmem::testing::ScratchDir dir_{"tgtpmem-capi"};
  std::string path_;
  tgtpmem_options* opts_ = nullptr;
  tgtpmem_lun* lun_ = nullptr;
  char* base_ = nullptr;
};

TEST_F(CApi, ClosingALunFlushesItsWriteCache) {
  open("write_cache=on");
  ASSERT_EQ(tgtpmem_lun_set_write_cache(lun_, 1), 0);
  ASSERT_EQ(write(40, 8).status, TGTPMEM_STATUS_GOOD);
  EXPECT_FALSE(SyscallRecorder::get().msynced(at(40), 8 * 512)) << "cached, not yet flushed";
  const char* where = at(40);
  EXPECT_EQ(tgtpmem_lun_close(lun_), 0);
  lun_ = nullptr;
  EXPECT_TRUE(SyscallRecorder::get().msynced(where, 8 * 512));
}

TEST_F(CApi, TurningTheWriteCacheOffMsyncsWhatItHeld) {
  open("write_cache=on");
  ASSERT_EQ(tgtpmem_lun_set_write_cache(lun_, 1), 0);
  ASSERT_EQ(write(100, 4).status, TGTPMEM_STATUS_GOOD);
  ASSERT_EQ(write(3000, 4).status, TGTPMEM_STATUS_GOOD);
  EXPECT_FALSE(SyscallRecorder::get().msynced(at(100), 4 * 512));
  ASSERT_EQ(tgtpmem_lun_set_write_cache(lun_, 0), 0);
  EXPECT_TRUE(SyscallRecorder::get().msynced(at(100), 4 * 512));
  EXPECT_TRUE(SyscallRecorder::get().msynced(at(3000), 4 * 512));
}

TEST_F(CApi, AFailedFlushIsLatchedAndNeverRetried) {
  open("write_cache=on");
  ASSERT_EQ(tgtpmem_lun_set_write_cache(lun_, 1), 0);
  ASSERT_EQ(write(7, 1).status, TGTPMEM_STATUS_GOOD);
  EXPECT_EQ(tgtpmem_lun_flush_error(lun_), 0);
  SyscallRecorder::get().fail_next(1, EIO);  // Linux reports a writeback error once
  EXPECT_EQ(tgtpmem_lun_sync(lun_), -EIO);
  const std::size_t calls_after_failure = SyscallRecorder::get().calls().size();
  EXPECT_EQ(tgtpmem_lun_flush_error(lun_), EIO);
  EXPECT_EQ(tgtpmem_lun_take_flush_error_report(lun_), EIO) << "reported once";
  EXPECT_EQ(tgtpmem_lun_take_flush_error_report(lun_), 0);
  // The next msync would succeed without having written the lost pages: never trust it.
  EXPECT_EQ(tgtpmem_lun_sync(lun_), -EIO);
  ASSERT_EQ(write(8, 1).status, TGTPMEM_STATUS_GOOD) << "a cached write claims nothing";
  const auto fua = write(9, 1, /*fua=*/true);
  EXPECT_EQ(fua.status, TGTPMEM_STATUS_CHECK_CONDITION);
  EXPECT_EQ(fua.sense_key, key::kMediumError);
  EXPECT_EQ(fua.asc, asc::kWriteError);
  EXPECT_EQ(tgtpmem_lun_set_write_cache(lun_, 0), -EIO) << "turning the cache off cannot flush";
  EXPECT_EQ(write(10, 1).status, TGTPMEM_STATUS_CHECK_CONDITION) << "write-through";
  EXPECT_EQ(SyscallRecorder::get().calls().size(), calls_after_failure)
      << "nothing may be flushed again until the LUN is re-opened";
  // Re-opening (an administrator's action) starts afresh.
  EXPECT_EQ(tgtpmem_lun_close(lun_), -EIO);
  lun_ = nullptr;
  tgtpmem_options_free(opts_);
  opts_ = nullptr;
  open();
  EXPECT_EQ(tgtpmem_lun_flush_error(lun_), 0);
  EXPECT_EQ(write(10, 1).status, TGTPMEM_STATUS_GOOD);
}

// Defect 6: PMEM2_FORCE_GRANULARITY in tgtd's environment made every plain-file LUN skip
// msync. The variable must not weaken a LUN that did not ask for emulation.
TEST_F(CApi, TheEnvironmentCannotMakeAPlainFileSkipMsync) {
  ::setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);
  open();
  ::unsetenv("PMEM2_FORCE_GRANULARITY");
  tgtpmem_lun_info info{};
  tgtpmem_lun_get_info(lun_, &info);
  EXPECT_STREQ(info.durability, "msync");
  EXPECT_EQ(info.emulated, 0);
  ASSERT_EQ(write(5, 8).status, TGTPMEM_STATUS_GOOD);
  EXPECT_TRUE(SyscallRecorder::get().msynced(at(5), 8 * 512));
}

TEST_F(CApi, EmulatedPmemIsCacheFlushWithoutAnyMsync) {
  open("durability=emulated");
  tgtpmem_lun_info info{};
  tgtpmem_lun_get_info(lun_, &info);
  EXPECT_STREQ(info.durability, "cache-flush");
  EXPECT_EQ(info.emulated, 1);
  ASSERT_EQ(write(5, 8).status, TGTPMEM_STATUS_GOOD);
  EXPECT_TRUE(SyscallRecorder::get().calls().empty());
}

TEST_F(CApi, DurabilityThatDoesNotFitTheMediumIsRefused) {
  char err[256];
  ASSERT_EQ(tgtpmem_options_parse("durability=cache-flush", &opts_, err, sizeof err), 0);
  EXPECT_EQ(tgtpmem_lun_open(path_.c_str(), opts_, 512, &lun_, err, sizeof err),
            TGTPMEM_E_DURABILITY);
  EXPECT_NE(std::string(err).find("would weaken it"), std::string::npos) << err;
}

// Issue 14: every failed command was logged, so an initiator could flood tgtd's log (reads of a
// bad range, or out-of-range LBAs, in a loop). At most TGTPMEM_LOG_LINES_PER_MINUTE lines a
// minute per LUN; the failed command's LBA is known for the line.
TEST_F(CApi, FailedCommandLogLinesAreRateLimitedAndNameTheLba) {
  open();
  std::vector<std::uint8_t> c = testing::cdb16(op::kRead16, 1u << 30, 8);  // past the end
  std::vector<std::uint8_t> in(8 * 512);
  tgtpmem_cmd cmd{c.data(), 16, nullptr, 0, in.data(), static_cast<std::uint32_t>(in.size()), 0};
  tgtpmem_result r{};
  tgtpmem_execute(lun_, &cmd, &r);
  EXPECT_EQ(r.status, TGTPMEM_STATUS_CHECK_CONDITION);
  EXPECT_EQ(r.lba_valid, 1);
  EXPECT_EQ(r.lba, 1u << 30);
  EXPECT_EQ(r.blocks, 8u);
  int allowed = 0;
  std::uint64_t suppressed = 0;
  for (int i = 0; i < 100; ++i) allowed += tgtpmem_lun_log_allowed(lun_, &suppressed);
  EXPECT_EQ(allowed, TGTPMEM_LOG_LINES_PER_MINUTE);
}

class CApiPush : public CApi, public ::testing::WithParamInterface<const char*> {};

// A push-mode COMMIT over pages of a file that was truncated underneath: EIO, not a SIGBUS
// that kills tgtd. msync (the page-touch loop before msync) and emulated (the flush itself).
TEST_P(CApiPush, CommitOverATruncatedFileIsAnErrorNotASignal) {
  open(GetParam());
  std::filesystem::resize_file(path_, kSize / 2);
  EXPECT_EQ(tgtpmem_lun_persist(lun_, kSize / 2 + 4096, 8192), -EIO);
  EXPECT_EQ(tgtpmem_lun_persist(lun_, 0, 8192), 0) << "the rest still works";
}

INSTANTIATE_TEST_SUITE_P(Durability, CApiPush,
                         ::testing::Values("durability=auto", "durability=emulated"),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "Msync" : "Emulated");
                         });

}  // namespace
}  // namespace tgt_pmem::crash
