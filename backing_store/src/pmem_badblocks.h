// SPDX-License-Identifier: GPL-2.0-only
// libpmem2's bad blocks of a source: ranges of poisoned persistent memory that the platform
// (ACPI ARS, through ndctl) knows of, on devdax devices and files on fsdax.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <system_error>
#include <vector>

#include "medium.h"

struct pmem2_source;

namespace tgt_pmem::bs {

// The bad blocks of src, as byte ranges of it. A source libpmem2 cannot tell about (a plain
// file on a disk: no pmem namespace behind it; a libpmem2 built without ndctl) has none.
// Errors: libpmem2's message (the caller then knows of no bad blocks either).
[[nodiscard]] std::expected<std::vector<Medium::ByteRange>, std::string> read_bad_blocks(
    const pmem2_source* src);

// pmem2_badblock_clear of [offset, offset + len), a range read_bad_blocks() returned: on
// devdax the platform clears the poison, on fsdax the file's blocks are reallocated. Errors:
// the errno libpmem2 reports, else EIO.
[[nodiscard]] std::error_code clear_bad_block(const pmem2_source* src, std::uint64_t offset,
                                              std::uint64_t len) noexcept;

}  // namespace tgt_pmem::bs
