// SPDX-License-Identifier: GPL-2.0-only
// The mirror metadata (issue 16): generation identifiers and the decision they make when a
// primary meets a secondary, the record format, the write-intent bitmap and the store.
// Bugs these catch: a primary that resyncs over a promoted (newer) secondary, or merges a
// split brain; a resync that copies from the bitmap when the bitmap does not cover what the
// secondary lacks; a damaged record taken as valid; marks on the wrong region or word, and
// marks that are not durable when mark() returns. The crash and fault cases are in
// tests/unit/durability/mirror_meta_crash_test.cc.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "memory_medium.h"
#include "mirror/generations.h"
#include "mirror/meta_format.h"
#include "mirror/meta_store.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::bs::mirror {
namespace {

using D = Decision;

Generations gen(std::uint64_t cur, std::uint64_t bm = 0, std::uint64_t h0 = 0,
                std::uint64_t h1 = 0) {
  return Generations{cur, bm, {h0, h1}};
}

// --- Generations -----------------------------------------------------------------------

TEST(MirrorGenerations, TheDecisionTable) {
  EXPECT_EQ(decide(gen(0xa), gen(0xa)), D::kInSync);
  EXPECT_EQ(decide(gen(0xa), gen(0)), D::kFullResync) << "a blank secondary";
  EXPECT_EQ(decide(gen(0), gen(0xa)), D::kUnrelated) << "a primary without identity";
  EXPECT_EQ(decide(gen(0xb, 0xa), gen(0xa)), D::kResyncFromBitmap);
  EXPECT_EQ(decide(gen(0xa), gen(0xb, 0xa)), D::kSecondaryNewer) << "secondary promoted";
  EXPECT_EQ(decide(gen(0xa), gen(0xc, 0, 0xa)), D::kSecondaryNewer) << "and resynced since";
  EXPECT_EQ(decide(gen(0xc, 0xa), gen(0xb, 0xa)), D::kSplitBrain);
  EXPECT_EQ(decide(gen(0xc, 0, 0xa), gen(0xb, 0, 0xa)), D::kSplitBrain);
  EXPECT_EQ(decide(gen(0xc, 0, 0xa), gen(0xa)), D::kFullResync) << "older than the bitmap";
  EXPECT_EQ(decide(gen(0xc, 0xb, 0xa), gen(0xa)), D::kFullResync);
  EXPECT_EQ(decide(gen(0xc, 0xb, 0xa), gen(0xd, 0xe, 0xf)), D::kUnrelated);
}

// The life of a pair: in sync, the primary goes on alone, the secondary comes back and is
// resynchronised from the bitmap, in sync again; then a failover and the old primary's
// return.
TEST(MirrorGenerations, ALifeOfDegradeResyncAndFailover) {
  Generations p = gen(0x10), s = gen(0x10);
  ASSERT_EQ(decide(p, s), D::kInSync);
  p = diverge(p, 0x11);  // the link dropped; policy degrade
  EXPECT_EQ(p, gen(0x11, 0x10));
  p = diverge(p, 0x12);  // tgtd restarted, still alone: the bitmap still covers since 0x10
  EXPECT_EQ(p.bitmap, 0x10u);
  EXPECT_EQ(p.current, 0x12u);
  ASSERT_EQ(decide(p, s), D::kResyncFromBitmap);
  s = adopt(s, p);  // the secondary has every marked region now
  p = resynced(p);
  EXPECT_EQ(p.bitmap, 0u);
  EXPECT_EQ(p.history[0], 0x10u);
  ASSERT_EQ(decide(p, s), D::kInSync);

  // The primary's site is lost; the administrator promotes the secondary.
  Generations new_primary = diverge(s, 0x20);
  const Generations old_primary = p;
  EXPECT_EQ(decide(old_primary, new_primary), D::kSecondaryNewer)
      << "the old primary must never overwrite the promoted copy";
  EXPECT_EQ(decide(new_primary, old_primary), D::kResyncFromBitmap)
      << "the old primary, unchanged since, comes back as a secondary";
  // Had the old primary written alone meanwhile: split brain, both ways.
  const Generations wrote_alone = diverge(old_primary, 0x21);
  EXPECT_EQ(decide(wrote_alone, new_primary), D::kSplitBrain);
  EXPECT_EQ(decide(new_primary, wrote_alone), D::kSplitBrain);
}

TEST(MirrorGenerations, FreshIdentifiersAreNeverZeroAndDiffer) {
  const std::uint64_t a = fresh_generation(), b = fresh_generation();
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_NE(describe(gen(a)).find("current="), std::string::npos);
}

// --- The record format -------------------------------------------------------------------

Record sample() {
  Record r;
  r.role = Role::kSecondary;
  r.seq = 41;
  r.generations = gen(0x1111, 0x2222, 0x3333, 0x4444);
  r.region_shift = 16;
  r.lun_size = 5ull << 30;
  for (std::size_t i = 0; i < r.store_uuid.size(); ++i) r.store_uuid[i] = static_cast<std::uint8_t>(i + 1);
  return r;
}

TEST(MirrorFormat, ARecordRoundTrips) {
  const auto bytes = encode_record(sample());
  const DecodedSlot d = decode_record(bytes);
  ASSERT_EQ(d.state, SlotState::kValid) << d.detail;
  EXPECT_EQ(d.record, sample());
}

TEST(MirrorFormat, EveryFlippedBitIsRefused) {
  const auto good = encode_record(sample());
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    auto bad = good;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const DecodedSlot d = decode_record(bad);
    EXPECT_NE(d.state, SlotState::kValid) << "bit " << bit;
  }
}

TEST(MirrorFormat, BlankForeignAndNewerAreToldApart) {
  std::array<std::uint8_t, kRecordSize> blank{};
  EXPECT_EQ(decode_record(blank).state, SlotState::kBlank);
  auto foreign = blank;
  std::memcpy(foreign.data(), "TGTPMEMA", 8);
  EXPECT_EQ(decode_record(foreign).state, SlotState::kForeign);
  auto newer = encode_record(sample());
  newer[11] = 2;  // version 2 (big-endian at offset 8)
  EXPECT_EQ(decode_record(newer).state, SlotState::kNewerVersion);
}

TEST(MirrorFormat, TheNewestValidSlotWins) {
  Record a = sample(), b = sample();
  b.seq = a.seq + 1;
  const DecodedSlot da = decode_record(encode_record(a)), db = decode_record(encode_record(b));
  EXPECT_EQ(newest_slot(da, db), 1);
  EXPECT_EQ(newest_slot(db, da), 0);
  DecodedSlot torn = db;
  torn.state = SlotState::kCorrupt;
  EXPECT_EQ(newest_slot(da, torn), 0) << "a torn newer record falls back to the older one";
  DecodedSlot torn_a = da;
  torn_a.state = SlotState::kCorrupt;
  EXPECT_EQ(newest_slot(torn_a, torn), -1);
}

TEST(MirrorFormat, Sizes) {
  EXPECT_EQ(regions_of(1ull << 40, 20), 1ull << 20);
  EXPECT_EQ(store_size_for(1ull << 40, 20), kBitmapOffset + (128u << 10)) << "1 TiB: 128 KiB";
  EXPECT_EQ(regions_of((1ull << 20) + 1, 20), 2u);
  EXPECT_EQ(bitmap_bytes(65), 16u);
}

// --- The bitmap and the store, on memory with a recording flusher ------------------------

class MirrorStore : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kLun = 200ull << 12;  // 200 regions of 4 KiB: 4 words
  MirrorStore() : mem_(store_size_for(kLun, 12)), medium_(std::span(mem_), rec_) {}
  std::unique_ptr<MetaStore> make() {
    auto s = MetaStore::format(medium_, {Role::kPrimary, gen(0x77), kLun, 12});
    EXPECT_TRUE(s) << s.error();
    return s ? std::move(*s) : nullptr;
  }
  const std::uint64_t* words() const {
    return reinterpret_cast<const std::uint64_t*>(mem_.data() + kBitmapOffset);
  }
  std::vector<std::byte> mem_;
  flush::RecordingFlusher rec_;
  testing::MemoryMedium medium_;
};

TEST_F(MirrorStore, MarksCoverExactlyTheRegionsTouched) {
  auto s = make();
  ASSERT_TRUE(s);
  IntentBitmap& b = s->bitmap();
  ASSERT_EQ(b.regions(), 200u);
  ASSERT_TRUE(b.mark(4096 * 63 + 100, 4096 * 2));  // regions 63..65: across words 0 and 1
  ASSERT_TRUE(b.mark(4096 * 199, 4096));            // the last region
  ASSERT_TRUE(b.mark(0, 1));
  EXPECT_EQ(b.marked(), 5u);
  for (std::uint64_t r : {0u, 63u, 64u, 65u, 199u}) EXPECT_TRUE(b.is_marked(r)) << r;
  EXPECT_FALSE(b.is_marked(62));
  EXPECT_FALSE(b.is_marked(66));
  EXPECT_EQ(words()[0], (1ull << 63) | 1ull);
  EXPECT_EQ(words()[1], 3ull);
  EXPECT_EQ(words()[3], 1ull << (199 - 192));
  EXPECT_EQ(b.next_marked(1), 63u);
  EXPECT_EQ(b.next_marked(66), 199u);
  EXPECT_FALSE(b.next_marked(200));
  EXPECT_EQ(b.mark(4096 * 199, 4097).error(), std::errc::invalid_argument) << "beyond the LUN";
  ASSERT_TRUE(b.clear(63, 2));
  EXPECT_EQ(b.marked(), 3u);
  EXPECT_EQ(words()[0], 1ull);
  ASSERT_TRUE(b.mark_all());
  EXPECT_EQ(b.marked(), 200u);
  EXPECT_EQ(words()[3], (1ull << 8) - 1) << "no bit beyond the last region";
}

TEST_F(MirrorStore, AMarkIsDurableWhenItReturnsAndARepeatedMarkCostsNothing) {
  auto s = make();
  ASSERT_TRUE(s);
  rec_.clear();
  ASSERT_TRUE(s->bitmap().mark(4096 * 70, 4096));
  const std::size_t done = rec_.mark("mark returned");
  EXPECT_TRUE(rec_.durable_before(&words()[1], 8, done));
  const std::size_t events = rec_.events().size();
  ASSERT_TRUE(s->bitmap().mark(4096 * 70 + 7, 100));
  EXPECT_EQ(rec_.events().size(), events) << "the bit was set and durable: no flush";
  ASSERT_TRUE(s->bitmap().clear(70));
  EXPECT_TRUE(rec_.durable_before(&words()[1], 8, rec_.mark("clear returned")));
}

TEST_F(MirrorStore, UpdatesAlternateSlotsAndSurviveReopening) {
  auto s = make();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->record().seq, 1u);
  ASSERT_TRUE(s->update(Role::kPrimary, gen(0x78, 0x77)));
  ASSERT_TRUE(s->update(Role::kSecondary, gen(0x79, 0, 0x77)));
  ASSERT_TRUE(s->bitmap().mark(4096 * 5, 1));
  const Record before = s->record();
  EXPECT_EQ(before.seq, 3u);
  s.reset();
  auto again = MetaStore::open(medium_);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ((*again)->record(), before);
  EXPECT_TRUE((*again)->bitmap().is_marked(5));
  EXPECT_EQ((*again)->bitmap().marked(), 1u);
  // A torn newest record (slot 0 holds seq 3): the one before it is the state.
  mem_[100] ^= std::byte{0x40};
  auto torn = MetaStore::open(medium_);
  ASSERT_TRUE(torn) << torn.error();
  EXPECT_EQ((*torn)->record().seq, 2u);
  EXPECT_EQ((*torn)->record().generations, gen(0x78, 0x77));
}

TEST_F(MirrorStore, ClearErrorsForWhatCannotBeOpened) {
  auto blank = MetaStore::open(medium_);
  ASSERT_FALSE(blank);
  EXPECT_NE(blank.error().find("blank"), std::string::npos) << blank.error();
  auto small = MetaStore::format(medium_, {Role::kPrimary, gen(1), kLun * 64, 12});
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().find("needs"), std::string::npos) << small.error();
  auto shift = MetaStore::format(medium_, {Role::kPrimary, gen(1), kLun, 11});
  ASSERT_FALSE(shift);
  auto s = make();
  ASSERT_TRUE(s);
  s.reset();
  std::memset(mem_.data() + 16, 0xff, 8);                // slot 0 damaged
  std::memcpy(mem_.data() + kSlotSize, kMagic, 8);       // slot 1: our magic, then junk
  auto bad = MetaStore::open(medium_);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("no valid record"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace tgt_pmem::bs::mirror
