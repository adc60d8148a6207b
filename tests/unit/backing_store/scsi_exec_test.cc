// SPDX-License-Identifier: GPL-2.0-only
// SBC-3 semantics of the engine, on a memory medium.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine_fixture.h"
#include "raw_layout.h"
#include "tgt_pmem/bs_pmem.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::testing {
namespace {

using namespace bs::scsi;

class ScsiExec : public ::testing::Test {
 protected:
  flush::RecordingFlusher flusher_;
  MemLun l_{1 << 20, flusher_};  // 2048 blocks of 512
};

TEST_F(ScsiExec, WriteThenReadReturnsTheData) {
  const auto data = pattern(8 * 512, 1);
  ASSERT_TRUE(l_.write(100, data).good());
  std::vector<std::byte> out(8 * 512);
  auto r = l_.read(100, out);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.in_len, out.size());
  EXPECT_EQ(out, data);
}

TEST_F(ScsiExec, Read6LengthZeroMeans256Blocks) {
  std::vector<std::uint8_t> c = {op::kRead6, 0, 0, 10, 0, 0};
  std::vector<std::byte> out(256 * 512);
  auto r = l_.run(c, {}, out);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.in_len, 256u * 512);
}

TEST_F(ScsiExec, ReadPastTheEndIsLbaOutOfRange) {
  std::vector<std::byte> out(2 * 512);
  expect_sense(l_.read(2047, out), key::kIllegalRequest, asc::kLbaOutOfRange);
  expect_sense(l_.read(UINT64_MAX, out), key::kIllegalRequest, asc::kLbaOutOfRange);
}

TEST_F(ScsiExec, WritePastTheEndChangesNothing) {
  const auto data = pattern(4 * 512, 2);
  const auto before = l_.mem;
  expect_sense(l_.write(2046, data), key::kIllegalRequest, asc::kLbaOutOfRange);
  EXPECT_EQ(l_.mem, before);
}

TEST_F(ScsiExec, CompareAndWriteWritesOnMatch) {
  const auto old_data = pattern(2 * 512, 3), new_data = pattern(2 * 512, 4);
  ASSERT_TRUE(l_.write(10, old_data).good());
  std::vector<std::byte> out(old_data);
  out.insert(out.end(), new_data.begin(), new_data.end());
  auto c = cdb16(op::kCompareAndWrite, 10, 0);
  c[13] = 2;
  ASSERT_TRUE(l_.run(c, out).good());
  std::vector<std::byte> back(2 * 512);
  ASSERT_TRUE(l_.read(10, back).good());
  EXPECT_EQ(back, new_data);
}

TEST_F(ScsiExec, CompareAndWriteMiscompareGivesTheOffsetAndWritesNothing) {
  const auto old_data = pattern(2 * 512, 3);
  ASSERT_TRUE(l_.write(10, old_data).good());
  std::vector<std::byte> out(old_data);
  out[700] ^= std::byte{1};
  const auto new_data = pattern(2 * 512, 5);
  out.insert(out.end(), new_data.begin(), new_data.end());
  auto c = cdb16(op::kCompareAndWrite, 10, 0);
  c[13] = 2;
  auto r = l_.run(c, out);
  expect_sense(r, key::kMiscompare, asc::kMiscompareDuringVerify);
  EXPECT_TRUE(r.info_valid);
  EXPECT_EQ(r.info, 700u);
  std::vector<std::byte> back(2 * 512);
  ASSERT_TRUE(l_.read(10, back).good());
  EXPECT_EQ(back, old_data);
}

TEST_F(ScsiExec, CompareAndWriteRefusesAWrongBufferLength) {
  auto c = cdb16(op::kCompareAndWrite, 0, 0);
  c[13] = 2;
  std::vector<std::byte> out(3 * 512);
  expect_sense(l_.run(c, out), key::kIllegalRequest, asc::kInvalidFieldInCdb);
}

// NUMBER OF LOGICAL BLOCKS 0 is a no-op, but not with data: 256 blocks do not fit the one-byte
// field and arrive as 0 with 512 blocks of data-out, which must not be answered GOOD.
TEST_F(ScsiExec, CompareAndWriteOfZeroBlocksIsANoOpWithoutDataAndRefusedWithIt) {
  const auto before = l_.mem;
  auto c = cdb16(op::kCompareAndWrite, 0, 0);
  EXPECT_TRUE(l_.run(c, {}).good());
  std::vector<std::byte> out(2 * 256 * 512, std::byte{'A'});
  expect_sense(l_.run(c, out), key::kIllegalRequest, asc::kInvalidFieldInCdb);
  EXPECT_EQ(l_.mem, before);
}

TEST_F(ScsiExec, VerifyBytchkComparesAndReportsTheOffset) {
  const auto data = pattern(4 * 512, 6);
  ASSERT_TRUE(l_.write(0, data).good());
  auto same = l_.run(cdb16(op::kVerify16, 0, 4, 0x02), data);
  EXPECT_TRUE(same.good());
  auto diff = data;
  diff[1500] ^= std::byte{0x80};
  auto r = l_.run(cdb16(op::kVerify16, 0, 4, 0x02), diff);
  expect_sense(r, key::kMiscompare, asc::kMiscompareDuringVerify);
  EXPECT_EQ(r.info, 1500u);
}

// A raw layout that remembers the largest single load() asked of it: what one command holds
// in memory at a time.
class LoadSizeRecorder final : public bs::Layout {
 public:
  explicit LoadSizeRecorder(bs::Medium& m) : raw_(m) {}
  std::uint64_t largest_load = 0;

  std::string_view name() const noexcept override { return raw_.name(); }
  std::uint64_t capacity() const noexcept override { return raw_.capacity(); }
  std::uint32_t max_atomic_blocks() const noexcept override { return raw_.max_atomic_blocks(); }
  flush::Status load(std::uint64_t offset, std::span<std::byte> dst) noexcept override {
    largest_load = std::max<std::uint64_t>(largest_load, dst.size());
    return raw_.load(offset, dst);
  }
  flush::Status store(std::uint64_t offset, std::span<const std::byte> src,
                      bs::Sync sync) noexcept override {
    return raw_.store(offset, src, sync);
  }
  flush::Status store_atomic(std::uint64_t offset,
                             std::span<const std::byte> src) noexcept override {
    return raw_.store_atomic(offset, src);
  }
  flush::Status store_repeated(std::uint64_t offset, std::uint64_t len,
                               std::span<const std::byte> pattern,
                               bs::Sync sync) noexcept override {
    return raw_.store_repeated(offset, len, pattern, sync);
  }
  flush::Status deallocate(std::uint64_t offset, std::uint64_t len,
                           bs::Sync sync) noexcept override {
    return raw_.deallocate(offset, len, sync);
  }
  flush::Status sync() noexcept override { return raw_.sync(); }
  std::expected<bs::Medium::Extent, std::error_code> extent_at(
      std::uint64_t offset) const noexcept override {
    return raw_.extent_at(offset);
  }

 private:
  bs::RawLayout raw_;
};

// A LUN of several VERIFY chunks (the last one partial for a range starting at LBA 1), its
// layout recording load sizes.
class VerifyChunks : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kChunk = bs::kVerifyChunkBytes;
  static constexpr std::uint32_t kBs = 512;
  static constexpr std::uint64_t kSize = 4 * kChunk;
  static constexpr std::uint64_t kBlocks = kSize / kBs;

  VerifyChunks() : mem_(kSize) {
    auto m = std::make_unique<MemoryMedium>(mem_, flusher_);
    auto layout = std::make_unique<LoadSizeRecorder>(*m);
    layout_ = layout.get();
    lun_ = std::make_unique<bs::Lun>(std::move(m), std::move(layout), kBs);
  }
  bs::Result run(const std::vector<std::uint8_t>& c, std::span<const std::byte> out) {
    return bs::execute(*lun_, {c, out, {}});
  }
  // Every block of the LUN holds `block`.
  void fill(std::span<const std::byte> block) {
    for (std::uint64_t b = 0; b < kBlocks; ++b)
      std::memcpy(mem_.data() + b * kBs, block.data(), kBs);
  }

  flush::RecordingFlusher flusher_;
  std::vector<std::byte> mem_;
  LoadSizeRecorder* layout_;
  std::unique_ptr<bs::Lun> lun_;
};

// Catches: VERIFY loading its whole range into one buffer (up to 2^32 blocks for one command
// whose Data-Out is a single block: 256 MiB and more held at once by BYTCHK=11b).
TEST_F(VerifyChunks, ByteCheckOfOneBlockLoadsABoundedAmountAtATime) {
  const auto block = pattern(kBs, 20);
  fill(block);
  ASSERT_TRUE(run(cdb16(op::kVerify16, 0, kBlocks, 0x06), block).good());
  EXPECT_GT(layout_->largest_load, 0u);
  EXPECT_LE(layout_->largest_load, kChunk) << "BYTCHK=11b over " << kSize << " bytes";

  layout_->largest_load = 0;
  std::vector<std::byte> whole(mem_);
  ASSERT_TRUE(run(cdb16(op::kVerify16, 0, kBlocks, 0x02), whole).good());
  EXPECT_LE(layout_->largest_load, kChunk) << "BYTCHK=01b over " << kSize << " bytes";
}

// Catches: a chunked compare that reports the offset within the chunk, or from the chunk's
// start, or misses a difference in a later or in a partial last chunk (BYTCHK=01b: the offset
// of the first differing byte in the Data-Out).
TEST_F(VerifyChunks, ByteCheckFindsDifferencesInLaterChunks) {
  const std::uint64_t lba = 1, blocks = kBlocks - 1;
  std::vector<std::byte> data = pattern(kSize, 21);
  std::memcpy(mem_.data(), data.data(), kSize);
  std::vector<std::byte> out(data.begin() + kBs, data.end());
  ASSERT_TRUE(run(cdb16(op::kVerify16, lba, blocks, 0x02), out).good());

  for (const std::uint64_t at : {kChunk + 700, out.size() - 1}) {
    auto diff = out;
    diff[at] ^= std::byte{0x10};
    auto r = run(cdb16(op::kVerify16, lba, blocks, 0x02), diff);
    expect_sense(r, key::kMiscompare, asc::kMiscompareDuringVerify);
    EXPECT_TRUE(r.info_valid);
    EXPECT_EQ(r.info, at);
  }
  // Two differences: the first is reported.
  auto diff = out;
  diff[3 * kChunk + 5] ^= std::byte{1};
  diff[kChunk - 1] ^= std::byte{1};
  auto r = run(cdb16(op::kVerify16, lba, blocks, 0x02), diff);
  expect_sense(r, key::kMiscompare, asc::kMiscompareDuringVerify);
  EXPECT_EQ(r.info, kChunk - 1);
}

// Catches: BYTCHK=11b reporting the offset within the block or within the chunk instead of
// from the start of the range, or missing a block of a later or of the partial last chunk.
TEST_F(VerifyChunks, OneBlockCheckFindsDifferencesInLaterChunks) {
  const std::uint64_t lba = 1, blocks = kBlocks - 1;
  const auto block = pattern(kBs, 22);
  fill(block);
  for (const std::uint64_t at : {kChunk + 3 * kBs + 17, kSize - 1}) {
    mem_[at] ^= std::byte{0x04};
    auto r = run(cdb16(op::kVerify16, lba, blocks, 0x06), block);
    expect_sense(r, key::kMiscompare, asc::kMiscompareDuringVerify);
    EXPECT_TRUE(r.info_valid);
    EXPECT_EQ(r.info, at - lba * kBs);
    mem_[at] ^= std::byte{0x04};
  }
  EXPECT_TRUE(run(cdb16(op::kVerify16, lba, blocks, 0x06), block).good());
}

TEST_F(ScsiExec, OrWriteOrsIntoTheMedium) {
  std::vector<std::byte> a(512, std::byte{0x0f}), b(512, std::byte{0xf0});
  ASSERT_TRUE(l_.write(5, a).good());
  ASSERT_TRUE(l_.run(cdb16(op::kOrWrite16, 5, 1), b).good());
  std::vector<std::byte> back(512);
  ASSERT_TRUE(l_.read(5, back).good());
  EXPECT_EQ(back, std::vector<std::byte>(512, std::byte{0xff}));
}

TEST_F(ScsiExec, WriteSameRepeatsTheBlock) {
  const auto block = pattern(512, 7);
  ASSERT_TRUE(l_.run(cdb16(op::kWriteSame16, 20, 30), block).good());
  std::vector<std::byte> back(30 * 512);
  ASSERT_TRUE(l_.read(20, back).good());
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(0, std::memcmp(back.data() + i * 512, block.data(), 512)) << "block " << i;
}

TEST_F(ScsiExec, WriteSameUnmapOfZerosDeallocates) {
  ASSERT_TRUE(l_.write(0, pattern(64 * 512, 8)).good());
  std::vector<std::byte> zero(512);
  ASSERT_TRUE(l_.run(cdb16(op::kWriteSame16, 16, 16, 0x08), zero).good());
  std::vector<std::byte> back(16 * 512);
  ASSERT_TRUE(l_.read(16, back).good());
  EXPECT_EQ(back, std::vector<std::byte>(16 * 512));
  auto e = l_.medium->extent_at(16 * 512);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->mapped);
}

TEST_F(ScsiExec, WriteSameUnmapDeallocatesWhateverTheData) {
  ASSERT_TRUE(l_.write(0, pattern(8 * 512, 9)).good());
  ASSERT_TRUE(l_.run(cdb16(op::kWriteSame16, 0, 8, 0x08), pattern(512, 10)).good());
  std::vector<std::byte> back(8 * 512);
  ASSERT_TRUE(l_.read(0, back).good());
  EXPECT_EQ(back, std::vector<std::byte>(8 * 512)) << "LBPRZ=1: unmapped blocks read as zeros";
}


TEST_F(ScsiExec, WriteSameWithoutDataBufferIsRefused) {
  expect_sense(l_.run(cdb16(op::kWriteSame16, 0, 8), {}), key::kIllegalRequest,
               asc::kParameterListLengthError);
}

std::vector<std::byte> unmap_list(std::vector<std::pair<std::uint64_t, std::uint32_t>> d) {
  std::vector<std::uint8_t> p(8 + 16 * d.size(), 0);
  const auto n = static_cast<std::uint16_t>(16 * d.size());
  p[0] = static_cast<std::uint8_t>((n + 6) >> 8);
  p[1] = static_cast<std::uint8_t>(n + 6);
  p[2] = static_cast<std::uint8_t>(n >> 8);
  p[3] = static_cast<std::uint8_t>(n);
  for (std::size_t i = 0; i < d.size(); ++i) {
    bs::cdb::put_be64(&p[8 + 16 * i], d[i].first);
    bs::cdb::put_be32(&p[8 + 16 * i + 8], d[i].second);
  }
  std::vector<std::byte> out(p.size());
  std::memcpy(out.data(), p.data(), p.size());
  return out;
}

std::vector<std::uint8_t> unmap_cdb(std::size_t len) {
  std::vector<std::uint8_t> c(10, 0);
  c[0] = op::kUnmap;
  c[7] = static_cast<std::uint8_t>(len >> 8);
  c[8] = static_cast<std::uint8_t>(len);
  return c;
}

TEST_F(ScsiExec, UnmapOverTheVpdLimitsIsRefused) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> many(TGTPMEM_MAX_UNMAP_DESCRIPTORS + 1,
                                                            {0, 1});
  auto list = unmap_list(many);
  expect_sense(l_.run(unmap_cdb(list.size()), list), key::kIllegalRequest,
               asc::kInvalidFieldInParameterList);
}

TEST_F(ScsiExec, UnmapZeroesEveryDescriptor) {
  ASSERT_TRUE(l_.write(0, pattern(64 * 512, 10)).good());
  auto list = unmap_list({{8, 8}, {40, 8}});
  ASSERT_TRUE(l_.run(unmap_cdb(list.size()), list).good());
  std::vector<std::byte> back(64 * 512);
  ASSERT_TRUE(l_.read(0, back).good());
  const auto orig = pattern(64 * 512, 10);
  for (int b = 0; b < 64; ++b) {
    const bool unmapped = (b >= 8 && b < 16) || (b >= 40 && b < 48);
    const auto expect = unmapped ? std::vector<std::byte>(512)
                                 : std::vector<std::byte>(orig.begin() + b * 512,
                                                          orig.begin() + (b + 1) * 512);
    EXPECT_EQ(0, std::memcmp(back.data() + b * 512, expect.data(), 512)) << "block " << b;
  }
}

TEST_F(ScsiExec, UnmapOutOfRangeChangesNothing) {
  ASSERT_TRUE(l_.write(0, pattern(16 * 512, 11)).good());
  const auto before = l_.mem;
  auto list = unmap_list({{0, 8}, {2040, 16}});
  expect_sense(l_.run(unmap_cdb(list.size()), list), key::kIllegalRequest, asc::kLbaOutOfRange);
  EXPECT_EQ(l_.mem, before) << "the valid first descriptor must not have been applied";
}

TEST_F(ScsiExec, UnmapShortParameterListIsALengthError) {
  std::vector<std::byte> list(4);
  expect_sense(l_.run(unmap_cdb(4), list), key::kIllegalRequest, asc::kParameterListLengthError);
  EXPECT_TRUE(l_.run(unmap_cdb(0), {}).good());
}

TEST_F(ScsiExec, GetLbaStatusReportsDeallocatedRuns) {
  ASSERT_TRUE(l_.write(0, pattern(2048 * 512, 12)).good());
  auto list = unmap_list({{16, 16}});  // 8 KiB = two 4 KiB granules of the memory medium
  ASSERT_TRUE(l_.run(unmap_cdb(list.size()), list).good());
  std::vector<std::uint8_t> c(16, 0);
  c[0] = op::kServiceActionIn16;
  c[1] = op::kSaGetLbaStatus;
  bs::cdb::put_be32(&c[10], 8 + 16 * 4);
  std::vector<std::byte> in(8 + 16 * 4);
  auto r = l_.run(c, {}, in);
  ASSERT_TRUE(r.good());
  const auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
  ASSERT_GE(r.in_len, 8u + 16 * 3);
  EXPECT_EQ(bs::cdb::be64(p + 8), 0u);
  EXPECT_EQ(bs::cdb::be32(p + 16), 16u);
  EXPECT_EQ(p[20], 0) << "mapped";
  EXPECT_EQ(bs::cdb::be64(p + 24), 16u);
  EXPECT_EQ(bs::cdb::be32(p + 32), 16u);
  EXPECT_EQ(p[36], 1) << "deallocated";
  EXPECT_EQ(bs::cdb::be64(p + 40), 32u);
  EXPECT_EQ(p[52], 0);
}

TEST_F(ScsiExec, UnknownOpcodeIsInvalidOpcode) {
  std::vector<std::uint8_t> c(10, 0);
  c[0] = 0xee;
  expect_sense(l_.run(c), key::kIllegalRequest, asc::kInvalidOpcode);
}

TEST_F(ScsiExec, TruncatedCdbIsRefusedNotRead) {
  std::vector<std::uint8_t> c = {op::kWrite16, 0, 0};
  expect_sense(l_.run(c), key::kIllegalRequest, asc::kInvalidOpcode);
}

// READ IN PLACE: the bytes a transport sends from the mapping are the ones execute() would copy.
bs::Command in_place_cmd(const std::vector<std::uint8_t>& c, std::size_t in_len) {
  return {c, {}, {static_cast<std::byte*>(nullptr), in_len}};
}

TEST_F(ScsiExec, ReadInPlacePointsAtTheBlocksExecuteWouldCopy) {
  const auto data = pattern(16 * 512, 3);
  ASSERT_TRUE(l_.write(200, data).good());
  const auto c = cdb16(op::kRead16, 200, 16);
  const auto at = bs::read_in_place(*l_.lun, in_place_cmd(c, data.size()));
  ASSERT_TRUE(at);
  ASSERT_EQ(at->len, data.size());
  // The medium's own bytes, at LBA 200: not a copy.
  EXPECT_EQ(at->data, l_.mem.data() + 200 * 512);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), at->data));
}

TEST_F(ScsiExec, ReadInPlaceIsBoundedByTheDataInBuffer) {
  // An initiator's Expected Data Transfer Length below the CDB's: only what fits is sent.
  const auto c = cdb16(op::kRead16, 0, 16);
  const auto at = bs::read_in_place(*l_.lun, in_place_cmd(c, 3 * 512));
  ASSERT_TRUE(at);
  EXPECT_EQ(at->len, 3u * 512);
  std::vector<std::uint8_t> r6 = {op::kRead6, 0, 0, 10, 0, 0};  // 0 blocks: 256
  const auto at6 = bs::read_in_place(*l_.lun, in_place_cmd(r6, 256 * 512));
  ASSERT_TRUE(at6);
  EXPECT_EQ(at6->len, 256u * 512);
}

TEST_F(ScsiExec, ReadInPlaceLeavesFailuresAndOtherCommandsToExecute) {
  // Out of range: execute() answers LBA OUT OF RANGE; never a pointer past the mapping.
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kRead16, 2047, 2), 1024)));
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kRead16, UINT64_MAX, 1), 512)));
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kRead16, 0, 0), 0)));
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kRead16, 0, 1), 0)));
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kWrite16, 0, 1), 512)));
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(cdb16(op::kVerify16, 0, 1), 512)));
  std::vector<std::uint8_t> short_read = {op::kRead16, 0, 0};
  EXPECT_FALSE(bs::read_in_place(*l_.lun, in_place_cmd(short_read, 512)));
}

}  // namespace
}  // namespace tgt_pmem::testing
