// SPDX-License-Identifier: GPL-2.0-only
// Decoding of the CDB fields the data path needs (SBC-3 section 5). Pure functions over bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace tgt_pmem::bs::cdb {

inline std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline std::uint64_t be64(const std::uint8_t* p) {
  return std::uint64_t{be32(p)} << 32 | be32(p + 4);
}
inline void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
inline void put_be64(std::uint8_t* p, std::uint64_t v) {
  put_be32(p, static_cast<std::uint32_t>(v >> 32));
  put_be32(p + 4, static_cast<std::uint32_t>(v));
}

// Logical block address and number of blocks of an SBC data-path command.
struct Extent {
  std::uint64_t lba;
  std::uint32_t blocks;
};

// The LBA/length fields of READ/WRITE/VERIFY/WRITE AND VERIFY/ORWRITE/WRITE SAME/PRE-FETCH/
// SYNCHRONIZE CACHE/COMPARE AND WRITE in their 6/10/12/16-byte forms; nullopt for another
// opcode or a CDB too short for its opcode.
std::optional<Extent> decode_extent(std::span<const std::uint8_t> cdb);

// Whether a command of this opcode changes the medium's blocks (WRITE, WRITE AND VERIFY,
// WRITE SAME, UNMAP, COMPARE AND WRITE, ORWRITE, WRITE ATOMIC; any length).
bool changes_blocks(std::uint8_t opcode) noexcept;

}  // namespace tgt_pmem::bs::cdb
