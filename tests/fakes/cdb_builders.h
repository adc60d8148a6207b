// SPDX-License-Identifier: GPL-2.0-only
// CDBs for engine tests: the 16- and 10-byte forms with an LBA, a block count and the flags
// byte (FUA 0x08, BYTCHK 0x02, UNMAP 0x08 for WRITE SAME ...).
#pragma once

#include <cstdint>
#include <vector>

#include "cdb.h"

namespace tgt_pmem::testing {

inline std::vector<std::uint8_t> cdb16(std::uint8_t op, std::uint64_t lba, std::uint32_t blocks,
                                       std::uint8_t flags = 0) {
  std::vector<std::uint8_t> c(16, 0);
  c[0] = op;
  c[1] = flags;
  bs::cdb::put_be64(&c[2], lba);
  bs::cdb::put_be32(&c[10], blocks);
  return c;
}

inline std::vector<std::uint8_t> cdb10(std::uint8_t op, std::uint32_t lba, std::uint16_t blocks,
                                       std::uint8_t flags = 0) {
  std::vector<std::uint8_t> c(10, 0);
  c[0] = op;
  c[1] = flags;
  bs::cdb::put_be32(&c[2], lba);
  c[7] = static_cast<std::uint8_t>(blocks >> 8);
  c[8] = static_cast<std::uint8_t>(blocks);
  return c;
}

}  // namespace tgt_pmem::testing
