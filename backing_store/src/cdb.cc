// SPDX-License-Identifier: GPL-2.0-only
#include "cdb.h"

#include "scsi_codes.h"

namespace tgt_pmem::bs::cdb {

std::optional<Extent> decode_extent(std::span<const std::uint8_t> c) {
  if (c.empty()) return std::nullopt;
  using namespace scsi::op;
  switch (c[0]) {
    case kRead6:
    case kWrite6: {
      if (c.size() < 6) return std::nullopt;
      const std::uint64_t lba = (std::uint64_t{c[1]} & 0x1f) << 16 | std::uint64_t{c[2]} << 8 | c[3];
      // SBC-3 5.13: a TRANSFER LENGTH of 0 in the 6-byte form means 256 blocks.
      return Extent{lba, c[4] == 0 ? 256u : c[4]};
    }
    case kRead10: case kWrite10: case kWriteVerify10: case kVerify10: case kPreFetch10:
    case kSyncCache10: case kWriteSame10:
      if (c.size() < 10) return std::nullopt;
      return Extent{be32(&c[2]), be16(&c[7])};
    case kRead12: case kWrite12: case kWriteVerify12: case kVerify12:
      if (c.size() < 12) return std::nullopt;
      return Extent{be32(&c[2]), be32(&c[6])};
    case kRead16: case kWrite16: case kWriteVerify16: case kVerify16: case kPreFetch16:
    case kSyncCache16: case kWriteSame16: case kOrWrite16:
      if (c.size() < 16) return std::nullopt;
      return Extent{be64(&c[2]), be32(&c[10])};
    case kCompareAndWrite:
      if (c.size() < 16) return std::nullopt;
      return Extent{be64(&c[2]), c[13]};
    default:
      return std::nullopt;
  }
}

bool changes_blocks(std::uint8_t opcode) noexcept {
  namespace op = scsi::op;
  switch (opcode) {
    case op::kWrite6: case op::kWrite10: case op::kWrite12: case op::kWrite16:
    case op::kWriteVerify10: case op::kWriteVerify12: case op::kWriteVerify16:
    case op::kWriteSame10: case op::kWriteSame16: case op::kUnmap:
    case op::kCompareAndWrite: case op::kOrWrite16: case op::kWriteAtomic16:
      return true;
    default:
      return false;
  }
}

}  // namespace tgt_pmem::bs::cdb
