// SPDX-License-Identifier: GPL-2.0-only
// tgt releases as tgtd -V prints them, and the compatibility rule between a module and a
// tgtd (see check.h for why). Pure functions, thread-safe.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace tgt_pmem::tgt_abi {

// The release in tgtd -V's output: one line (a final newline and surrounding blanks are
// ignored) that is the release and nothing else: digits, at least one dot-separated group
// more ("1.0.85"), then optionally a suffix of [A-Za-z0-9.+~_-] that a build may append
// (tgt's EXTRAVERSION, "1.0.85-rc1"). nullopt for anything else: an empty line (a tgtd built
// in usr/ without the top Makefile's VERSION prints one), a usage text, a second line.
[[nodiscard]] std::optional<std::string> parse_tgtd_version(std::string_view output);

// A module built for release built_for may run in a tgtd of release running: only if they
// are the same release, suffix included ("1.0.85" is neither "1.0.8" nor "1.0.85-rc1").
[[nodiscard]] bool same_abi(std::string_view built_for, std::string_view running) noexcept;

// What tgtd_version() (probe.h) found: the output, or why there is none.
using ProbeResult = std::expected<std::string, std::string>;

// nullopt if module may register in a tgtd whose -V gave probe; else the log line that
// says why not and what to do (the message tgtpmem_tgt_abi_refusal returns).
[[nodiscard]] std::optional<std::string> refusal(std::string_view module,
                                                 std::string_view built_for,
                                                 const ProbeResult& probe);

}  // namespace tgt_pmem::tgt_abi
