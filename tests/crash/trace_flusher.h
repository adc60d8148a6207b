// SPDX-License-Identifier: GPL-2.0-only
// A flusher that records, in one total order, every store the engine makes to a medium (plain,
// non-temporal, word), every flush, fence and file sync, per thread, with the bytes stored,
// and the test's own marks ("command 12 began", "... completed GOOD"). crash_states.h replays
// such a trace to build the images a power loss could leave at any point of it (after PMDK's
// pmemcheck/pmreorder idea: record stores and persist barriers, then reorder; our own code).
//
// It reports the durability method it is told to, so that the engine takes the code path it
// takes in production for that method: kCacheFlush makes MediaAccess use the non-temporal
// copy_and_flush + drain path, kMsync the store + msync path. With an `inner` flusher every
// call is also forwarded to it (a real CpuFlusher on a real mapping runs libpmem2's
// non-temporal copies and CLWB/SFENCE; a real MsyncFlusher calls msync), so the real code runs
// under the recording.
//
// Faults: fail_call(n) makes the n-th durability call (flush, drain, sync_file and the
// flushing copies, counted from 0 in call order) fail with EIO, and the trace says so.
// Jitter: with set_jitter(), flush() and drain() sometimes sleep before they act, outside the
// lock, which widens the windows between threads (races that a plain run would hide).
//
// Thread-safety: every call may come from any thread; one mutex orders the trace.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::crash {

struct Event {
  enum class Kind : std::uint8_t {
    kStore,     // plain store into the CPU caches (or the page cache)
    kNtStore,   // non-temporal store: bypasses the caches, durable at this thread's drain
    kFlush,     // write-back of [offset, offset + len) (CLWB, or msync: durable at once)
    kDrain,     // fence: this thread's flushed and non-temporal stores are durable
    kSyncFile,  // fdatasync of the medium's file
    kMark,      // the test's own event
  };
  Kind kind;
  bool failed = false;    // a durability call that returned an error (fault injection)
  std::uint32_t thread = 0;
  std::uint64_t offset = 0;  // medium offset (stores, flush)
  std::uint64_t len = 0;
  std::uint64_t data = 0;    // stores: index of the bytes in Trace::bytes; marks: payload a
  std::uint64_t mark_b = 0;  // marks: payload b
};

struct Trace {
  std::vector<Event> events;
  std::vector<std::byte> bytes;  // the bytes of every store, back to back
};

class TraceFlusher final : public flush::Flusher {
 public:
  // mem: the medium's bytes (not owned); method: what to report; inner: optional real
  // flusher every call is forwarded to (not owned, must work on mem).
  TraceFlusher(std::span<std::byte> mem, flush::Method method, flush::Flusher* inner = nullptr);

  flush::Method method() const noexcept override { return method_; }
  flush::Status flush(const void* addr, std::size_t len) noexcept override;
  flush::Status drain() noexcept override;
  flush::Status sync_file() noexcept override;
  flush::Status copy_and_flush(void* dst, const void* src, std::size_t len) noexcept override;
  flush::Status fill_and_flush(void* dst, int c, std::size_t len) noexcept override;
  void copy(void* dst, const void* src, std::size_t len) noexcept override;
  void fill(void* dst, int c, std::size_t len) noexcept override;
  void store_word(std::uint64_t* dst, std::uint64_t value) noexcept override;

  // Appends a mark; returns its event index.
  std::size_t mark(std::uint64_t a, std::uint64_t b = 0);

  // The n-th durability call fails with EIO (UINT64_MAX: none).
  void fail_call(std::uint64_t n);
  // Durability calls made so far.
  [[nodiscard]] std::uint64_t calls() const;
  // flush() and drain() sleep up to max_us microseconds, with probability percent/100.
  void set_jitter(unsigned percent, unsigned max_us, std::uint64_t seed);
  // Stops recording stores and calls (the test's own set-up or read-back).
  void pause(bool paused);

  // The trace so far (a copy).
  [[nodiscard]] Trace trace() const;
  [[nodiscard]] std::size_t events() const;

 private:
  std::uint32_t thread_id_locked();
  void record_store_locked(Event::Kind kind, const void* dst, const void* src, std::size_t len,
                           int fill_byte);
  // Counts a durability call; true if this one is to fail.
  bool next_call_fails_locked();
  void jitter();
  [[nodiscard]] std::uint64_t offset_of(const void* p) const noexcept;

  std::span<std::byte> mem_;
  flush::Method method_;
  flush::Flusher* inner_;
  mutable std::mutex mu_;
  Trace trace_;
  std::unordered_map<std::thread::id, std::uint32_t> threads_;
  std::uint64_t calls_ = 0;
  std::uint64_t fail_at_ = UINT64_MAX;
  bool paused_ = false;
  unsigned jitter_percent_ = 0;
  unsigned jitter_max_us_ = 0;
  std::atomic<std::uint64_t> jitter_state_{0};
};

}  // namespace tgt_pmem::crash
