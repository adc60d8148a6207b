// SPDX-License-Identifier: GPL-2.0-only
// The module's C ABI on real files, with msync and fdatasync interposed (syscall_recorder.h):
// what reaches the medium when an administrator deletes a LUN, when an initiator turns the
// write cache off, when a flush fails, and when push mode commits over a lost page.
// Bugs these catch (issue 13): closing a LUN without flushing its write cache (defect 4);
// turning the cache off without flushing (defect 3); a failed flush retried and trusted
// (defect 5); push-mode COMMIT touching a truncated file outside the SIGBUS guard (defect 7).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cdb_builders.h"
#include "mirror/meta_store.h"
#include "pmem_medium.h"
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
  // A mirror metadata store for this LUN at the scratch file `name`, with role and current
  // generation; its path.
  std::string format_meta(const char* name, bs::mirror::Role role, std::uint64_t current) {
    const std::string meta = dir_.file(name);
    std::ofstream(meta).close();
    std::filesystem::resize_file(meta, 12288);
    auto m = bs::PmemMedium::open(meta.c_str(), 8192, bs::Durability::kAuto);
    EXPECT_TRUE(m) << m.error().message;
    if (!m) return meta;
    auto s = bs::mirror::MetaStore::format(**m, {role, bs::mirror::Generations{current, 0, {}}, kSize, 20});
    EXPECT_TRUE(s) << s.error();
    return meta;
  }

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

// A mirror primary whose secondary is away: this host has no RDMA, so its connect never
// succeeds; the loop handed to it runs a watch only when the test says so (until then the
// first connect is under way). Bugs caught: policy fail writing the
// primary alone or answering GOOD; policy degrade answering GOOD before the generation moved
// on durably or without the write's region marked; a block-changing command executed
// without the mirror; a read taken by it.
class CApiPrimary : public CApi {
 protected:
  void open_primary(const char* policy) {
    meta_ = format_meta("pri.meta", bs::mirror::Role::kPrimary, 5);
    open(("durability=emulated;mirror_meta=" + meta_ +
          ";mirror=192.0.2.1;mirror_target=iqn.2026-12.org.tgt-pmem:sec;mirror_policy=" + policy)
             .c_str());
    tgtpmem_loop_ops ops{};
    ops.ctx = this;
    ops.event_add = [](void* ctx, int fd, void (*handler)(int, int, void*), void* data) {
      static_cast<CApiPrimary*>(ctx)->watches_.push_back({fd, handler, data});
      return 0;
    };
    ops.event_del = [](void* ctx, int fd) {
      auto& w = static_cast<CApiPrimary*>(ctx)->watches_;
      std::erase_if(w, [fd](const Watch& x) { return x.fd == fd; });
    };
    ops.log = [](void* ctx, int, const char* m) { static_cast<CApiPrimary*>(ctx)->logs_ += m; };
    char err[256] = "";
    ASSERT_EQ(tgtpmem_lun_mirror_start(lun_, &ops, "lun", err, sizeof err), 0) << err;
    ASSERT_EQ(tgtpmem_lun_mirror_primary(lun_), 1);
  }
  // A command through the mirror: 1 and *r if taken (done must have been called by the time
  // the loop would run: the secondary is away, nothing waits for it).
  int submit(std::vector<std::uint8_t> cdb, std::vector<std::uint8_t>& data, tgtpmem_result* r,
             bool read = false) {
    tgtpmem_cmd cmd{cdb.data(), static_cast<std::uint32_t>(cdb.size()),
                    read ? nullptr : data.data(), read ? 0u : static_cast<std::uint32_t>(data.size()),
                    read ? data.data() : nullptr, read ? static_cast<std::uint32_t>(data.size()) : 0u,
                    0};
    done_ = 0;
    const int taken = tgtpmem_mirror_submit(lun_, &cmd, r, [](void* a) { ++*static_cast<int*>(a); },
                                            &done_);
    if (taken) {
      EXPECT_EQ(done_, 1) << "not completed exactly once";
    }
    return taken;
  }
  // Runs the loop's watches once their fd is readable, as tgtd's loop would: the connect's
  // result (a failure: no RDMA here) arrives. Returns false if none became readable in 10 s.
  bool deliver_connect_result() {
    for (int i = 0; i < 1000; ++i) {
      for (const Watch w : std::vector<Watch>(watches_)) {
        pollfd p{w.fd, POLLIN, 0};
        if (::poll(&p, 1, 0) == 1) {
          w.handler(w.fd, EPOLLIN, w.data);
          return true;
        }
      }
      ::usleep(10000);
    }
    return false;
  }
  struct Watch {
    int fd;
    void (*handler)(int, int, void*);
    void* data;
  };
  std::vector<Watch> watches_;
  std::string meta_;
  std::string logs_;
  int done_ = 0;
};

// Bug caught: a write refused for good (MANUAL INTERVENTION) while the secondary is still
// being connected to, just after tgtd started: initiators give up on that at once, where
// they retry BECOMING READY after a delay.
TEST_F(CApiPrimary, PolicyFailWritesNothingAndSaysNotReady) {
  open_primary("fail");
  std::vector<std::uint8_t> data(4096, 0x5a);
  tgtpmem_result r{};
  ASSERT_EQ(submit(testing::cdb16(op::kWrite16, 8, 8), data, &r), 1);
  EXPECT_EQ(r.status, kStatusCheckCondition);
  EXPECT_EQ(r.sense_key, key::kNotReady);
  EXPECT_EQ(r.asc, asc::kNotReadyBecomingReady) << "the first connect is still under way";
  EXPECT_EQ(at(8)[0], 0) << "policy fail wrote the primary alone";
  // The first connect fails (no RDMA on this host): from now on an administrator is needed.
  ASSERT_TRUE(deliver_connect_result()) << "the connect's result never arrived";
  EXPECT_NE(logs_.find("mirror: secondary"), std::string::npos) << logs_;
  r = {};
  ASSERT_EQ(submit(testing::cdb16(op::kWrite16, 8, 8), data, &r), 1);
  EXPECT_EQ(r.status, kStatusCheckCondition);
  EXPECT_EQ(r.sense_key, key::kNotReady);
  EXPECT_EQ(r.asc, asc::kNotReadyManualIntervention);
  EXPECT_EQ(at(8)[0], 0) << "policy fail wrote the primary alone";
  tgtpmem_result u{};
  ASSERT_EQ(submit(testing::cdb16(op::kWriteSame16, 100, 4), data, &u), 1);
  EXPECT_EQ(u.sense_key, key::kNotReady);
  EXPECT_NE(logs_.find("policy fail"), std::string::npos) << logs_;
}

TEST_F(CApiPrimary, PolicyDegradeMovesTheGenerationOnAndMarksTheRegion) {
  open_primary("degrade");
  std::vector<std::uint8_t> data(4096, 0x5a);
  tgtpmem_result r{};
  ASSERT_EQ(submit(testing::cdb16(op::kWrite16, 8, 8), data, &r), 1);
  EXPECT_EQ(r.status, kStatusGood);
  EXPECT_EQ(at(8)[0], 0x5a);
  tgtpmem_mirror_state st{};
  ASSERT_EQ(tgtpmem_lun_mirror_get(lun_, &st), 0);
  EXPECT_EQ(st.role, TGTPMEM_MIRROR_PRIMARY);
  EXPECT_EQ(st.bitmap, 5u) << "GOOD on one copy before the generation moved on";
  EXPECT_NE(st.current, 5u);
  // The record and the bitmap as a restarted tgtd finds them on the medium.
  ASSERT_EQ(tgtpmem_lun_close(lun_), 0);
  lun_ = nullptr;
  auto m = bs::PmemMedium::open(meta_.c_str(), 8192, bs::Durability::kAuto);
  ASSERT_TRUE(m);
  auto store = bs::mirror::MetaStore::open(**m);
  ASSERT_TRUE(store) << store.error();
  EXPECT_EQ((*store)->record().generations.bitmap, 5u);
  EXPECT_TRUE((*store)->bitmap().is_marked(0)) << "the degraded write's region is not marked";
}

TEST_F(CApiPrimary, ReadsAndRefusedCommandsStayLocal) {
  open_primary("fail");
  std::vector<std::uint8_t> data(4096);
  tgtpmem_result r{};
  EXPECT_EQ(submit(testing::cdb16(op::kRead16, 0, 8), data, &r, /*read=*/true), 0);
  EXPECT_EQ(submit(testing::cdb16(op::kSyncCache16, 0, 0), data, &r), 0);
  // Beyond the LUN: the engine refuses it, nothing to mirror.
  EXPECT_EQ(submit(testing::cdb16(op::kWrite16, kSize / 512, 8), data, &r), 0);
}

// A mirror secondary (issue 16, bsopts mirror_meta=): every command that changes blocks is
// refused with DATA PROTECT, WRITE PROTECTED, before it touches the medium; reads are
// served; the generations a primary records (MIRROR_STATE, through the glue) are durable in
// the metadata store. Bug it catches: a block-changing opcode missing from the refusal (an
// initiator's WRITE SAME or UNMAP would change the secondary behind its primary's back).
TEST_F(CApi, AMirrorSecondaryRefusesEveryBlockChangingCommand) {
  const std::string meta = format_meta("sec.meta", bs::mirror::Role::kSecondary, 7);
  std::ofstream(path_, std::ios::binary | std::ios::in | std::ios::out).write("primary's", 9);
  open(("durability=emulated;unmap=on;mirror_meta=" + meta).c_str());
  std::vector<std::uint8_t> data(512 * 8, 0x6b);
  auto run = [&](std::vector<std::uint8_t> cdb, std::uint32_t out_len) {
    tgtpmem_cmd cmd{cdb.data(), static_cast<std::uint32_t>(cdb.size()), data.data(), out_len,
                    nullptr, 0, 0};
    tgtpmem_result r{};
    tgtpmem_execute(lun_, &cmd, &r);
    return r;
  };
  std::vector<std::uint8_t> w6 = {op::kWrite6, 0, 0, 1, 1, 0};
  std::vector<std::uint8_t> unmap(10, 0);
  unmap[0] = op::kUnmap;
  unmap[8] = 24;
  std::vector<std::uint8_t> w12(12, 0);
  w12[0] = op::kWrite12;
  w12[9] = 1;
  std::vector<std::uint8_t> wv12 = w12;
  wv12[0] = op::kWriteVerify12;
  const std::vector<std::pair<std::vector<std::uint8_t>, std::uint32_t>> writes = {
      {w6, 512},
      {testing::cdb10(op::kWrite10, 1, 1), 512},
      {w12, 512},
      {testing::cdb16(op::kWrite16, 1, 1), 512},
      {testing::cdb10(op::kWriteVerify10, 1, 1), 512},
      {wv12, 512},
      {testing::cdb16(op::kWriteVerify16, 1, 1), 512},
      {testing::cdb10(op::kWriteSame10, 1, 4), 512},
      {testing::cdb16(op::kWriteSame16, 1, 4), 512},
      {unmap, 24},
      {testing::cdb16(op::kCompareAndWrite, 0, 1), 1024},
      {testing::cdb16(op::kOrWrite16, 1, 1), 512},
      {testing::cdb16(op::kWriteAtomic16, 1, 1), 512},
  };
  for (const auto& [cdb, len] : writes) {
    const tgtpmem_result r = run(cdb, len);
    EXPECT_EQ(r.status, kStatusCheckCondition) << "opcode 0x" << std::hex << int{cdb[0]};
    EXPECT_EQ(r.sense_key, key::kDataProtect) << "opcode 0x" << std::hex << int{cdb[0]};
    EXPECT_EQ(r.asc, asc::kWriteProtected) << "opcode 0x" << std::hex << int{cdb[0]};
  }
  EXPECT_EQ(std::string(at(0), 9), "primary's");
  for (std::uint64_t lba = 1; lba < 8; ++lba) EXPECT_EQ(at(lba)[0], 0) << "block " << lba;
  std::vector<std::uint8_t> in(512);
  auto rd = testing::cdb16(op::kRead16, 0, 1);
  tgtpmem_cmd read{rd.data(), 16, nullptr, 0, in.data(), 512, 0};
  tgtpmem_result rr{};
  tgtpmem_execute(lun_, &read, &rr);
  EXPECT_EQ(rr.status, kStatusGood);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(in.data()), 9), "primary's");
  EXPECT_EQ(run(testing::cdb16(op::kSyncCache16, 0, 0), 0).status, kStatusGood);

  tgtpmem_mirror_state st{};
  ASSERT_EQ(tgtpmem_lun_mirror_get(lun_, &st), 0);
  EXPECT_EQ(st.role, TGTPMEM_MIRROR_SECONDARY);
  EXPECT_EQ(st.current, 7u);
  const tgtpmem_mirror_state next{TGTPMEM_MIRROR_SECONDARY, 9, 0, 7, 0};
  ASSERT_EQ(tgtpmem_lun_mirror_set(lun_, &next), 0);
  tgtpmem_lun_close(lun_);
  lun_ = nullptr;
  auto m = bs::PmemMedium::open(meta.c_str(), 8192, bs::Durability::kAuto);
  ASSERT_TRUE(m);
  auto s = bs::mirror::MetaStore::open(**m);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ((*s)->record().generations, (bs::mirror::Generations{9, 0, {7, 0}}));
}

TEST_F(CApi, ALunWithoutMirrorMetadataHasNoMirrorState) {
  open("durability=emulated");
  tgtpmem_mirror_state st{};
  EXPECT_EQ(tgtpmem_lun_mirror_get(lun_, &st), -ENOENT);
  EXPECT_EQ(tgtpmem_lun_mirror_set(lun_, &st), -ENOENT);
  EXPECT_EQ(write(0, 1).status, kStatusGood);
}

}  // namespace
}  // namespace tgt_pmem::crash
