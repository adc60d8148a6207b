// SPDX-License-Identifier: GPL-2.0-only
// Known bad ranges (as libpmem2 reports poisoned pmem at open) seen through SCSI commands on a
// memory medium: reads touching them fail with the first bad LBA, a write covering one wholly
// clears it, a write covering one in part fails with its LBA and stores nothing.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "engine_fixture.h"

namespace tgt_pmem::testing {
namespace {

using bs::Medium;
using namespace bs::scsi;

// Flushes nothing; fails every flush while `fail` is set.
class FailingFlusher final : public flush::Flusher {
 public:
  flush::Method method() const noexcept override { return flush::Method::kSimulated; }
  flush::Status flush(const void*, std::size_t) noexcept override {
    if (fail) return std::unexpected(std::error_code(EIO, std::generic_category()));
    return {};
  }
  flush::Status drain() noexcept override { return {}; }
  flush::Status sync_file() noexcept override { return {}; }
  bool fail = false;
};

struct BadLun {
  explicit BadLun(std::vector<Medium::ByteRange> bad, std::uint32_t block_size = 512,
                  std::error_code clear_error = {})
      : mem(1 << 20) {
    auto m = std::make_unique<MemoryMedium>(mem, flusher);
    m->bad_at_open = std::move(bad);
    m->clear_error = clear_error;
    medium = m.get();
    lun = std::make_unique<bs::Lun>(std::move(m), block_size);
  }
  bs::Result run(const std::vector<std::uint8_t>& c, std::span<const std::byte> out = {},
                 std::span<std::byte> in = {}) {
    return bs::execute(*lun, {c, out, in});
  }
  bs::Result read(std::uint64_t lba, std::uint32_t blocks, std::vector<std::byte>& into) {
    into.assign(std::size_t{blocks} * lun->block_size(), std::byte{0});
    return run(cdb16(op::kRead16, lba, blocks), {}, into);
  }
  bs::Result write(std::uint64_t lba, std::span<const std::byte> data) {
    return run(cdb16(op::kWrite16, lba, static_cast<std::uint32_t>(data.size() / lun->block_size())),
               data);
  }

  FailingFlusher flusher;
  std::vector<std::byte> mem;
  MemoryMedium* medium;
  std::unique_ptr<bs::Lun> lun;
};

void expect_medium_error(const bs::Result& r, std::uint16_t asc, std::uint64_t lba) {
  expect_sense(r, key::kMediumError, asc);
  EXPECT_TRUE(r.info_valid);
  EXPECT_EQ(r.info, lba);
}

// Bytes 100..399 of LBA 8 (512-byte blocks) are poisoned.
const std::vector<Medium::ByteRange> kPoisonInLba8 = {{8 * 512 + 100, 300}};

TEST(MediaErrors, ReadTouchingABadRangeFailsWithItsFirstLba) {
  BadLun l(kPoisonInLba8);
  std::vector<std::byte> buf;
  expect_medium_error(l.read(0, 16, buf), asc::kUnrecoveredReadError, 8);
  expect_medium_error(l.read(8, 1, buf), asc::kUnrecoveredReadError, 8);
  EXPECT_EQ(l.read(0, 8, buf).status, kStatusGood);
  EXPECT_EQ(l.read(9, 100, buf).status, kStatusGood);
}

TEST(MediaErrors, ReadFailsAtTheFirstOfSeveralBadRanges) {
  BadLun l({{40 * 512, 512}, {20 * 512 + 511, 1}});
  std::vector<std::byte> buf;
  expect_medium_error(l.read(10, 64, buf), asc::kUnrecoveredReadError, 20);
  expect_medium_error(l.read(21, 64, buf), asc::kUnrecoveredReadError, 40);
}

TEST(MediaErrors, WriteCoveringABadRangeWhollyClearsItAndSucceeds) {
  BadLun l(kPoisonInLba8);
  const auto data = pattern(2 * 512, 3);
  ASSERT_EQ(l.write(8, data).status, kStatusGood);
  ASSERT_EQ(l.medium->cleared.size(), 1u);
  EXPECT_EQ(l.medium->cleared[0].offset, 8u * 512 + 100);
  EXPECT_EQ(l.medium->cleared[0].len, 300u);
  std::vector<std::byte> buf;
  ASSERT_EQ(l.read(0, 16, buf).status, kStatusGood);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin() + 8 * 512));
}

TEST(MediaErrors, WritePartlyCoveringABadRangeFailsWithItsLbaAndStoresNothing) {
  BadLun l({{8 * 512, 1024}});  // LBAs 8 and 9
  const auto data = pattern(3 * 512, 5);  // LBAs 7..9: covers the range
  const auto before = l.mem;
  expect_medium_error(l.write(6, std::span(data).first(3 * 512)), asc::kWriteError, 8);  // 6..8
  expect_medium_error(l.write(9, std::span(data).first(512)), asc::kWriteError, 9);
  EXPECT_EQ(l.mem, before);
  EXPECT_TRUE(l.medium->cleared.empty());
  std::vector<std::byte> buf;
  expect_medium_error(l.read(0, 16, buf), asc::kUnrecoveredReadError, 8);  // still bad
  ASSERT_EQ(l.write(7, data).status, kStatusGood);
  EXPECT_EQ(l.read(0, 16, buf).status, kStatusGood);
}

TEST(MediaErrors, AFailedClearFailsTheWriteAndKeepsTheRange) {
  BadLun l(kPoisonInLba8, 512, std::error_code(EIO, std::generic_category()));
  const auto data = pattern(512, 1);
  const auto before = l.mem;
  expect_medium_error(l.write(8, data), asc::kWriteError, 8);
  EXPECT_EQ(l.mem, before);
  std::vector<std::byte> buf;
  expect_medium_error(l.read(8, 1, buf), asc::kUnrecoveredReadError, 8);
}

TEST(MediaErrors, WithFourKilobyteBlocksTheLbaIsInThoseBlocks) {
  BadLun l({{5 * 4096 + 4000, 200}}, 4096);  // the last bytes of LBA 5 and first of LBA 6
  std::vector<std::byte> buf;
  expect_medium_error(l.read(0, 8, buf), asc::kUnrecoveredReadError, 5);
  expect_medium_error(l.write(6, pattern(4096, 2)), asc::kWriteError, 6);
  ASSERT_EQ(l.write(5, pattern(2 * 4096, 2)).status, kStatusGood);
  EXPECT_EQ(l.read(0, 8, buf).status, kStatusGood);
}

TEST(MediaErrors, WriteSameClearsWhatItCoversAndFailsOnWhatItCutsThrough) {
  BadLun l({{8 * 512, 512}, {20 * 512, 1024}});
  const auto block = pattern(512, 9);
  // LBAs 0..20: covers LBA 8, cuts through the range at LBAs 20..21.
  expect_medium_error(l.run(cdb16(op::kWriteSame16, 0, 21), block), asc::kWriteError, 20);
  ASSERT_EQ(l.run(cdb16(op::kWriteSame16, 0, 22), block).status, kStatusGood);
  EXPECT_EQ(l.medium->cleared.size(), 2u);
  std::vector<std::byte> buf;
  EXPECT_EQ(l.read(0, 32, buf).status, kStatusGood);
}

TEST(MediaErrors, UnmapOfPartOfABadRangeFails) {
  BadLun l({{8 * 512, 4096}});
  expect_medium_error(l.run(cdb16(op::kWriteSame16, 8, 4, 0x08), pattern(512, 0)),
                      asc::kWriteError, 8);
  EXPECT_EQ(l.run(cdb16(op::kWriteSame16, 8, 8, 0x08), pattern(512, 0)).status, kStatusGood);
  std::vector<std::byte> buf;
  ASSERT_EQ(l.read(8, 8, buf).status, kStatusGood);
  EXPECT_EQ(buf, std::vector<std::byte>(8 * 512, std::byte{0}));
}

TEST(MediaErrors, CommandsThatReadFailWithUnrecoveredReadError) {
  BadLun l(kPoisonInLba8);
  const auto before = l.mem;
  // COMPARE AND WRITE of LBAs 7..8: the compare reads the bad block; nothing is written.
  auto caw = cdb16(op::kCompareAndWrite, 7, 0);
  caw[13] = 2;
  expect_medium_error(l.run(caw, pattern(4 * 512, 4)), asc::kUnrecoveredReadError, 8);
  // ORWRITE reads before it writes.
  expect_medium_error(l.run(cdb16(op::kOrWrite16, 6, 4), pattern(4 * 512, 4)),
                      asc::kUnrecoveredReadError, 8);
  // VERIFY with BYTCHK=01b and 11b.
  expect_medium_error(l.run(cdb16(op::kVerify16, 4, 8, 0x02), pattern(8 * 512, 0)),
                      asc::kUnrecoveredReadError, 8);
  expect_medium_error(l.run(cdb16(op::kVerify16, 4, 8, 0x06), pattern(512, 0)),
                      asc::kUnrecoveredReadError, 8);
  EXPECT_EQ(l.mem, before);
  // WRITE AND VERIFY covering the range clears it, and then reads it back fine.
  EXPECT_EQ(l.run(cdb16(op::kWriteVerify16, 8, 1, 0x02), pattern(512, 6)).status, kStatusGood);
}

TEST(MediaErrors, RangesReportedPastTheEndAreClipped) {
  BadLun l({{(1 << 20) - 512, 4096}, {1u << 30, 512}});
  std::vector<std::byte> buf;
  expect_medium_error(l.read(2040, 8, buf), asc::kUnrecoveredReadError, 2047);
  ASSERT_EQ(l.write(2047, pattern(512, 7)).status, kStatusGood);
  EXPECT_EQ(l.read(2040, 8, buf).status, kStatusGood);
}

TEST(MediaErrors, NoBadRangesNoInformationOnOtherFailures) {
  BadLun l({});
  std::vector<std::byte> buf;
  EXPECT_EQ(l.read(0, 2048, buf).status, kStatusGood);
  l.flusher.fail = true;
  const auto r = l.write(0, pattern(512, 1));
  expect_sense(r, key::kMediumError, asc::kWriteError);
  EXPECT_FALSE(r.info_valid);  // a failed flush is no bad block
}

// READ IN PLACE: a range with a known bad byte is never lent (the transport would send
// poison, or fail the connection instead of a MEDIUM ERROR); execute() then names the LBA.
TEST(MediaErrors, ReadInPlaceRefusesARangeWithAKnownBadByte) {
  BadLun l({{10 * 512 + 100, 1}});
  const auto c = cdb16(op::kRead16, 8, 4);
  const bs::Command cmd{c, {}, {static_cast<std::byte*>(nullptr), 4 * 512}};
  EXPECT_FALSE(bs::read_in_place(*l.lun, cmd));
  std::vector<std::byte> out;
  auto r = l.read(8, 4, out);
  expect_sense(r, key::kMediumError, asc::kUnrecoveredReadError);
  EXPECT_EQ(r.info, 10u);
  // The blocks before it are lent.
  const auto before = cdb16(op::kRead16, 0, 10);
  EXPECT_TRUE(
      bs::read_in_place(*l.lun, {before, {}, {static_cast<std::byte*>(nullptr), 10 * 512}}));
}

}  // namespace
}  // namespace tgt_pmem::testing
