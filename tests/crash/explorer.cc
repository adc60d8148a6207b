// SPDX-License-Identifier: GPL-2.0-only
#include "explorer.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "atomic_layout.h"
#include "cdb.h"
#include "cdb_builders.h"
#include "crash_states.h"
#include "memory_medium.h"
#include "plain_flusher.h"
#include "real_mapping.h"
#include "scsi_codes.h"
#include "scsi_exec.h"

namespace tgt_pmem::crash {

namespace {

using namespace bs::scsi;

// Recovery runs on the crash image with a flusher that cannot fail (plain_flusher.h).

// An opened LUN over a crash image (medium and layout kept alive together).
struct Opened {
  std::unique_ptr<bs::Lun> lun;
  std::string error;
};

Opened open_image(std::span<std::byte> image, flush::Flusher& f, LayoutKind layout,
                  std::uint32_t bs) {
  auto m = std::make_unique<testing::MemoryMedium>(image, f);
  if (layout == LayoutKind::kRaw) return {std::make_unique<bs::Lun>(std::move(m), bs), {}};
  auto l = bs::AtomicLayout::open(*m, bs);
  if (!l) return {nullptr, "the LUN does not open: " + l.error()};
  return {std::make_unique<bs::Lun>(std::move(m), std::move(*l), bs), {}};
}

// Reads LBAs [0, blocks) into out.
bool read_all(bs::Lun& lun, std::uint64_t blocks, std::vector<std::byte>& out) {
  out.resize(blocks * lun.block_size());  // storage reused from one image to the next
  const std::uint32_t chunk = 256;
  for (std::uint64_t lba = 0; lba < blocks; lba += chunk) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk, blocks - lba));
    std::span<std::byte> dst(out.data() + lba * lun.block_size(), std::size_t{n} * lun.block_size());
    if (!bs::execute(lun, {testing::cdb16(op::kRead16, lba, n), {}, dst}).good()) return false;
  }
  return true;
}

class Checker {
 public:
  Checker(const WorkloadRun& run, const WorkloadOptions& w, const ExploreOptions& e,
          std::uint64_t lun_blocks)
      : run_(run), w_(w), e_(e), blocks_(lun_blocks), zero_(run.block_size) {
    const auto& cmds = run.commands;
    durable_at_ack_.resize(cmds.size());
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      const auto& c = cmds[i];
      const bool writes = c.first_version >= 0;
      if (w.layout == LayoutKind::kAtomic)
        durable_at_ack_[i] = writes;  // the atomic layout is always write-through
      else if (c.op == Op::kWriteFua || c.op == Op::kWriteVerify)
        durable_at_ack_[i] = writes;
      else
        durable_at_ack_[i] = writes && certainly_write_through(c);
      const bool sync_like =
          c.op == Op::kSync || c.op == Op::kCacheOff ||
          (w.layout == LayoutKind::kRaw && c.op == Op::kWriteFua);
      if (sync_like && c.good) syncs_.push_back({c.end, c.begin});
    }
    std::sort(syncs_.begin(), syncs_.end());
  }

  // Whether a GOOD for this command claims that data is durable.
  bool claims_durability(std::uint32_t cmd) const {
    const auto& c = run_.commands[cmd];
    return durable_at_ack_[cmd] || c.op == Op::kSync || c.op == Op::kCacheOff ||
           c.op == Op::kWriteFua;
  }

  // Empty, or what is wrong with this image taken at `point`.
  std::string check(std::vector<std::byte>& image, std::size_t point, std::uint64_t seed) {
    advance_syncs(point);
    PlainFlusher f;
    Opened o = open_image(image, f, w_.layout, run_.block_size);
    if (!o.lun) return o.error;
    std::vector<std::byte>& all = all_;
    if (!read_all(*o.lun, blocks_, all)) return "a READ of the recovered LUN failed";
    const std::uint32_t bs = run_.block_size;
    for (std::uint64_t b = 0; b < blocks_; ++b) {
      if (auto why = check_block(b, {all.data() + b * bs, bs}, point); !why.empty()) return why;
    }
    if (w_.layout == LayoutKind::kAtomic) {
      if (auto why = check_all_or_nothing(all, point); !why.empty()) return why;
      if (e_.writes_after_recovery) return write_after_recovery(*o.lun, all, seed);
    }
    return {};
  }

 private:
  // The write cache was certainly off for the whole of the command (thread 0's MODE SELECTs).
  bool certainly_write_through(const CommandRecord& c) const {
    bool cached = w_.start_cached;
    for (const auto& t : run_.commands) {
      if (t.op != Op::kCacheOn && t.op != Op::kCacheOff) continue;
      if (t.begin < c.end && t.end > c.begin) return false;  // changed meanwhile
      if (t.end <= c.begin) cached = t.op == Op::kCacheOn;   // toggles are one thread's: in order
    }
    return !cached;
  }

  void advance_syncs(std::size_t point) {
    // syncs_ by completion: the latest start of a sync-like command completed before point.
    while (next_sync_ < syncs_.size() && syncs_[next_sync_].first < point) {
      latest_sync_begin_ = std::max(latest_sync_begin_, syncs_[next_sync_].second);
      ++next_sync_;
    }
  }

  bool guaranteed(std::uint32_t cmd, std::size_t point) const {
    const auto& c = run_.commands[cmd];
    if (!c.good || c.end >= point) return false;
    return durable_at_ack_[cmd] || (next_sync_ > 0 && c.end < latest_sync_begin_);
  }

  // The versions a block may hold at point: from the newest guaranteed one (or the initial
  // zeros) on, every version whose command had begun.
  const std::vector<const std::vector<std::byte>*>& candidates(std::uint64_t b, std::size_t point,
                                                               std::size_t* first_index) {
    auto& c = cands_;  // reused
    c.clear();
    const auto& vs = run_.block_versions[b];
    std::size_t from = 0;  // 0: the initial content is still possible
    for (std::size_t i = 0; i < vs.size(); ++i)
      if (run_.commands[run_.versions[vs[i]].command].begin < point &&
          guaranteed(run_.versions[vs[i]].command, point))
        from = i + 1;
    if (from == 0) c.push_back(&zero_);
    for (std::size_t i = from == 0 ? 0 : from - 1; i < vs.size(); ++i)
      if (run_.commands[run_.versions[vs[i]].command].begin < point)
        c.push_back(&run_.versions[vs[i]].data);
    if (first_index) *first_index = from;
    return c;
  }

  static std::string describe(std::span<const std::byte> got) {
    std::uint64_t lba = 0, id = 0;
    std::memcpy(&lba, got.data(), 8);
    std::memcpy(&id, got.data() + 8, 8);
    return "holds lba-tag " + std::to_string(lba) + " version-tag " + std::to_string(id >> 32) +
           ":" + std::to_string(id & 0xffffffff);
  }

  std::string check_block(std::uint64_t b, std::span<const std::byte> got, std::size_t point) {
    std::size_t from = 0;
    const auto& cands = candidates(b, point, &from);
    auto where = [&] {
      std::string s = "crash point " + std::to_string(point) + ": block " + std::to_string(b);
      if (from > 0) {
        const auto& v = run_.versions[run_.block_versions[b][from - 1]];
        const auto& c = run_.commands[v.command];
        s += " (acknowledged durable: " + std::string(to_string(c.op)) + " of thread " +
             std::to_string(c.thread) + ", events " + std::to_string(c.begin) + "-" +
             std::to_string(c.end) + ")";
      }
      return s;
    };
    for (const auto* c : cands)
      if (std::memcmp(got.data(), c->data(), got.size()) == 0) return {};
    if (w_.layout == LayoutKind::kAtomic)
      return where() + " is none of the " + std::to_string(cands.size()) +
             " versions it may hold (torn, lost or foreign): " + describe(got);
    // Raw: torn is allowed, but every word must come from one of the versions.
    for (std::size_t off = 0; off < got.size(); off += 8) {
      bool ok = false;
      for (const auto* c : cands)
        if (std::memcmp(got.data() + off, c->data() + off, 8) == 0) {
          ok = true;
          break;
        }
      if (!ok)
        return where() + ": byte " + std::to_string(off) + " comes from none of the " +
               std::to_string(cands.size()) + " versions it may hold (lost or foreign): " +
               describe(got);
    }
    return {};
  }

  // Which version of block b the content is: its index in block_versions[b] (+1; 0 = the
  // initial zeros), or -1 if none, -2 if ambiguous.
  long which(std::uint64_t b, std::span<const std::byte> got) const {
    long found = std::equal(got.begin(), got.end(), zero_.begin()) ? 0 : -1;
    const auto& vs = run_.block_versions[b];
    for (std::size_t i = 0; i < vs.size(); ++i)
      if (std::equal(got.begin(), got.end(), run_.versions[vs[i]].data.begin()))
        found = found == -1 ? static_cast<long>(i + 1) : -2;
    return found;
  }

  std::string check_all_or_nothing(const std::vector<std::byte>& all, std::size_t point) {
    const std::uint32_t bs = run_.block_size;
    for (std::uint32_t ci = 0; ci < run_.commands.size(); ++ci) {
      const auto& c = run_.commands[ci];
      if (c.begin >= point || c.first_version < 0 || c.blocks > 256) continue;
      if (c.op != Op::kWrite && c.op != Op::kWriteFua && c.op != Op::kWriteAtomic &&
          c.op != Op::kWriteVerify && c.op != Op::kCompareAndWrite && c.op != Op::kOrWrite)
        continue;
      bool older = false, equal = false;
      for (std::uint32_t i = 0; i < c.blocks; ++i) {
        const std::uint64_t b = c.lba + i;
        const auto& vs = run_.block_versions[b];
        const auto mine = std::find(vs.begin(), vs.end(),
                                    static_cast<std::uint32_t>(c.first_version + i));
        const long pos = (mine - vs.begin()) + 1;
        const long w = which(b, {all.data() + b * bs, bs});
        if (w < 0) continue;
        if (w == pos) equal = true;
        if (w < pos) older = true;
      }
      if (older && equal)
        return "crash point " + std::to_string(point) + ": " + to_string(c.op) + " of " +
               std::to_string(c.blocks) + " blocks at lba " + std::to_string(c.lba) +
               " is half there (some blocks new, some old)";
    }
    return {};
  }

  std::string write_after_recovery(bs::Lun& lun, const std::vector<std::byte>& before,
                                   std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::uint32_t bs = run_.block_size;
    std::vector<std::byte>& expect = expect_;
    expect.assign(before.begin(), before.end());
    for (int i = 0; i < 24; ++i) {
      const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 4);
      const std::uint64_t lba = rng() % (blocks_ - n);
      std::vector<std::byte> data;
      for (std::uint32_t k = 0; k < n; ++k) {
        auto blk = block_content(lba + k, (std::uint64_t{0xfffe} << 32) | (seed * 64 + i), bs);
        data.insert(data.end(), blk.begin(), blk.end());
      }
      if (!bs::execute(lun, {testing::cdb16(op::kWrite16, lba, n), data, {}}).good())
        return "a WRITE after recovery failed";
      std::copy(data.begin(), data.end(), expect.begin() + static_cast<long>(lba * bs));
    }
    std::vector<std::byte>& after = after_;
    if (!read_all(lun, blocks_, after)) return "a READ after the writes after recovery failed";
    for (std::uint64_t b = 0; b < blocks_; ++b)
      if (std::memcmp(after.data() + b * bs, expect.data() + b * bs, bs) != 0)
        return "after recovery, writes to other blocks changed block " + std::to_string(b) +
               " (" + describe({after.data() + b * bs, bs}) +
               "): two logical blocks share a physical one";
    return {};
  }

  const WorkloadRun& run_;
  const WorkloadOptions& w_;
  const ExploreOptions& e_;
  std::uint64_t blocks_;
  std::vector<std::byte> zero_;
  std::vector<char> durable_at_ack_;
  std::vector<std::pair<std::size_t, std::size_t>> syncs_;  // (end, begin), by end
  std::size_t next_sync_ = 0;
  std::size_t latest_sync_begin_ = 0;
  std::vector<std::byte> all_, after_, expect_;  // reused from image to image
  std::vector<const std::vector<std::byte>*> cands_;
};

bool persist_point(const Event& e, flush::Method m) {
  switch (e.kind) {
    case Event::Kind::kDrain:
    case Event::Kind::kSyncFile:
      return true;
    case Event::Kind::kFlush:
      return m == flush::Method::kMsync;
    default:
      return false;
  }
}

}  // namespace

ExploreResult explore(const WorkloadOptions& w, const ExploreOptions& e) {
  // Images are megabytes each, made by the thousand: keep freed ones in the heap rather
  // than unmapping them (the page faults of fresh mappings were a third of the run time).
  static const bool heap_tuned = [] {
    ::mallopt(M_MMAP_THRESHOLD, 256 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
    return true;
  }();
  (void)heap_tuned;
  ExploreResult res;
  RealMapping mapping(e.medium_size, e.method);
  std::span<std::byte> mem = mapping.bytes();
  TraceFlusher f(mem, e.method, mapping.flusher());
  f.pause(true);
  auto medium = std::make_unique<testing::MemoryMedium>(mem, f);
  std::unique_ptr<bs::Lun> lun;
  if (w.layout == LayoutKind::kRaw) {
    lun = std::make_unique<bs::Lun>(std::move(medium), e.block_size);
  } else {
    auto l = bs::AtomicLayout::open(*medium, e.block_size);
    if (!l) {
      res.failures.push_back("cannot format the atomic layout: " + l.error());
      return res;
    }
    lun = std::make_unique<bs::Lun>(std::move(medium), std::move(*l), e.block_size);
  }
  if (lun->blocks() < std::uint64_t{w.threads} * w.region_blocks) {
    res.failures.push_back("the medium is too small for the workload");
    return res;
  }
  if (!lun->set_write_cache(w.start_cached)) {  // set-up, not part of the trace
    res.failures.push_back("cannot set the write cache");
    return res;
  }
  const std::vector<std::byte> initial(mem.begin(), mem.end());
  f.fail_call(e.fail_call);
  f.set_jitter(e.jitter_percent, e.jitter_max_us, e.seed);
  f.pause(false);
  const WorkloadRun run = run_workload(*lun, f, w);
  f.pause(true);
  res.errors = run.errors;
  if (run.block_versions.empty()) return res;  // it did not run (errors say why)
  res.calls = f.calls();
  res.commands = run.commands.size();
  for (const auto& c : run.commands) {
    res.good += c.good ? 1 : 0;
    res.failed += !c.good && c.expected_good ? 1 : 0;
  }
  const std::uint64_t lun_blocks = lun->blocks();
  lun.reset();

  const Trace trace = f.trace();
  if (const char* dump = std::getenv("TGTPMEM_EXPLORE_DUMP")) {
    // For debugging a failure: TGTPMEM_EXPLORE_DUMP=FROM-TO prints those events.
    std::size_t from = 0, to = 0;
    if (std::sscanf(dump, "%zu-%zu", &from, &to) == 2) {
      static const char* kinds[] = {"store", "nt-store", "flush", "drain", "sync-file", "mark"};
      for (std::size_t i = from; i < std::min(to, trace.events.size()); ++i) {
        const Event& ev = trace.events[i];
        std::fprintf(stderr, "%6zu t%u %-9s%s off %llu len %llu a %llx b %llu\n", i, ev.thread,
                     kinds[static_cast<int>(ev.kind)], ev.failed ? " FAILED" : "",
                     static_cast<unsigned long long>(ev.offset),
                     static_cast<unsigned long long>(ev.len),
                     static_cast<unsigned long long>(ev.data),
                     static_cast<unsigned long long>(ev.mark_b));
      }
    }
  }
  CrashStates states(trace, initial, e.method);
  // The blocks the workload writes; the others are never written and never read back
  // (writes after recovery stay inside these too).
  (void)lun_blocks;
  Checker checker(run, w, e, std::uint64_t{w.threads} * w.region_blocks);
  for (std::size_t i = 0; i < trace.events.size(); ++i)
    if (trace.events[i].failed) {
      res.fault_event = i;
      break;
    }
  if (res.fault_event != SIZE_MAX)
    for (std::uint32_t ci = 0; ci < run.commands.size(); ++ci) {
      const auto& c = run.commands[ci];
      if (c.good && c.end > res.fault_event && checker.claims_durability(ci))
        res.latch_violations.push_back(std::string(to_string(c.op)) + " at lba " +
                                       std::to_string(c.lba) + " (events " +
                                       std::to_string(c.begin) + "-" + std::to_string(c.end) +
                                       ") answered GOOD after the flush failure at event " +
                                       std::to_string(res.fault_event));
    }
  std::mt19937_64 rng(e.seed);
  std::vector<std::size_t> points;
  for (std::size_t i = 0; i < trace.events.size(); ++i)
    if (persist_point(trace.events[i], e.method) || (e.other_points && rng() % e.other_points == 0))
      points.push_back(i + 1);
  points.push_back(trace.events.size());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  if (e.max_points && points.size() > e.max_points) {
    // A long trace: an even sample of its points, and always its last.
    std::vector<std::size_t> kept;
    for (std::size_t i = 0; i < e.max_points; ++i)
      kept.push_back(points[i * points.size() / e.max_points]);
    kept.push_back(points.back());
    kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
    points.swap(kept);
  }

  std::vector<std::byte> img;  // reused
  for (const std::size_t p : points) {
    states.advance_to(p);
    ++res.points;
    const unsigned n = states.uncertain_words() > 0 ? 2 + e.random_images : 1;
    for (unsigned k = 0; k < n; ++k) {
      if (k == 0)
        states.durable_into(img);
      else if (k == 1)
        states.latest_into(img);
      else
        states.random_into(img, rng);
      ++res.images;
      const std::string why = checker.check(img, p, rng());
      if (why.empty()) continue;
      ++res.failed_images;
      if (res.failures.size() < e.max_failures) res.failures.push_back(why);
    }
  }
  return res;
}

std::string summary(const WorkloadOptions& w, const ExploreOptions& e, const ExploreResult& r) {
  return std::string(w.layout == LayoutKind::kRaw ? "raw" : "atomic") + " layout, " +
         std::string(flush::to_string(e.method)) + ", " + std::to_string(w.threads) +
         " thread(s): " + std::to_string(r.commands) + " commands (" + std::to_string(r.good) +
         " GOOD, " + std::to_string(r.failed) + " failed), " + std::to_string(r.calls) + " durability calls, " +
         std::to_string(r.points) + " crash points, " + std::to_string(r.images) +
         " crash images checked, " + std::to_string(r.failed_images) + " broken";
}

}  // namespace tgt_pmem::crash
