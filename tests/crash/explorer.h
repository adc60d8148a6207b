// SPDX-License-Identifier: GPL-2.0-only
// The crash-state explorer: runs a workload (workload.h) on a Lun whose flusher records every
// store, flush and fence (trace_flusher.h), then replays the trace (crash_states.h) and, at
// every persist point and at random other points, builds crash images - only what was
// durable, everything stored, and random mixes of the words that were not yet durable - and
// for each one opens the LUN again exactly as tgtd would (recovery included) and checks:
//   - every write that was acknowledged as durable at that point reads back: write-through
//     and FUA writes at their completion; cached writes once a SYNCHRONIZE CACHE, a FUA write
//     or a MODE SELECT that turned the cache off began after them and completed;
//   - every block holds one of the versions it may hold (on the raw layout, every 8-byte word
//     comes from one of them: a block may be torn there), never another LBA's data;
//   - atomic layout: every block is exactly one version (not torn), and every WRITE ATOMIC,
//     and every write of up to 256 blocks, is all there or not at all;
//   - atomic layout: writes after recovery land where they should and disturb no other block
//     (a free list that points at a mapped block shows up here).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lun.h"
#include "trace_flusher.h"
#include "workload.h"

namespace tgt_pmem::crash {

struct ExploreOptions {
  flush::Method method = flush::Method::kCacheFlush;
  std::uint32_t block_size = 512;
  std::uint64_t medium_size = 1 << 20;
  unsigned random_images = 1;    // per crash point, besides "durable only" and "everything"
  unsigned other_points = 16;    // also 1 in N events that are not persist points
  std::size_t max_points = 1200; // at most this many crash points (an even sample); 0: all
  std::uint64_t seed = 1;
  bool writes_after_recovery = true;  // atomic layout
  // A fault: the n-th durability call of the run fails (TraceFlusher::fail_call).
  std::uint64_t fail_call = UINT64_MAX;
  unsigned jitter_percent = 0;   // TraceFlusher::set_jitter
  unsigned jitter_max_us = 0;
  std::size_t max_failures = 3;  // failures described in the result
};

struct ExploreResult {
  std::size_t points = 0;   // crash points visited
  std::size_t images = 0;   // crash images recovered and checked
  std::uint64_t calls = 0;  // durability calls the run made
  std::size_t commands = 0;
  std::size_t good = 0;     // commands that completed GOOD
  std::size_t failed = 0;   // commands that failed and were not meant to (a miscompare is)
  std::vector<std::string> errors;    // from the run itself (workload.h)
  // With a fault: the event index of the failed call (SIZE_MAX: none failed), and every
  // command that still answered GOOD for a durability claim after it (SYNCHRONIZE CACHE, a
  // FUA or write-through write, a MODE SELECT turning the cache off): the latch broken.
  std::size_t fault_event = SIZE_MAX;
  std::vector<std::string> latch_violations;
  std::vector<std::string> failures;  // broken promises, first max_failures of them
  std::size_t failed_images = 0;
};

// Runs the workload and explores its crash states. Deterministic per seed, but for the
// threads' interleaving.
[[nodiscard]] ExploreResult explore(const WorkloadOptions& w, const ExploreOptions& e);

// One line for the test log: layout, method, points, images, commands.
[[nodiscard]] std::string summary(const WorkloadOptions& w, const ExploreOptions& e,
                                  const ExploreResult& r);

}  // namespace tgt_pmem::crash
