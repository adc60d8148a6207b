// SPDX-License-Identifier: GPL-2.0-only
// The result of a run and its two renderings (a table for people, JSON for scripts). Pure, so
// the formatting is unit-testable.
#pragma once


#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tgt_pmem/load/latency_histogram.h"
#include "tgt_pmem/load/options.h"

namespace tgt_pmem::load {

struct OpStats {
  std::uint64_t ios = 0;
  std::uint64_t bytes = 0;
  LatencyHistogram latency_ns;
};

struct VerifyStats {
  std::uint64_t blocks_checked = 0;   // logical blocks compared after a read
  std::uint64_t blocks_unknown = 0;   // ... of which had no known content (weak check only)
  std::uint64_t errors = 0;           // mismatching blocks
  std::vector<std::string> first_errors;  // at most kMaxReportedVerifyErrors descriptions
};
inline constexpr std::size_t kMaxReportedVerifyErrors = 10;

struct RunReport {
  LoadOptions options;
  std::uint64_t seed = 0;           // the seed actually used
  std::uint32_t lun_block_size = 0;
  std::uint64_t lun_blocks = 0;
  std::uint64_t region_offset = 0;  // bytes
  std::uint64_t region_size = 0;    // bytes
  double elapsed_s = 0;             // measured phase, first issue to last completion
  OpStats read;
  OpStats write;
  VerifyStats verify;
  std::optional<std::string> io_error;  // the first failed command, if any
  bool interrupted = false;             // stopped early by SIGINT/SIGTERM
};

// Success means: no failed command and no verification error.
[[nodiscard]] inline bool run_succeeded(const RunReport& r) {
  return !r.io_error && r.verify.errors == 0;
}

[[nodiscard]] double iops(const OpStats& s, double elapsed_s);
[[nodiscard]] double mib_per_s(const OpStats& s, double elapsed_s);

[[nodiscard]] std::string format_text(const RunReport& report);
[[nodiscard]] std::string format_json(const RunReport& report);
// {"ok":false,"error":"..."} for failures before any I/O (connection, login, capacity).
[[nodiscard]] std::string format_json_failure(std::string_view message);

}  // namespace tgt_pmem::load
