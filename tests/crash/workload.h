// SPDX-License-Identifier: GPL-2.0-only
// A SCSI workload for the crash explorer: several threads (exec=threads) run random commands
// on one Lun through the real command executor (scsi_exec.h), each thread on its own range of
// blocks, while SYNCHRONIZE CACHE, FUA and write-cache changes (one thread's MODE SELECT) reach
// across all of them. Every command is bracketed by two marks in the trace, so that the
// checker knows, at any point of the trace, which commands had begun, completed, and with
// what status. Every block a command writes carries its LBA and a unique version id, so that
// a block holding another LBA's data, or a mix of two versions, is recognised.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lun.h"
#include "trace_flusher.h"

namespace tgt_pmem::crash {

enum class LayoutKind { kRaw, kAtomic };

enum class Op : std::uint8_t {
  kWrite,
  kWriteFua,
  kWriteVerify,
  kWriteSame,
  kWriteSameLbdata,
  kWriteSameUnmap,
  kUnmap,
  kSync,
  kCompareAndWrite,
  kCompareMiscompare,  // a COMPARE AND WRITE whose compare must fail: nothing is written
  kOrWrite,
  kWriteAtomic,
  kCacheOn,   // MODE SELECT WCE=1 (thread 0 only)
  kCacheOff,  // MODE SELECT WCE=0: flushes what the cache held before it completes
};
[[nodiscard]] const char* to_string(Op op) noexcept;

struct WorkloadOptions {
  LayoutKind layout = LayoutKind::kRaw;
  unsigned threads = 1;
  unsigned ops_per_thread = 100;
  std::uint64_t seed = 1;
  std::uint32_t region_blocks = 256;  // per thread, from LBA 0 on
  std::uint32_t max_blocks = 16;      // per command (a few long ones on the atomic layout)
  bool start_cached = false;          // the write cache's state at the start
  bool toggle_write_cache = true;     // thread 0 turns WCE on and off (raw layout)
  bool read_modify_write = true;      // COMPARE AND WRITE and ORWRITE
  bool unmap = true;
};

struct CommandRecord {
  Op op;
  std::uint32_t thread;
  std::uint64_t lba = 0;
  std::uint32_t blocks = 0;
  std::size_t begin = 0;  // event index of its "began" mark
  std::size_t end = 0;    // event index of its "completed" mark
  bool good = false;
  bool expected_good = true;  // false for a COMPARE AND WRITE that must miscompare
  // First version id of the blocks it writes (block i has version first_version + i), or -1.
  std::int64_t first_version = -1;
};

struct Version {
  std::uint64_t lba;
  std::uint32_t command;  // index into WorkloadRun::commands
  std::vector<std::byte> data;
};

struct WorkloadRun {
  std::uint32_t block_size = 512;
  std::vector<CommandRecord> commands;
  std::vector<Version> versions;
  // Per LBA, the versions written to it in order (one thread writes each LBA).
  std::vector<std::vector<std::uint32_t>> block_versions;
  // Results that contradict the model while running (a miscompare that should not be, ...).
  std::vector<std::string> errors;
};

// Runs the workload on lun, marking its trace through f. The lun must be at least
// threads * region_blocks blocks. Deterministic per seed, but for the interleaving.
[[nodiscard]] WorkloadRun run_workload(bs::Lun& lun, TraceFlusher& f, const WorkloadOptions& o);

// The content of a block of a version: its LBA, its id, then bytes derived from both.
[[nodiscard]] std::vector<std::byte> block_content(std::uint64_t lba, std::uint64_t id,
                                                   std::uint32_t block_size);

}  // namespace tgt_pmem::crash
