// SPDX-License-Identifier: GPL-2.0-only
// Which bytes of a mirrored LUN a SCSI command changes (command_range.h).
#include "mirror/command_range.h"

#include <algorithm>

#include "cdb.h"
#include "scsi_codes.h"
#include "tgt_pmem/bs_pmem.h"

namespace tgt_pmem::bs::mirror {

namespace {

namespace op = scsi::op;

bool in_lun(std::uint64_t lba, std::uint64_t blocks, std::uint64_t lun_blocks) noexcept {
  return lba <= lun_blocks && blocks <= lun_blocks - lba;
}

CommandRange mirrored(std::uint64_t lba, std::uint64_t blocks, std::uint32_t bs,
                      bool from_command) noexcept {
  CommandRange r;
  r.kind = CommandRange::Kind::kMirrored;
  r.offset = lba * bs;
  r.length = blocks * bs;
  r.data_from_command = from_command;
  return r;
}

// UNMAP's descriptors as the engine reads them (scsi_exec.cc do_unmap): the span from the
// lowest to the highest block any of them deallocates, or local-only when the engine refuses
// the list or it deallocates nothing.
CommandRange unmap_range(std::span<const std::uint8_t> cdb, std::span<const std::byte> out,
                         std::uint32_t bs, std::uint64_t lun_blocks) noexcept {
  if (cdb.size() < 10 || (cdb[1] & 0x01)) return {};
  const std::size_t n = std::min<std::size_t>(cdb::be16(&cdb[7]), out.size());
  if (n < 8) return {};
  const auto* p = reinterpret_cast<const std::uint8_t*>(out.data());
  const std::size_t desc_bytes =
      std::min<std::size_t>(cdb::be16(&p[2]), n - 8) & ~std::size_t{15};
  if (desc_bytes / 16 > TGTPMEM_MAX_UNMAP_DESCRIPTORS) return {};
  std::uint64_t first = UINT64_MAX, end = 0;
  for (std::size_t i = 8; i < 8 + desc_bytes; i += 16) {
    const std::uint64_t lba = cdb::be64(&p[i]);
    const std::uint32_t blocks = cdb::be32(&p[i + 8]);
    if (blocks == 0) continue;
    if (blocks > TGTPMEM_MAX_UNMAP_BLOCKS || !in_lun(lba, blocks, lun_blocks)) return {};
    first = std::min(first, lba);
    end = std::max(end, lba + blocks);
  }
  if (end == 0) return {};
  return mirrored(first, end - first, bs, false);
}

}  // namespace

CommandRange command_range(std::span<const std::uint8_t> cdb, std::span<const std::byte> out,
                           std::uint32_t bs, std::uint64_t lun_blocks) noexcept {
  if (cdb.empty() || !cdb::changes_blocks(cdb[0])) return {};
  const std::uint8_t opcode = cdb[0];
  if (opcode == op::kUnmap) return unmap_range(cdb, out, bs, lun_blocks);
  if (opcode == op::kWriteAtomic16) {
    if (cdb.size() < 16) return {};
    const std::uint64_t lba = cdb::be64(&cdb[2]);
    const std::uint32_t blocks = cdb::be16(&cdb[12]);
    if (blocks == 0 || !in_lun(lba, blocks, lun_blocks)) return {};
    return mirrored(lba, blocks, bs, false);
  }
  const auto e = cdb::decode_extent(cdb);
  if (!e) return {};
  std::uint64_t blocks = e->blocks;
  const bool same = opcode == op::kWriteSame10 || opcode == op::kWriteSame16;
  if (same && blocks == 0) {  // SBC-3 5.43: up to the last LBA
    if (e->lba > lun_blocks) return {};
    blocks = lun_blocks - e->lba;
  }
  if (blocks == 0 || !in_lun(e->lba, blocks, lun_blocks)) return {};
  const bool plain = opcode == op::kWrite6 || opcode == op::kWrite10 ||
                     opcode == op::kWrite12 || opcode == op::kWrite16 ||
                     opcode == op::kWriteVerify10 || opcode == op::kWriteVerify12 ||
                     opcode == op::kWriteVerify16;
  // A plain write whose Data-Out holds every byte: both halves from the command's data.
  // Anything less (a short buffer the engine pads or refuses) goes from the local copy.
  return mirrored(e->lba, blocks, bs, plain && out.size() >= blocks * bs);
}

}  // namespace tgt_pmem::bs::mirror
