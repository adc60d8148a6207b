// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push --bench: the latency and throughput of a DURABLE write, one at a time, by
// COMMIT and by the client's one-sided method (ClientOptions::flush_method, --remote-flush):
//   write+commit            RDMA WRITE, then COMMIT of its range (the target flushes)
//   write+read-after-write  RDMA WRITE, then an RDMA READ of its last bytes (no target CPU;
//                           durable only under the conditions of tgt_pmem/flush/remote.h)
//   write+rdma-flush        RDMA WRITE, then RDMA FLUSH of its range (no target CPU; the
//                           target's NIC answers for durability), where it is available
// Both run in the same session on the same region, so their ratio is what to compare.
// Figures are printed, never asserted (CONVENTIONS.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push::tool {

// BenchOptions::count with a runtime and no count given: the runtime alone ends each method.
inline constexpr std::uint64_t kUnlimitedCount = UINT64_MAX;

struct BenchOptions {
  std::uint64_t size = 4096;        // bytes per write
  std::uint64_t count = 1000;       // writes per method (at most, with a runtime)
  std::chrono::microseconds runtime{0};  // per method, when not zero: stop after this long
  std::uint64_t region = 1u << 20;  // bytes registered; writes go round it, size-aligned
  std::uint64_t offset = 0;         // where the region starts in the LUN
};

struct BenchStats {
  std::string method;
  std::uint64_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
  double iops = 0;
  double mib_per_s = 0;
};

// Nearest-rank percentiles over latencies_us (any order); iops and MiB/s from the wall time
// the writes took together.
[[nodiscard]] BenchStats summarize(std::string method, std::span<const double> latencies_us,
                                   double total_seconds, std::uint64_t size);

// The table (a header line and one line per method).
[[nodiscard]] std::string format_table(std::span<const BenchStats> rows, const BenchOptions& o);
// One JSON line: {"tool":"tgtpmem-push","mode":"bench","size":...,"results":[{...},...]}.
[[nodiscard]] std::string format_json(std::span<const BenchStats> rows, const BenchOptions& o);

// Registers the region (read and write), runs both methods (each for count writes, or until
// runtime has passed if that comes first), unregisters. Errors: the first
// failure, with what it was doing (RDMA FLUSH asked for where it is not available: before
// any write).
[[nodiscard]] std::expected<std::vector<BenchStats>, std::string> run_bench(Client& client,
                                                                            const BenchOptions& o);

}  // namespace tgt_pmem::push::tool
