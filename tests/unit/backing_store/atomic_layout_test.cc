// SPDX-License-Identifier: GPL-2.0-only
// The atomic layout: format and refusals, remapping, recovery. Its crash safety is explored
// in tests/unit/durability/ (every block entirely old or new, WRITE ATOMIC all-or-nothing,
// every acknowledged write present, under crashes and flush failures).
#include "atomic_layout.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

#include "engine_fixture.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::testing {
namespace {

using namespace bs::scsi;
constexpr std::size_t kSize = 8 << 20;
constexpr std::uint32_t kBs = 512;

std::unique_ptr<bs::Lun> open_atomic(std::span<std::byte> mem, flush::Flusher& f,
                                     std::string* error = nullptr) {
  auto m = std::make_unique<MemoryMedium>(mem, f);
  auto l = bs::AtomicLayout::open(*m, kBs);
  if (!l) {
    if (error) *error = l.error();
    return nullptr;
  }
  return std::make_unique<bs::Lun>(std::move(m), std::move(*l), kBs);
}

bs::Result write_atomic(bs::Lun& lun, std::uint64_t lba, std::span<const std::byte> data) {
  std::vector<std::uint8_t> c(16, 0);
  c[0] = op::kWriteAtomic16;
  bs::cdb::put_be64(&c[2], lba);
  const auto n = static_cast<std::uint16_t>(data.size() / kBs);
  c[12] = static_cast<std::uint8_t>(n >> 8);
  c[13] = static_cast<std::uint8_t>(n);
  return bs::execute(lun, {c, data, {}});
}

std::vector<std::byte> read(bs::Lun& lun, std::uint64_t lba, std::uint32_t n) {
  std::vector<std::byte> out(std::size_t{n} * kBs);
  EXPECT_TRUE(bs::execute(lun, {cdb16(op::kRead16, lba, n), {}, out}).good());
  return out;
}

TEST(AtomicLayout, FormatsABlankMediumAndKeepsData) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  auto lun = open_atomic(mem, f);
  ASSERT_TRUE(lun);
  EXPECT_GT(lun->blocks(), 10000u);
  EXPECT_LT(lun->size(), kSize);
  const auto data = pattern(20 * kBs, 1);
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 5, 20), data, {}}).good());
  EXPECT_EQ(read(*lun, 5, 20), data);
  lun.reset();
  auto again = open_atomic(mem, f);  // reopen: the header is found, not rewritten
  ASSERT_TRUE(again);
  EXPECT_EQ(read(*again, 5, 20), data);
}

TEST(AtomicLayout, WritesAreRemappedNotInPlace) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  auto lun = open_atomic(mem, f);
  ASSERT_TRUE(lun);
  const auto a = pattern(kBs, 2), b = pattern(kBs, 3);
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 0, 1), a, {}}).good());
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 0, 1), b, {}}).good());
  EXPECT_EQ(read(*lun, 0, 1), b);
  // The old version is still somewhere on the medium (a free block now): not overwritten.
  EXPECT_NE(std::search(mem.begin(), mem.end(), a.begin(), a.end()), mem.end());
}

// A block's place changes with every write and the old one is reused: a READ's data sent from
// the mapping after the command could be another LBA's by then. Never lent.
TEST(AtomicLayout, ReadsAreNeverLentInPlace) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  auto lun = open_atomic(mem, f);
  ASSERT_TRUE(lun);
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 0, 8), pattern(8 * kBs, 4), {}}).good());
  const auto c = cdb16(op::kRead16, 0, 8);
  EXPECT_FALSE(bs::read_in_place(*lun, {c, {}, {static_cast<std::byte*>(nullptr), 8 * kBs}}));
}

TEST(AtomicLayout, WriteAtomicUpToTheLimitAndNoFurther) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  auto lun = open_atomic(mem, f);
  ASSERT_TRUE(lun);
  const auto data = pattern(256 * kBs, 4);
  ASSERT_TRUE(write_atomic(*lun, 100, data).good());
  EXPECT_EQ(read(*lun, 100, 256), data);
  const auto too_big = pattern(257 * kBs, 5);
  expect_sense(write_atomic(*lun, 100, too_big), key::kIllegalRequest, asc::kInvalidFieldInCdb);
  expect_sense(write_atomic(*lun, lun->blocks() - 1, pattern(2 * kBs, 6)), key::kIllegalRequest,
               asc::kLbaOutOfRange);
}

TEST(AtomicLayout, RawLayoutDoesNotOfferWriteAtomic) {
  flush::RecordingFlusher f;
  MemLun raw(1 << 20, f);
  expect_sense(write_atomic(*raw.lun, 0, pattern(kBs, 7)), key::kIllegalRequest,
               asc::kInvalidOpcode);
}

TEST(AtomicLayout, RefusesToFormatOverData) {
  std::vector<std::byte> mem(kSize);
  mem[100000] = std::byte{1};  // inside the metadata area: a raw LUN's data, say
  flush::RecordingFlusher f;
  std::string err;
  EXPECT_FALSE(open_atomic(mem, f, &err));
  EXPECT_NE(err.find("refusing to format over existing data"), std::string::npos) << err;
  EXPECT_EQ(mem[0], std::byte{0}) << "nothing written";
}

TEST(AtomicLayout, RefusesACorruptHeader) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  ASSERT_TRUE(open_atomic(mem, f));
  mem[40] ^= std::byte{1};
  std::string err;
  EXPECT_FALSE(open_atomic(mem, f, &err));
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
}

TEST(AtomicLayout, RefusesAnotherBlockSize) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  ASSERT_TRUE(open_atomic(mem, f));
  MemoryMedium m(mem, f);
  auto l = bs::AtomicLayout::open(m, 4096);
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().find("formatted with block size 512"), std::string::npos) << l.error();
}

TEST(AtomicLayout, RefusesANewerVersion) {
  std::vector<std::byte> mem(kSize);
  flush::RecordingFlusher f;
  ASSERT_TRUE(open_atomic(mem, f));
  bs::atomic::Header h;
  h.geometry = *bs::atomic::compute_geometry(kSize, kBs);
  auto image = bs::atomic::encode_header(h);
  image[8] = 2;  // version 2
  const auto sum = bs::atomic::fnv1a64(std::span<const std::uint8_t>(image).first(104));
  std::memcpy(image.data() + 104, &sum, 8);
  std::memcpy(mem.data(), image.data(), image.size());
  std::string err;
  EXPECT_FALSE(open_atomic(mem, f, &err));
  EXPECT_NE(err.find("newer"), std::string::npos) << err;
}

}  // namespace
}  // namespace tgt_pmem::testing
