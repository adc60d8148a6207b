// SPDX-License-Identifier: GPL-2.0-only
// Replays a trace (trace_flusher.h) and builds the images a power loss could leave at any
// point of it. The model, per 8-byte aligned word of the medium:
//   - a durable value: what the persistence domain holds for sure;
//   - candidate values that may or may not have reached it: every value stored since the
//     word was last made durable (a cache line can be evicted at any moment, with whatever
//     it held then), values flushed or stored non-temporally by a thread that has not
//     fenced yet, and values whose flush failed (Linux marks such pages clean: a later msync
//     does not write them again, so they stay "maybe" until stored afresh).
// A crash image is the durable image with, for each word independently, either its durable
// value or one of its candidates. That is harsher than a real machine (which keeps stores to
// one cache line in order) and so finds every ordering a real one could show.
//
// How a call makes words durable depends on the method the trace was recorded with:
//   kCacheFlush, kFenceOnly  flush snapshots the range's words into the thread's pending set
//                            (fence-only: every store is pending at once); drain makes the
//                            thread's pending set durable; non-temporal stores are pending.
//   kMsync                   flush (msync) makes the range durable at once; sync_file
//                            (fdatasync) makes every stored word durable.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "tgt_pmem/flush/flusher.h"
#include "trace_flusher.h"

namespace tgt_pmem::crash {

class CrashStates {
 public:
  // initial: the medium's durable content when the trace began (the trace's stores apply
  // to it). Both are copied or referred to: trace must outlive this.
  CrashStates(const Trace& trace, std::span<const std::byte> initial, flush::Method method);

  // Applies events up to, not including, index `point` (monotonic: never goes back).
  void advance_to(std::size_t point);
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  // Only what is durable.
  [[nodiscard]] std::vector<std::byte> image_durable() const;
  // Every word at its newest candidate (everything stored reached the medium).
  [[nodiscard]] std::vector<std::byte> image_latest() const;
  // Each word independently: durable (half the time) or one of its candidates.
  [[nodiscard]] std::vector<std::byte> image_random(std::mt19937_64& rng) const;
  // The same into `img` (its storage is reused: no allocation once it has the size).
  void durable_into(std::vector<std::byte>& img) const;
  void latest_into(std::vector<std::byte>& img) const;
  void random_into(std::vector<std::byte>& img, std::mt19937_64& rng) const;

  // Words with at least one candidate value.
  [[nodiscard]] std::size_t uncertain_words() const noexcept { return candidates_.size(); }

 private:
  struct Value {
    std::uint64_t seq;  // store order
    std::uint64_t v;
  };
  struct Pending {
    std::uint64_t word;
    Value value;
  };
  void store(const Event& e);
  void flush_range(const Event& e);
  void make_durable(std::uint64_t word, Value value);
  void forget_before(std::uint64_t word, std::uint64_t seq);
  std::uint64_t current_word(std::uint64_t word) const;

  const Trace& trace_;
  flush::Method method_;
  std::size_t pos_ = 0;
  std::uint64_t seq_ = 0;
  std::vector<std::byte> current_;  // what the CPU sees (caches included)
  std::vector<std::byte> durable_;
  std::vector<std::uint64_t> durable_seq_;  // per word
  // Words stored since last made durable, with the values they held (oldest first).
  std::unordered_map<std::uint64_t, std::vector<Value>> candidates_;
  // Per thread: words written back or stored non-temporally, waiting for its fence.
  std::unordered_map<std::uint32_t, std::vector<Pending>> pending_;
  // Words stored since the last write-back attempt (msync writes only dirty pages).
  std::unordered_map<std::uint64_t, std::uint64_t> dirty_;  // word -> seq of latest store
};

}  // namespace tgt_pmem::crash
