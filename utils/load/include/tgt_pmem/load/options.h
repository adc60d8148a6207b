// SPDX-License-Identifier: GPL-2.0-only
// Command-line options of tgtpmem-load, parsed by a pure function so that every rule about
// them is unit-testable without a target.
//
// Thread-safety: plain values and free functions; nothing shared.
#pragma once

#include "tgt_pmem/text/size.h"

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace tgt_pmem::load {

enum class AccessPattern { kRandom, kSequential };

// Everything the load generator needs to know. Sizes are in bytes; whether they are multiples of
// the LUN's logical block size can only be checked once connected (see iscsi_runner.h).
struct LoadOptions {
  std::string url;                        // iscsi://host[:port]/target-iqn/lun
  unsigned queue_depth = 16;              // commands kept in flight
  std::uint64_t block_size = 4096;        // bytes per I/O
  unsigned read_percent = 100;            // 100 = reads only (the non-destructive default)
  AccessPattern access = AccessPattern::kRandom;
  bool fua = false;                       // WRITE(16) with FUA=1
  std::optional<double> duration_s;       // stop issuing after this (measured phase)
  std::optional<std::uint64_t> io_count;  // stop issuing after this many measured I/Os
  double ramp_s = 0;                      // run this long before measuring; not reported
  std::uint64_t offset = 0;               // region start
  std::optional<std::uint64_t> size;      // region length; unset = up to the end of the LUN
  bool verify = false;                    // stamp writes, check reads
  bool json = false;                      // machine-readable report on stdout
  std::optional<std::uint64_t> seed;      // unset = a fresh one per run (printed in the report)
  std::string initiator_name = "iqn.2024-01.org.tgt-pmem:load";
  unsigned timeout_s = 30;                // per-command and login timeout
};

// --help was given: print the text and exit successfully.
struct HelpRequested {
  std::string text;
};

using ParseOutcome = std::variant<LoadOptions, HelpRequested>;

// Parses the arguments that follow argv[0]. When neither --duration nor --ios is given the
// duration defaults to 10 s. Returns a one-line message naming the offending option on error.
[[nodiscard]] std::expected<ParseOutcome, std::string> parse_options(
    std::span<const std::string> args);

// "4096", "4k", "4KiB", "1m", "2G", "1T" (binary multiples), and "4 KiB", "1.50 GiB" for
// reports: the shared helpers of utils/text.
using text::format_size;
using text::parse_size;

// The --help text.
[[nodiscard]] std::string usage_text();

}  // namespace tgt_pmem::load
