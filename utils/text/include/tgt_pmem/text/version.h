// SPDX-License-Identifier: GPL-2.0-only
// --version, alike in every tool of tgt-pmem.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace tgt_pmem::text {

// "--version" is among the arguments (before a lone "--", after which nothing is an option).
[[nodiscard]] bool version_asked(std::span<const std::string> args) noexcept;

// "<tool> (tgt-pmem) <version>\n" and the licence line, as GNU tools print it.
[[nodiscard]] std::string version_text(std::string_view tool);

}  // namespace tgt_pmem::text
