// SPDX-License-Identifier: GPL-2.0-only
// The atomic layout: format and refusals, remapping, recovery, and crash injection at every
// persist point with a check that every block is entirely old or entirely new, that every
// WRITE ATOMIC is all-or-nothing, and that every acknowledged write survives.
#include "atomic_layout.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

#include "engine_fixture.h"
#include "tgt_pmem/flush/power_cut.h"
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
  return bs::execute(lun, {c, data, {}, false});
}

std::vector<std::byte> read(bs::Lun& lun, std::uint64_t lba, std::uint32_t n) {
  std::vector<std::byte> out(std::size_t{n} * kBs);
  EXPECT_TRUE(bs::execute(lun, {cdb16(op::kRead16, lba, n), {}, out, false}).good());
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
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 5, 20), data, {}, false}).good());
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
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 0, 1), a, {}, false}).good());
  ASSERT_TRUE(bs::execute(*lun, {cdb16(op::kWrite16, 0, 1), b, {}, false}).good());
  EXPECT_EQ(read(*lun, 0, 1), b);
  // The old version is still somewhere on the medium (a free block now): not overwritten.
  EXPECT_NE(std::search(mem.begin(), mem.end(), a.begin(), a.end()), mem.end());
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

// --- crash injection ----------------------------------------------------------------------

struct Op {
  enum Kind { kWrite, kAtomic, kSame } kind;
  std::uint64_t lba;
  std::uint32_t blocks;
  unsigned seed;
};

std::vector<Op> script(unsigned seed, int n, std::uint64_t blocks) {
  std::mt19937 rng(seed);
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) {
    const auto kind = static_cast<Op::Kind>(rng() % 3);
    // Mostly small; now and then longer than one transaction (256 blocks) for plain writes.
    // (One rng() call per statement: the order of evaluation must not depend on the build.)
    const bool long_one = rng() % 4 == 0;
    std::uint32_t len = 1 + rng() % (long_one ? 300 : 8);
    if (kind == Op::kAtomic) len = std::min<std::uint32_t>(len, 256);
    const std::uint64_t lba = rng() % (std::min<std::uint64_t>(blocks, 2000) - len);
    ops.push_back({kind, lba, len, static_cast<unsigned>(i + 1)});
  }
  return ops;
}

std::vector<std::byte> content(const Op& op) {
  if (op.kind == Op::kSame) {
    const auto b = pattern(kBs, op.seed);
    std::vector<std::byte> v;
    for (std::uint32_t i = 0; i < op.blocks; ++i) v.insert(v.end(), b.begin(), b.end());
    return v;
  }
  return pattern(std::size_t{op.blocks} * kBs, op.seed);
}

struct Outcome {
  std::vector<std::byte> durable;
  std::map<std::uint64_t, std::vector<std::byte>> acked;  // block -> content
  std::optional<Op> in_flight;
  std::uint64_t points = 0;
  bool crashed = false;
};

Outcome run(const std::vector<Op>& ops, std::uint64_t crash_point) {
  Outcome o;
  std::vector<std::byte> vol(kSize);
  o.durable.assign(kSize, std::byte{0});
  flush::PowerCutFlusher f(vol, o.durable);
  f.crash_after(crash_point);
  auto lun = open_atomic(vol, f);
  if (!lun || f.crashed()) {  // the power went while formatting
    o.crashed = true;
    o.points = f.persist_points();
    return o;
  }
  for (const Op& op : ops) {
    const auto data = content(op);
    bs::Result r;
    if (op.kind == Op::kWrite)
      r = bs::execute(*lun, {cdb16(op::kWrite16, op.lba, op.blocks), data, {}, false});
    else if (op.kind == Op::kAtomic)
      r = write_atomic(*lun, op.lba, data);
    else
      r = bs::execute(*lun, {cdb16(op::kWriteSame16, op.lba, op.blocks),
                             std::span(data).first(kBs), {}, false});
    EXPECT_TRUE(r.good());
    if (f.crashed()) {
      o.in_flight = op;
      break;
    }
    for (std::uint32_t b = 0; b < op.blocks; ++b)
      o.acked[op.lba + b] = {data.begin() + b * kBs, data.begin() + (b + 1) * kBs};
  }
  o.points = f.persist_points();
  o.crashed = f.crashed();
  return o;
}

// Empty if the recovered image keeps every promise; else what broke.
std::string check(const Outcome& o) {
  std::vector<std::byte> image = o.durable;
  flush::PowerCutFlusher f(image, image);
  std::string err;
  auto lun = open_atomic(image, f, &err);
  if (!lun) return "reopen failed: " + err;
  const std::vector<std::byte> zero(kBs);
  std::map<std::uint64_t, std::vector<std::byte>> fresh;
  if (o.in_flight) {
    const auto data = content(*o.in_flight);
    for (std::uint32_t b = 0; b < o.in_flight->blocks; ++b)
      fresh[o.in_flight->lba + b] = {data.begin() + b * kBs, data.begin() + (b + 1) * kBs};
  }
  int news = 0, olds = 0;
  for (std::uint64_t b = 0; b < 2000; ++b) {
    const auto got = read(*lun, b, 1);
    const auto a = o.acked.find(b);
    const auto& old = a == o.acked.end() ? zero : a->second;
    const auto n = fresh.find(b);
    if (got == old && (n == fresh.end() || n->second != old)) {
      if (n != fresh.end()) ++olds;
      continue;
    }
    if (n != fresh.end() && got == n->second) {
      // A block whose new content equals its old one tells nothing either way.
      if (n->second != old) ++news;
      continue;
    }
    if (got == old) continue;
    return "block " + std::to_string(b) + " is neither its old nor its new content (torn or lost)";
  }
  if (o.in_flight && o.in_flight->kind == Op::kAtomic && news > 0 && olds > 0)
    return "WRITE ATOMIC of " + std::to_string(o.in_flight->blocks) + " blocks half applied (" +
           std::to_string(news) + " new, " + std::to_string(olds) + " old)";
  return {};
}

TEST(AtomicLayoutCrash, EveryPersistPointLeavesWholeBlocksAndAtomicWrites) {
  const auto ops = script(11, 60, 10000);
  const Outcome full = run(ops, UINT64_MAX);
  ASSERT_FALSE(full.crashed);
  ASSERT_GT(full.points, 100u);
  std::uint64_t checked = 0;
  for (std::uint64_t p = 0; p <= full.points; ++p) {
    const Outcome o = run(ops, p);
    const std::string err = check(o);
    ASSERT_EQ(err, "") << "crash after persist point " << p;
    ++checked;
  }
  std::printf("[ crash    ] atomic layout: %llu crash points checked, %zu ops each\n",
              static_cast<unsigned long long>(checked), ops.size());
}

}  // namespace
}  // namespace tgt_pmem::testing
