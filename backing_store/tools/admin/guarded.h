// SPDX-License-Identifier: GPL-2.0-only
// Reading or writing a mapping can raise SIGBUS: a poisoned pmem line (a bad block), or a
// file truncated behind our back. Tools that sweep a whole store run the sweep under this
// guard so that such a fault becomes an error naming the offset, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::admin {

// Runs fn(arg). If it faults with SIGBUS, returns the faulting address. fn must be plain C
// in spirit (no objects with destructors between the fault and its return): the guard
// leaves it with siglongjmp. Not reentrant across threads' signal handlers of other code.
[[nodiscard]] std::optional<const void*> run_guarded(void (*fn)(void*), void* arg);

// Offset of the first non-zero byte of [begin, end) of `bytes`, nullopt when all are zero.
// Error: "SIGBUS reading offset N".
[[nodiscard]] std::expected<std::optional<std::uint64_t>, std::string> find_nonzero(
    std::span<const std::byte> bytes, std::uint64_t begin, std::uint64_t end);

// Fills [begin, end) of `bytes` with zeros through `flusher` and drains it: durable on
// success. Error: a SIGBUS offset or the flusher's error.
[[nodiscard]] std::expected<void, std::string> zero_range(std::span<std::byte> bytes,
                                                          std::uint64_t begin, std::uint64_t end,
                                                          flush::Flusher& flusher);

}  // namespace tgt_pmem::admin
