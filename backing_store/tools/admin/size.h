// SPDX-License-Identifier: GPL-2.0-only
// Sizes on the command line: "256m", "1g", "4096" (binary suffixes k, m, g, t).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace tgt_pmem::admin {

// Error: a message naming the text.
[[nodiscard]] std::expected<std::uint64_t, std::string> parse_size(std::string_view text);

// "256 MiB", "1.50 GiB", "512 B".
[[nodiscard]] std::string format_size(std::uint64_t bytes);

}  // namespace tgt_pmem::admin
