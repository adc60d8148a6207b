// SPDX-License-Identifier: GPL-2.0-only
#include "media_sense.h"

#include <algorithm>

#include "cdb.h"
#include "scsi_codes.h"

namespace tgt_pmem::bs {

Result add_media_error_info(Lun& lun, const Command& cmd, Result r) noexcept {
  using namespace scsi;
  if (r.status != kStatusCheckCondition || r.sense_key != key::kMediumError || r.info_valid)
    return r;
  const bool write = r.asc == asc::kWriteError;
  if (!write && r.asc != asc::kUnrecoveredReadError) return r;
  const auto e = cdb::decode_extent(cmd.cdb);
  if (!e || e->lba >= lun.blocks()) return r;
  // NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA" for SYNCHRONIZE CACHE and WRITE SAME,
  // the only commands with an empty extent that touch the medium.
  const std::uint64_t rest = lun.blocks() - e->lba;
  const std::uint64_t blocks = e->blocks == 0 ? rest : std::min<std::uint64_t>(e->blocks, rest);
  const std::uint32_t bs = lun.block_size();
  if (const auto bad = lun.layout().media_error_at(e->lba * bs, blocks * bs, write)) {
    r.info_valid = true;
    r.info = *bad / bs;
  }
  return r;
}

}  // namespace tgt_pmem::bs
