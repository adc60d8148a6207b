// SPDX-License-Identifier: GPL-2.0-only
// Sizes as administrators type and read them: "256m", "1g", "4096" (binary suffixes k, m, g, t,
// optionally followed by "ib", any case) and "256 MiB", "1.50 GiB", "512 B". Pure functions;
// shared by the command-line tools (tgtpmem-admin, tgtpmem-load).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace tgt_pmem::text {

// Error: a message naming the text (empty, not a number, unknown suffix, too large).
[[nodiscard]] std::expected<std::uint64_t, std::string> parse_size(std::string_view text);

// "256 MiB", "1.50 GiB", "512 B".
[[nodiscard]] std::string format_size(std::uint64_t bytes);

}  // namespace tgt_pmem::text
