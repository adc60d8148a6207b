// SPDX-License-Identifier: GPL-2.0-only
// Which bytes of a mirrored LUN a SCSI command changes, so that the primary sends those bytes
// to the secondary (issue 16). The secondary never sees SCSI: every block-changing command
// reaches it as "these bytes, now these values" - WRITE's data as it came, and for WRITE
// SAME, UNMAP, COMPARE AND WRITE, ORWRITE and WRITE ATOMIC the range as the local half left
// it (MirrorWriter's remote_after_local).
//
// The one rule that keeps the copies equal: a command is left to the engine alone
// (kLocalOnly) only if it changes no block there - it reads, or the engine refuses it
// before changing anything (a CDB it cannot decode, an LBA range outside the LUN, an UNMAP
// descriptor it refuses), or it is of zero length. Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tgt_pmem::bs::mirror {

struct CommandRange {
  enum class Kind {
    kLocalOnly,  // changes no block: executed as on any LUN
    kMirrored,   // changes [offset, offset + length): to both copies
  };
  Kind kind = Kind::kLocalOnly;
  std::uint64_t offset = 0;  // bytes
  std::uint64_t length = 0;
  // The bytes sent are the command's Data-Out buffer's first `length` (a plain WRITE: both
  // halves start at once); otherwise the local copy's range once the local half succeeded.
  bool data_from_command = false;
};

// cdb and out (the Data-Out buffer) of one command to a LUN of lun_blocks blocks of
// block_size bytes.
[[nodiscard]] CommandRange command_range(std::span<const std::uint8_t> cdb,
                                         std::span<const std::byte> out,
                                         std::uint32_t block_size,
                                         std::uint64_t lun_blocks) noexcept;

}  // namespace tgt_pmem::bs::mirror
