// SPDX-License-Identifier: GPL-2.0-only
#include "workload.h"

#include <algorithm>
#include <barrier>
#include <cstring>
#include <random>
#include <thread>

#include "cdb.h"
#include "cdb_builders.h"
#include "scsi_codes.h"
#include "scsi_exec.h"
#include "tgt_pmem/bytes/big_endian.h"

namespace tgt_pmem::crash {

namespace {

using namespace bs::scsi;

using testing::cdb16;

struct Local {
  std::vector<CommandRecord> commands;
  std::vector<Version> versions;  // command field: local command index
  std::vector<std::string> errors;
};

class ThreadRun {
 public:
  ThreadRun(bs::Lun& lun, TraceFlusher& f, const WorkloadOptions& o, std::uint32_t thread)
      : lun_(lun),
        f_(f),
        o_(o),
        thread_(thread),
        bs_(lun.block_size()),
        base_(std::uint64_t{thread} * o.region_blocks),
        current_(o.region_blocks, std::vector<std::byte>(bs_)),
        rng_(o.seed * 7919 + thread) {}

  void run(std::barrier<>& start) {
    start.arrive_and_wait();
    for (unsigned i = 0; i < o_.ops_per_thread; ++i) one(pick());
  }
  Local& result() { return out_; }

 private:
  Op pick() {
    struct Weighted {
      Op op;
      unsigned w;
    };
    const bool atomic = o_.layout == LayoutKind::kAtomic;
    std::vector<Weighted> table = {
        {Op::kWrite, 30},         {Op::kWriteFua, 8},       {Op::kWriteVerify, 4},
        {Op::kWriteSame, 6},      {Op::kWriteSameLbdata, 4}, {Op::kSync, 8},
    };
    if (o_.unmap) table.insert(table.end(), {{Op::kUnmap, 5}, {Op::kWriteSameUnmap, 3}});
    if (o_.read_modify_write && !uncertain_)
      table.insert(table.end(),
                   {{Op::kCompareAndWrite, 5}, {Op::kCompareMiscompare, 2}, {Op::kOrWrite, 4}});
    if (atomic) table.push_back({Op::kWriteAtomic, 15});
    if (!atomic && o_.toggle_write_cache && thread_ == 0)
      table.insert(table.end(), {{Op::kCacheOn, 3}, {Op::kCacheOff, 3}});
    unsigned total = 0;
    for (auto& t : table) total += t.w;
    unsigned r = static_cast<unsigned>(rng_() % total);
    for (auto& t : table) {
      if (r < t.w) return t.op;
      r -= t.w;
    }
    return Op::kWrite;
  }

  // A new version of one block: registered locally, returned for the command's data.
  std::vector<std::byte> new_version(std::uint64_t lba, std::uint32_t cmd,
                                     std::vector<std::byte> data) {
    out_.versions.push_back({lba, cmd, data});
    return data;
  }
  std::uint64_t next_id() { return (std::uint64_t{thread_} << 32) | ++ids_; }

  void one(Op op) {
    CommandRecord rec{op, thread_};
    const std::uint32_t cmd = static_cast<std::uint32_t>(out_.commands.size());
    const bool atomic = o_.layout == LayoutKind::kAtomic;
    std::uint32_t blocks = 1 + static_cast<std::uint32_t>(rng_() % o_.max_blocks);
    // Now and then longer than one atomic transaction (256 blocks) on the atomic layout.
    if (atomic && (op == Op::kWrite || op == Op::kWriteSame) && rng_() % 8 == 0)
      blocks = std::min<std::uint32_t>(o_.region_blocks, 200 + static_cast<std::uint32_t>(rng_() % 120));
    if (op == Op::kCompareAndWrite || op == Op::kCompareMiscompare) blocks = 1 + rng_() % 2;
    blocks = std::min(blocks, o_.region_blocks);
    const std::uint64_t first = rng_() % (o_.region_blocks - blocks + 1);
    rec.lba = base_ + first;
    rec.blocks = blocks;

    std::vector<std::uint8_t> c;
    std::vector<std::byte> out;
    // What each written block will hold if the command succeeds (empty: writes nothing).
    std::vector<std::vector<std::byte>> effect;
    auto fresh = [&](std::uint32_t n) {
      std::vector<std::vector<std::byte>> v;
      for (std::uint32_t i = 0; i < n; ++i) v.push_back(block_content(rec.lba + i, next_id(), bs_));
      return v;
    };
    auto concat = [&](const std::vector<std::vector<std::byte>>& v) {
      std::vector<std::byte> all;
      for (const auto& b : v) all.insert(all.end(), b.begin(), b.end());
      return all;
    };
    bool expect_good = true;
    std::uint64_t miscompare_at = 0;
    switch (op) {
      case Op::kWrite:
      case Op::kWriteFua:
        effect = fresh(blocks);
        out = concat(effect);
        c = cdb16(op::kWrite16, rec.lba, blocks, op == Op::kWriteFua ? 0x08 : 0);
        break;
      case Op::kWriteVerify:
        effect = fresh(blocks);
        out = concat(effect);
        c = cdb16(op::kWriteVerify16, rec.lba, blocks, 0x02);  // BYTCHK
        break;
      case Op::kWriteAtomic:
        effect = fresh(blocks);
        out = concat(effect);
        c = cdb16(op::kWriteAtomic16, rec.lba, 0);
        c[12] = static_cast<std::uint8_t>(blocks >> 8);  // TRANSFER LENGTH, bytes 12-13
        c[13] = static_cast<std::uint8_t>(blocks);
        c[10] = c[11] = 0;                               // ATOMIC BOUNDARY 0
        break;
      case Op::kWriteSame:
      case Op::kWriteSameLbdata: {
        const bool lbdata = op == Op::kWriteSameLbdata;
        const auto pattern = block_content(rec.lba, next_id(), bs_);
        out = pattern;
        for (std::uint32_t i = 0; i < blocks; ++i) {
          auto b = pattern;
          if (lbdata) bs::cdb::put_be32(reinterpret_cast<std::uint8_t*>(b.data()),
                                        static_cast<std::uint32_t>(rec.lba + i));
          effect.push_back(b);
        }
        c = cdb16(op::kWriteSame16, rec.lba, blocks, lbdata ? 0x02 : 0);
        break;
      }
      case Op::kWriteSameUnmap:
        out.assign(bs_, std::byte{0});
        effect.assign(blocks, std::vector<std::byte>(bs_));
        c = cdb16(op::kWriteSame16, rec.lba, blocks, 0x08);
        break;
      case Op::kUnmap: {
        out.assign(24, std::byte{0});
        bytes::store_be16(out, 0, 22);  // UNMAP DATA LENGTH
        bytes::store_be16(out, 2, 16);  // one block descriptor
        bytes::store_be64(out, 8, rec.lba);
        bytes::store_be32(out, 16, blocks);
        effect.assign(blocks, std::vector<std::byte>(bs_));
        c.assign(10, 0);
        c[0] = op::kUnmap;
        c[8] = 24;
        break;
      }
      case Op::kSync:
        c = cdb16(op::kSyncCache16, 0, 0);
        rec.lba = 0;
        rec.blocks = 0;
        break;
      case Op::kCompareAndWrite:
      case Op::kCompareMiscompare: {
        for (std::uint32_t i = 0; i < blocks; ++i) {
          const auto& cur = current_[first + i];
          out.insert(out.end(), cur.begin(), cur.end());
        }
        if (op == Op::kCompareMiscompare) {
          miscompare_at = rng_() % out.size();
          out[miscompare_at] ^= std::byte{0x5a};
          expect_good = false;
          const auto discard = concat(fresh(blocks));
          out.insert(out.end(), discard.begin(), discard.end());
        } else {
          effect = fresh(blocks);
          const auto w = concat(effect);
          out.insert(out.end(), w.begin(), w.end());
        }
        c = cdb16(op::kCompareAndWrite, rec.lba, 0);
        c.resize(16);
        c[13] = static_cast<std::uint8_t>(blocks);
        break;
      }
      case Op::kOrWrite: {
        const auto mask = fresh(blocks);
        out = concat(mask);
        for (std::uint32_t i = 0; i < blocks; ++i) {
          std::vector<std::byte> b(bs_);
          for (std::uint32_t k = 0; k < bs_; ++k) b[k] = current_[first + i][k] | mask[i][k];
          effect.push_back(b);
        }
        c = cdb16(op::kOrWrite16, rec.lba, blocks);
        break;
      }
      case Op::kCacheOn:
      case Op::kCacheOff:
        rec.lba = 0;
        rec.blocks = 0;
        break;
    }
    if (!effect.empty()) {
      rec.first_version = static_cast<std::int64_t>(out_.versions.size());
      for (std::uint32_t i = 0; i < effect.size(); ++i) new_version(rec.lba + i, cmd, effect[i]);
    }

    rec.begin = f_.mark(cmd_mark(cmd), 0);
    bs::Result r;
    if (op == Op::kCacheOn || op == Op::kCacheOff) {
      r.status = lun_.set_write_cache(op == Op::kCacheOn) ? kStatusGood : kStatusCheckCondition;
    } else {
      r = bs::execute(lun_, {c, out, {}});
    }
    rec.good = r.good();
    rec.expected_good = expect_good;
    rec.end = f_.mark(cmd_mark(cmd), rec.good ? 1 : 2);

    if (!expect_good) {
      if (r.good() || r.sense_key != key::kMiscompare || r.info != miscompare_at)
        error(rec, "a COMPARE AND WRITE that had to miscompare at byte " +
                       std::to_string(miscompare_at) + " answered status " +
                       std::to_string(r.status) + " key " + std::to_string(r.sense_key) +
                       " info " + std::to_string(r.info));
    } else if (r.good()) {
      for (std::uint32_t i = 0; i < effect.size(); ++i) current_[first + i] = effect[i];
    } else {
      // A failed write leaves its blocks old or new: the model no longer knows them exactly.
      if (!effect.empty()) uncertain_ = true;
      if (op == Op::kCompareAndWrite && r.sense_key == key::kMiscompare)
        error(rec, "COMPARE AND WRITE miscompared against the data last written");
    }
    out_.commands.push_back(rec);
  }

  std::uint64_t cmd_mark(std::uint32_t cmd) const { return (std::uint64_t{thread_} << 32) | cmd; }

  void error(const CommandRecord& rec, const std::string& what) {
    out_.errors.push_back("thread " + std::to_string(thread_) + " " + to_string(rec.op) +
                          " lba " + std::to_string(rec.lba) + ": " + what);
  }

  bs::Lun& lun_;
  TraceFlusher& f_;
  const WorkloadOptions& o_;
  std::uint32_t thread_;
  std::uint32_t bs_;
  std::uint64_t base_;
  std::vector<std::vector<std::byte>> current_;  // what a read of the region returns now
  bool uncertain_ = false;
  std::mt19937_64 rng_;
  std::uint32_t ids_ = 0;
  Local out_;
};

}  // namespace

const char* to_string(Op op) noexcept {
  switch (op) {
    case Op::kWrite: return "WRITE";
    case Op::kWriteFua: return "WRITE(FUA)";
    case Op::kWriteVerify: return "WRITE AND VERIFY";
    case Op::kWriteSame: return "WRITE SAME";
    case Op::kWriteSameLbdata: return "WRITE SAME(LBDATA)";
    case Op::kWriteSameUnmap: return "WRITE SAME(UNMAP)";
    case Op::kUnmap: return "UNMAP";
    case Op::kSync: return "SYNCHRONIZE CACHE";
    case Op::kCompareAndWrite: return "COMPARE AND WRITE";
    case Op::kCompareMiscompare: return "COMPARE AND WRITE(miscompare)";
    case Op::kOrWrite: return "ORWRITE";
    case Op::kWriteAtomic: return "WRITE ATOMIC";
    case Op::kCacheOn: return "MODE SELECT(WCE=1)";
    case Op::kCacheOff: return "MODE SELECT(WCE=0)";
  }
  return "?";
}

std::vector<std::byte> block_content(std::uint64_t lba, std::uint64_t id,
                                     std::uint32_t block_size) {
  std::vector<std::byte> b(block_size);
  std::memcpy(b.data(), &lba, 8);
  std::memcpy(b.data() + 8, &id, 8);
  std::uint64_t x = lba * 0x9e3779b97f4a7c15ull ^ id * 0xbf58476d1ce4e5b9ull;
  for (std::uint32_t i = 16; i < block_size; i += 8) {
    x ^= x >> 29;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 32;
    std::memcpy(b.data() + i, &x, std::min<std::uint32_t>(8, block_size - i));
  }
  return b;
}

WorkloadRun run_workload(bs::Lun& lun, TraceFlusher& f, const WorkloadOptions& o) {
  std::vector<std::unique_ptr<ThreadRun>> runs;
  for (unsigned t = 0; t < o.threads; ++t)
    runs.push_back(std::make_unique<ThreadRun>(lun, f, o, t));
  if (lun.write_cache() != o.start_cached && !lun.set_write_cache(o.start_cached)) {
    WorkloadRun failed;
    failed.errors.push_back("setting the write cache before the run failed");
    return failed;
  }
  {
    std::barrier start(static_cast<std::ptrdiff_t>(o.threads));
    std::vector<std::thread> threads;
    for (auto& r : runs) threads.emplace_back([&r, &start] { r->run(start); });
    for (auto& t : threads) t.join();
  }
  WorkloadRun run;
  run.block_size = lun.block_size();
  run.block_versions.resize(lun.blocks());
  for (auto& r : runs) {
    Local& l = r->result();
    const auto cmd_base = static_cast<std::uint32_t>(run.commands.size());
    const auto ver_base = static_cast<std::uint32_t>(run.versions.size());
    for (auto rec : l.commands) {
      if (rec.first_version >= 0) rec.first_version += ver_base;
      run.commands.push_back(rec);
    }
    for (auto& v : l.versions) {
      run.block_versions[v.lba].push_back(static_cast<std::uint32_t>(run.versions.size()));
      run.versions.push_back({v.lba, v.command + cmd_base, std::move(v.data)});
    }
    for (auto& e : l.errors) run.errors.push_back(std::move(e));
  }
  return run;
}

}  // namespace tgt_pmem::crash
