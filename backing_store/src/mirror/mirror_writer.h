// SPDX-License-Identifier: GPL-2.0-only
// The write path of a mirrored LUN's primary (issue 16; docs/replication-design.md): every
// write goes to the local medium and to the secondary (replica.h) in parallel and completes
// only when both are durable. What it promises, whatever fails:
//   - a write answered kGood is durable on both copies, or (policy degrade, the secondary
//     lost) durable locally with its regions marked in the write-intent bitmap and the
//     primary's generation moved on (generations.h: diverge) - both durable before the answer;
//   - a write's regions are marked, durably, before either half starts (intent_bitmap.h), so
//     after any crash every region the copies may differ in is marked;
//   - overlapping writes are never in flight together (extent_table.h), so both copies see
//     them in the same order;
//   - with policy fail, once the secondary is lost no write is started at all (kNotReplicated;
//     also when it is found away before a write starts) and a write in flight that found it
//     lost is answered kRemoteFailed: nothing acknowledged exists on one copy only.
// A region's bit is cleared (clear_idle) only if every write to it since it was marked went
// to both copies successfully and none is in flight. Bits found set when the writer is made
// (a crash, an earlier degraded period) stay until a resync copies those regions.
//
// Not thread-safe: one thread (tgtd's event loop) calls everything, and the local and remote
// halves complete on it. Completions may be called from inside submit() (a local half that
// completes at once and a secondary that is not there).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "mirror/extent_table.h"
#include "mirror/meta_store.h"
#include "mirror/replica.h"
#include "mirror/resync_pacer.h"
#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::bs::mirror {

class MirrorWriter {
 public:
  enum class Policy { kFail, kDegrade };
  enum class State {
    kSynchronous,  // writes go to both copies
    kDegraded,     // policy degrade, the secondary lost: local writes, marked in the bitmap
    kStopped,      // policy fail, the secondary lost: writes are refused
    kResyncing,    // the secondary is back: writes go to both copies while the regions
                   // that differ are copied to it (start_resync)
  };
  enum class Outcome {
    kGood,
    kLocalFailed,    // the local half failed (its error is given)
    kRemoteFailed,   // policy fail: the secondary failed this write
    kNotReplicated,  // policy fail: the secondary was already lost; nothing was written
    kMetaFailed,     // the bitmap or the generation record could not be made durable
  };
  using LocalDone = std::function<void(std::error_code)>;
  // Starts the local half (the engine's write and its flush, on the loop or a worker) and
  // calls its argument once, on the loop, with the outcome.
  using LocalWrite = std::function<void(LocalDone)>;
  using Completion = std::function<void(Outcome, std::error_code)>;
  using Log = std::function<void(const std::string&)>;

  struct Counters {
    std::uint64_t good = 0;
    std::uint64_t failed = 0;
    std::uint64_t held = 0;            // writes that waited for an overlapping one
    std::uint64_t remote_failures = 0;
    std::uint64_t degraded_writes = 0;  // kGood on the local copy only
    std::uint64_t regions_cleared = 0;
  };

  // meta and replica are not owned and must outlive the writer. initial: kSynchronous, or
  // kDegraded when the record says the primary is already apart (its bitmap generation set;
  // with policy fail that is kStopped). Destroy it only with nothing in flight.
  MirrorWriter(MetaStore& meta, Replica& replica, Policy policy, State initial, Log log = {});
  ~MirrorWriter();
  MirrorWriter(const MirrorWriter&) = delete;
  MirrorWriter& operator=(const MirrorWriter&) = delete;

  // A write of data at the LUN's byte offset (data.size() > 0, within the LUN). data must
  // stay valid until done is called; done is called exactly once.
  // remote_after_local: the bytes are not known before the local half has run (WRITE SAME,
  // UNMAP, COMPARE AND WRITE: data is then the local copy's range itself). The remote half
  // starts when the local half succeeded, instead of beside it; a local failure sends
  // nothing. The regions are marked before either, as always.
  void submit(std::uint64_t offset, std::span<const std::byte> data, LocalWrite local,
              Completion done, bool remote_after_local = false);

  // Clears the bits of regions that were marked only for writes that have all completed on
  // both copies, with none in flight now. Called from a timer (and by tests). Errors: the
  // bitmap's (the bits then stay set, which is always safe).
  [[nodiscard]] flush::Status clear_idle();

  // Resynchronisation, once the secondary is back and decide() was asked (generations.h):
  // kInSync (copies only what the bitmap still marks: writes a crash left in flight),
  // kResyncFromBitmap, kFullResync (every region) are started; any other decision is
  // refused with EPERM, and nothing changes. Every region that may differ is copied from
  // `local` (the primary's copy of the LUN, valid until done) to the secondary, at most
  // max_in_flight at a time, each held against overlapping writes like a write; a region's
  // bit is cleared once the secondary made its copy durable. Writes go to both copies
  // meanwhile. Then the secondary records the primary's current generation, and only then
  // the primary retires its bitmap generation (a crash in between finds them in sync), and
  // the writer is synchronous. done: once, with the first error (the secondary lost again:
  // the policy applies; the metadata not durable).
  using ResyncDone = std::function<void(std::error_code)>;
  [[nodiscard]] std::error_code start_resync(Decision decision, std::span<const std::byte> local,
                                             const Generations& secondary, ResyncDone done,
                                             unsigned max_in_flight = 4);
  struct ResyncProgress {
    std::uint64_t regions_total = 0;
    std::uint64_t regions_copied = 0;
    std::uint64_t bytes_copied = 0;
    double seconds = 0;  // since the resync started
    bool running = false;
    [[nodiscard]] double mib_per_s() const noexcept {
      return seconds > 0 ? static_cast<double>(bytes_copied) / 1048576.0 / seconds : 0.0;
    }
  };
  [[nodiscard]] ResyncProgress resync_progress() const;

  // The resync's rate limit (resync_pacer.h; default: none). Set it before start_resync.
  void set_resync_pacer(ResyncPacer pacer) { pacer_ = std::move(pacer); }
  // Starts the copies the rate limit held back, if their time has come: call it from a
  // timer while a resync runs (MirrorPrimary::tick does, once a second).
  void resume_resync() { pump_resync(); }

  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::size_t in_flight() const noexcept { return writes_.size(); }

 private:
  struct Write;
  struct Resync;
  std::uint64_t enqueue(std::unique_ptr<Write> w);
  void start(std::uint64_t ticket);
  void send_remote(std::uint64_t ticket);
  void pump_resync();
  void on_copy_done(std::uint64_t region, std::uint64_t bytes, Outcome o, std::error_code ec);
  void end_resync(std::error_code ec);
  void on_local(std::uint64_t ticket, std::error_code ec);
  void on_remote(std::uint64_t ticket, std::error_code ec);
  void maybe_complete(std::uint64_t ticket);
  // The secondary was lost: policy degrade moves the generation on (durably), policy fail
  // stops writes. Returns the error if the record could not be written.
  std::error_code secondary_lost(std::error_code why);
  void finish(std::uint64_t ticket, Outcome o, std::error_code ec);
  void regions_of(const Write& w, std::uint64_t& first, std::uint64_t& last) const noexcept;
  void log(const std::string& s) const {
    if (log_) log_(s);
  }

  MetaStore& meta_;
  Replica& replica_;
  Policy policy_;
  State state_;
  Log log_;
  ExtentTable extents_;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Write>> writes_;
  std::vector<std::uint32_t> in_flight_;  // per region: writes started and not finished
  std::vector<bool> sticky_;    // per region: may differ between the copies (resync only)
  std::vector<bool> activity_;  // per region: marked by this writer, clearable when idle
  Counters counters_;
  std::unique_ptr<Resync> resync_;
  ResyncPacer pacer_;
  // Counts the secondary's comings back (start_resync): a failure reported by a write that
  // started before the current one is not a new loss.
  std::uint64_t epoch_ = 0;
};

[[nodiscard]] const char* to_string(MirrorWriter::Outcome o) noexcept;
[[nodiscard]] const char* to_string(MirrorWriter::State s) noexcept;

}  // namespace tgt_pmem::bs::mirror
