// SPDX-License-Identifier: GPL-2.0-only
// Crash injection on the power-cut flusher: a scripted write sequence is run once per persist
// point with the power failing right after that point; the durable image (what a real power
// loss would leave) is then reopened as a LUN and every acknowledged write must read back.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine_fixture.h"
#include "tgt_pmem/flush/power_cut.h"

namespace tgt_pmem::testing {
namespace {

using namespace bs::scsi;

constexpr std::size_t kSize = 1 << 20;
constexpr std::uint32_t kBlocks = kSize / 512;

struct Op {
  enum Kind { kWrite, kWriteFua, kWriteSame, kUnmap, kSync } kind;
  std::uint64_t lba;
  std::uint32_t blocks;
  unsigned seed;
};

std::vector<Op> script(unsigned seed, int n) {
  std::mt19937 rng(seed);
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) {
    const auto blocks = 1 + rng() % 16;
    const auto lba = rng() % (kBlocks - blocks);
    const auto k = static_cast<Op::Kind>(rng() % 5);
    ops.push_back({k, lba, static_cast<std::uint32_t>(blocks), static_cast<unsigned>(i + 1)});
  }
  return ops;
}

// Runs ops on a fresh LUN whose power fails after `crash_point` persist points. Returns the
// model of what must be durable: for each block, its bytes, for the blocks that acknowledged
// commands left in a state that must survive.
struct Outcome {
  std::vector<std::byte> durable;
  std::map<std::uint64_t, std::vector<std::byte>> must;  // block -> content
  std::uint64_t points = 0;
  bool crashed = false;
};

// A deliberately broken durability layer for the negative test: it never drains.
class NeverDrains final : public flush::Flusher {
 public:
  explicit NeverDrains(flush::Flusher& inner) : inner_(inner) {}
  flush::Method method() const noexcept override { return inner_.method(); }
  flush::Status flush(const void* a, std::size_t n) noexcept override { return inner_.flush(a, n); }
  flush::Status drain() noexcept override { return {}; }
  flush::Status sync_file() noexcept override { return {}; }

 private:
  flush::Flusher& inner_;
};

Outcome run(const std::vector<Op>& ops, bool wce, std::uint64_t crash_point,
            bool broken = false) {
  Outcome o;
  std::vector<std::byte> vol(kSize);
  o.durable.assign(kSize, std::byte{0});
  flush::PowerCutFlusher f(vol, o.durable);
  f.crash_after(crash_point);
  NeverDrains never(f);
  flush::Flusher& used = broken ? static_cast<flush::Flusher&>(never) : f;
  auto m = std::make_unique<MemoryMedium>(vol, used);
  bs::Lun lun(std::move(m), 512);
  // Blocks written since the last durability point (write-cache mode), pending promotion.
  std::map<std::uint64_t, std::vector<std::byte>> cached;
  for (const Op& op : ops) {
    bs::Result r;
    std::map<std::uint64_t, std::vector<std::byte>> effect;
    if (op.kind == Op::kWrite || op.kind == Op::kWriteFua) {
      const auto data = pattern(op.blocks * 512, op.seed);
      auto c = cdb16(op::kWrite16, op.lba, op.blocks, op.kind == Op::kWriteFua ? 0x08 : 0);
      r = bs::execute(lun, {c, data, {}, wce});
      for (std::uint32_t b = 0; b < op.blocks; ++b)
        effect[op.lba + b] = {data.begin() + b * 512, data.begin() + (b + 1) * 512};
    } else if (op.kind == Op::kWriteSame) {
      const auto block = pattern(512, op.seed);
      r = bs::execute(lun, {cdb16(op::kWriteSame16, op.lba, op.blocks), block, {}, wce});
      for (std::uint32_t b = 0; b < op.blocks; ++b) effect[op.lba + b] = block;
    } else if (op.kind == Op::kUnmap) {
      r = bs::execute(lun, {cdb16(op::kWriteSame16, op.lba, op.blocks, 0x08),
                            std::vector<std::byte>(512), {}, wce});
      for (std::uint32_t b = 0; b < op.blocks; ++b) effect[op.lba + b] = std::vector<std::byte>(512);
    } else {
      r = bs::execute(lun, {cdb10(op::kSyncCache10, 0, 0), {}, {}, wce});
    }
    EXPECT_TRUE(r.good());
    if (f.crashed()) {
      // The power went before this command's status could be sent: not acknowledged. Its
      // blocks may hold old or new data; drop them from what must survive.
      for (auto& [b, _] : effect) {
        o.must.erase(b);
        cached.erase(b);
      }
      break;
    }
    const bool durable_now = !wce || op.kind == Op::kWriteFua || op.kind == Op::kSync;
    for (auto& [b, bytes] : effect) {
      if (durable_now) {
        o.must[b] = bytes;
      } else {
        cached[b] = bytes;
        o.must.erase(b);  // its previous content is no longer what it must read
      }
    }
    if (durable_now) {
      // FUA and SYNCHRONIZE CACHE make everything acknowledged before them durable.
      for (auto& [b, bytes] : cached) o.must[b] = bytes;
      cached.clear();
    }
  }
  o.points = f.persist_points();
  o.crashed = f.crashed();
  return o;
}

// Reopens the store on what the power loss left, as tgtd would after a restart, and reads
// every block that must have survived. Returns the first lost block, or -1.
std::int64_t first_lost_block(const Outcome& o) {
  std::vector<std::byte> image = o.durable;
  flush::PowerCutFlusher f2(image, image);
  bs::Lun lun(std::make_unique<MemoryMedium>(image, f2), 512);
  for (const auto& [b, bytes] : o.must) {
    std::vector<std::byte> back(512);
    if (!bs::execute(lun, {cdb16(op::kRead16, b, 1), {}, back, false}).good() || back != bytes)
      return static_cast<std::int64_t>(b);
  }
  return -1;
}

void crash_everywhere(bool wce, unsigned seed) {
  const auto ops = script(seed, 120);
  const Outcome full = run(ops, wce, UINT64_MAX);
  ASSERT_FALSE(full.crashed);
  ASSERT_GT(full.points, 10u);
  for (std::uint64_t p = 0; p <= full.points; ++p) {
    const Outcome o = run(ops, wce, p);
    ASSERT_EQ(first_lost_block(o), -1) << "an acknowledged block was lost at crash point " << p;
  }
  std::printf("[ crash    ] %s: %llu crash points checked, %zu ops each\n",
              wce ? "write cache" : "write-through",
              static_cast<unsigned long long>(full.points + 1), ops.size());
}

TEST(CrashInjection, WriteThroughKeepsEveryAcknowledgedWrite) { crash_everywhere(false, 1); }

TEST(CrashInjection, WriteCacheKeepsEverythingBeforeFuaOrSync) { crash_everywhere(true, 2); }

// The crash check can fail: with a durability layer that never drains, acknowledged writes
// are lost and the check must say so.
TEST(CrashInjection, CatchesAnEngineThatNeverDrains) {
  const auto ops = script(3, 60);
  const Outcome o = run(ops, /*wce=*/false, UINT64_MAX, /*broken=*/true);
  EXPECT_NE(first_lost_block(o), -1);
}

}  // namespace
}  // namespace tgt_pmem::testing
