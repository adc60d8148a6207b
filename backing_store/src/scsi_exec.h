// SPDX-License-Identifier: GPL-2.0-only
// Executes the SBC data-path commands tgt hands a backing store, on a Lun, with the sense data
// SBC-3 prescribes. Pure with respect to tgt: unit-testable on a memory medium.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lun.h"

namespace tgt_pmem::bs {

struct Command {
  std::span<const std::uint8_t> cdb;
  std::span<const std::byte> out;  // Data-Out
  std::span<std::byte> in;         // Data-In buffer (its size is the initiator's allocation)
};
// The write cache (WCE) is the Lun's state (Lun::set_write_cache), not the command's.

struct Result {
  std::uint8_t status = 0;  // scsi::kStatus*
  std::uint8_t sense_key = 0;
  std::uint16_t asc = 0;
  bool info_valid = false;
  std::uint64_t info = 0;
  std::uint32_t in_len = 0;  // bytes of Data-In produced

  [[nodiscard]] bool good() const noexcept { return status == 0; }
};

[[nodiscard]] Result execute(Lun& lun, const Command& cmd) noexcept;

// A READ (6/10/12/16) whose Data-In can be sent straight from the medium: where its bytes lie
// and how many (min(blocks, cmd.in) as execute() would copy), once the checks execute() makes
// passed and the layout can lend them (Layout::in_place). nullopt for any other command, or
// one that would fail: execute() it then (it gives the sense data). cmd.in's buffer is not
// touched, only its size counts.
struct InPlace {
  const std::byte* data;
  std::uint32_t len;
};
[[nodiscard]] std::optional<InPlace> read_in_place(Lun& lun, const Command& cmd) noexcept;

// VERIFY with BYTCHK loads its range at most this many bytes at a time: a whole range (up to
// 2^32 blocks) would be one buffer of the range's size for a Data-Out of one block. A multiple
// of every block size (512, 4096), so that a chunk holds whole blocks.
inline constexpr std::uint64_t kVerifyChunkBytes = std::uint64_t{1} << 20;

}  // namespace tgt_pmem::bs
