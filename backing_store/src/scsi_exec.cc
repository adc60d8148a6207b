// SPDX-License-Identifier: GPL-2.0-only
#include "scsi_exec.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "cdb.h"
#include "media_sense.h"
#include "scsi_codes.h"
#include "tgt_pmem/bs_pmem.h"

namespace tgt_pmem::bs {

namespace {

using namespace scsi;

Result check(std::uint8_t k, std::uint16_t a) {
  Result r;
  r.status = kStatusCheckCondition;
  r.sense_key = k;
  r.asc = a;
  return r;
}

Result check_with_info(std::uint8_t k, std::uint16_t a, std::uint64_t info) {
  Result r = check(k, a);
  r.info_valid = true;
  r.info = info;
  return r;
}

// A failed flush means the data may not be durable: the write must not be acknowledged.
Result write_failed() { return check(key::kMediumError, asc::kWriteError); }
Result read_failed() { return check(key::kMediumError, asc::kUnrecoveredReadError); }

// The medium's current content of [offset, offset + len), through the layout.
std::expected<std::vector<std::byte>, Result> load(Lun& lun, std::uint64_t offset,
                                                   std::uint64_t len) {
  std::vector<std::byte> buf(len);
  if (!lun.load(offset, buf)) return std::unexpected(read_failed());
  return buf;
}

bool in_range(const Lun& lun, std::uint64_t lba, std::uint64_t blocks) {
  if (blocks == 0) return lba < lun.blocks();
  return lba < lun.blocks() && blocks <= lun.blocks() - lba;
}

// FUA (SBC-3 5.x: bit 3 of byte 1) forces durability even with the write cache on.
Sync sync_for(const Lun& lun, bool fua) { return lun.sync_mode(fua); }

// The mode for each of several stores of one command that syncs once at its end.
Sync batch_of(Sync mode) { return mode == Sync::kNow ? Sync::kBatch : Sync::kLater; }

bool fua_bit(const Command& c) { return c.cdb[0] != op::kWrite6 && (c.cdb[1] & 0x08); }

// Offset of the first differing byte, or -1.
std::int64_t first_difference(const std::byte* a, const std::byte* b, std::size_t n) {
  if (n == 0 || std::memcmp(a, b, n) == 0) return -1;  // an empty buffer may be null
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<std::int64_t>(i);
  return -1;
}

Result do_read(Lun& lun, const Command& c, const cdb::Extent& e) {
  const std::uint64_t bytes =
      std::min<std::uint64_t>(std::uint64_t{e.blocks} * lun.block_size(), c.in.size());
  if (!lun.load(e.lba * lun.block_size(), c.in.first(bytes))) return read_failed();
  Result r;
  r.in_len = static_cast<std::uint32_t>(bytes);
  return r;
}

Result do_write(Lun& lun, const Command& c, const cdb::Extent& e, Sync sync) {
  const std::uint64_t bytes =
      std::min<std::uint64_t>(std::uint64_t{e.blocks} * lun.block_size(), c.out.size());
  RmwLock lock(lun, /*exclusive=*/false);
  if (!lun.store(e.lba * lun.block_size(), c.out.first(bytes), sync)) return write_failed();
  return {};
}

// VERIFY with BYTCHK (SBC-3 5.33): compares the medium with the Data-Out, kVerifyChunkBytes
// of the range loaded at a time, so that what a command holds does not grow with its range
// (up to 2^32 blocks, for a Data-Out of one block with BYTCHK=11b). Chunks are met in LBA
// order and the first miscompare or media error ends the command: the INFORMATION of a
// MISCOMPARE is the same as for one whole-range compare, but a media error further on than a
// miscompare is no longer reported in its place.
Result do_verify(Lun& lun, const Command& c, const cdb::Extent& e) {
  static_assert(kVerifyChunkBytes % 4096 == 0, "a chunk holds whole blocks of every size");
  const unsigned bytchk = (c.cdb[1] >> 1) & 0x3;
  if (bytchk == 0) return {};  // medium verification only: pmem has nothing more to check
  if (bytchk == 2) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  const std::uint32_t bs = lun.block_size();
  // BYTCHK=11b: every block is compared with the single block sent.
  if (bytchk == 3 && c.out.size() < bs)
    return check(key::kIllegalRequest, asc::kParameterListLengthError);
  const std::uint64_t start = e.lba * bs;
  const std::uint64_t len = std::uint64_t{e.blocks} * bs;
  // BYTCHK=01b: as much of the range as the Data-Out holds is compared; all of it is read.
  const std::uint64_t compared = bytchk == 1 ? std::min<std::uint64_t>(len, c.out.size()) : len;
  std::vector<std::byte> chunk(std::min(len, kVerifyChunkBytes));
  for (std::uint64_t pos = 0; pos < len; pos += chunk.size()) {
    const auto medium = std::span(chunk).first(std::min<std::uint64_t>(chunk.size(), len - pos));
    if (!lun.load(start + pos, medium)) return read_failed();
    if (pos >= compared) continue;
    const std::uint64_t n = std::min<std::uint64_t>(medium.size(), compared - pos);
    if (bytchk == 1) {
      if (auto d = first_difference(c.out.data() + pos, medium.data(), n); d >= 0)
        return check_with_info(key::kMiscompare, asc::kMiscompareDuringVerify,
                               pos + static_cast<std::uint64_t>(d));
      continue;
    }
    for (std::uint64_t b = 0; b < n; b += bs)
      if (auto d = first_difference(c.out.data(), medium.data() + b, bs); d >= 0)
        return check_with_info(key::kMiscompare, asc::kMiscompareDuringVerify,
                               pos + b + static_cast<std::uint64_t>(d));
  }
  return {};
}

// As the Block Limits VPD page says (MAXIMUM COMPARE AND WRITE LENGTH).
constexpr std::uint32_t kMaxCompareAndWriteBlocks = TGTPMEM_MAX_COMPARE_AND_WRITE_BLOCKS;

Result do_compare_and_write(Lun& lun, const Command& c, const cdb::Extent& e) {
  if (e.blocks > kMaxCompareAndWriteBlocks)
    return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  // The data-out buffer holds exactly the verify data and the write data the CDB describes.
  // With NUMBER OF LOGICAL BLOCKS 0 that is nothing (SBC-3 5.2: then no error), so data sent
  // with it is refused: 256 blocks asked in the one-byte field arrive as 0 with 512 blocks of
  // data (libiscsi's CompareAndWrite.Simple sends exactly that and expects the refusal).
  const std::uint64_t half = std::uint64_t{e.blocks} * lun.block_size();
  if (c.out.size() != 2 * half) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  if (e.blocks == 0) return {};
  // SBC-3 5.2: the compare and the write are one atomic operation for other commands.
  RmwLock lock(lun, /*exclusive=*/true);
  const std::uint64_t off = e.lba * lun.block_size();
  auto current = load(lun, off, half);
  if (!current) return current.error();
  if (auto d = first_difference(c.out.data(), current->data(), half); d >= 0)
    return check_with_info(key::kMiscompare, asc::kMiscompareDuringVerify,
                           static_cast<std::uint64_t>(d));
  if (!lun.store(off, c.out.subspan(half, half), sync_for(lun, fua_bit(c)))) return write_failed();
  return {};
}

Result do_orwrite(Lun& lun, const Command& c, const cdb::Extent& e) {
  const std::uint64_t bytes =
      std::min<std::uint64_t>(std::uint64_t{e.blocks} * lun.block_size(), c.out.size());
  const std::uint64_t off = e.lba * lun.block_size();
  // The read, the OR and the write are atomic for other commands (SBC-3 5.9).
  RmwLock lock(lun, /*exclusive=*/true);
  auto merged = load(lun, off, bytes);
  if (!merged) return merged.error();
  for (std::uint64_t i = 0; i < bytes; ++i) (*merged)[i] |= c.out[i];
  if (!lun.store(off, *merged, sync_for(lun, fua_bit(c)))) return write_failed();
  return {};
}

Result do_write_same(Lun& lun, const Command& c, cdb::Extent e) {
  const std::uint8_t flags = c.cdb[1];
  const bool unmap = flags & 0x08;
  const bool ndob = c.cdb[0] == op::kWriteSame16 && (flags & 0x01);
  const bool lbdata = flags & 0x02;
  if (flags & 0x10) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);  // ANCHOR
  if ((flags & 0x04) || (lbdata && ndob))  // PBDATA (obsolete): not supported
    return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  const std::uint32_t bs = lun.block_size();
  // SBC-3 5.43: NUMBER OF LOGICAL BLOCKS 0 means up to the last LBA.
  if (e.blocks == 0) {
    const std::uint64_t rest = lun.blocks() - e.lba;
    if (rest > UINT32_MAX) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
    e.blocks = static_cast<std::uint32_t>(rest);
  }
  std::vector<std::byte> zero_block;
  std::span<const std::byte> block;
  if (ndob) {
    zero_block.assign(bs, std::byte{0});
    block = zero_block;
  } else {
    if (c.out.size() < bs) return check(key::kIllegalRequest, asc::kParameterListLengthError);
    block = c.out.first(bs);
  }
  const std::uint64_t off = e.lba * bs;
  const std::uint64_t len = std::uint64_t{e.blocks} * bs;
  const Sync sync = sync_for(lun, false);
  RmwLock lock(lun, /*exclusive=*/false);
  // UNMAP=1 asks for deallocation whatever the data (LBPRZ=1: the blocks then read as zeros),
  // as initiators and libiscsi's WriteSame*.UnmapUntilEnd expect.
  if (unmap) {
    if (!lun.deallocate(off, len, sync)) return write_failed();
    return {};
  }
  if (!lbdata) {
    if (!lun.store_repeated(off, len, block, sync)) return write_failed();
    return {};
  }
  // LBDATA: the first four bytes of every block carry its LBA.
  std::vector<std::byte> b(block.begin(), block.end());
  for (std::uint64_t i = 0; i < e.blocks; ++i) {
    cdb::put_be32(reinterpret_cast<std::uint8_t*>(b.data()),
                  static_cast<std::uint32_t>(e.lba + i));
    if (!lun.store(off + i * bs, b, batch_of(sync))) return write_failed();
  }
  if (sync == Sync::kNow && !lun.sync()) return write_failed();
  return {};
}

// WRITE ATOMIC(16) (SBC-4 5.48): all-or-nothing, also across a power loss.
Result do_write_atomic(Lun& lun, const Command& c) {
  if (c.cdb.size() < 16) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  const std::uint32_t max = lun.layout().max_atomic_blocks();
  if (max == 0) return check(key::kIllegalRequest, asc::kInvalidOpcode);
  const std::uint64_t lba = cdb::be64(&c.cdb[2]);
  const std::uint16_t boundary = cdb::be16(&c.cdb[10]);
  const std::uint32_t blocks = cdb::be16(&c.cdb[12]);
  if (!in_range(lun, lba, blocks)) return check(key::kIllegalRequest, asc::kLbaOutOfRange);
  if (c.cdb[1] & 0xe0) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);  // PI
  // The Block Limits page offers no atomic boundaries: ATOMIC BOUNDARY must be 0.
  if (boundary != 0 || blocks > max) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  if (blocks == 0) return {};
  const std::uint64_t bytes = std::uint64_t{blocks} * lun.block_size();
  if (c.out.size() < bytes) return check(key::kIllegalRequest, asc::kParameterListLengthError);
  RmwLock lock(lun, /*exclusive=*/false);
  if (!lun.store_atomic(lba * lun.block_size(), c.out.first(bytes))) return write_failed();
  return {};
}

Result do_sync_cache(Lun& lun) {
  if (!lun.sync()) return write_failed();
  return {};
}

Result do_unmap(Lun& lun, const Command& c) {
  if (c.cdb.size() < 10) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  if (c.cdb[1] & 0x01) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);  // ANCHOR
  const std::size_t n = std::min<std::size_t>(cdb::be16(&c.cdb[7]), c.out.size());
  if (n == 0) return {};  // SBC-3 5.28: a zero-length parameter list is not an error
  if (n < 8) return check(key::kIllegalRequest, asc::kParameterListLengthError);
  const auto* p = reinterpret_cast<const std::uint8_t*>(c.out.data());
  const std::size_t desc_bytes = std::min<std::size_t>(cdb::be16(&p[2]), n - 8) & ~std::size_t{15};
  // SBC-3 5.28: more descriptors, or more blocks in one, than the Block Limits VPD page
  // allows is INVALID FIELD IN PARAMETER LIST.
  if (desc_bytes / 16 > TGTPMEM_MAX_UNMAP_DESCRIPTORS)
    return check(key::kIllegalRequest, asc::kInvalidFieldInParameterList);
  struct Desc {
    std::uint64_t lba;
    std::uint32_t blocks;
  };
  std::vector<Desc> descs;
  // Check every descriptor before changing anything: an error leaves the medium untouched.
  for (std::size_t i = 8; i < 8 + desc_bytes; i += 16) {
    Desc d{cdb::be64(&p[i]), cdb::be32(&p[i + 8])};
    if (d.blocks == 0) continue;
    if (d.blocks > TGTPMEM_MAX_UNMAP_BLOCKS)
      return check(key::kIllegalRequest, asc::kInvalidFieldInParameterList);
    if (!in_range(lun, d.lba, d.blocks)) return check(key::kIllegalRequest, asc::kLbaOutOfRange);
    descs.push_back(d);
  }
  RmwLock lock(lun, /*exclusive=*/false);
  const std::uint32_t bs = lun.block_size();
  const Sync sync = sync_for(lun, false);
  for (const auto& d : descs)
    if (!lun.deallocate(d.lba * bs, std::uint64_t{d.blocks} * bs, batch_of(sync)))
      return write_failed();
  if (sync == Sync::kNow && !lun.sync()) return write_failed();
  return {};
}

// GET LBA STATUS (SBC-3 5.6): descriptors of mapped/deallocated runs from the given LBA.
Result do_get_lba_status(Lun& lun, const Command& c) {
  if (c.cdb.size() < 16) return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  const std::uint64_t lba = cdb::be64(&c.cdb[2]);
  const std::uint32_t alloc = cdb::be32(&c.cdb[10]);
  if (lba >= lun.blocks()) return check(key::kIllegalRequest, asc::kLbaOutOfRange);
  const std::size_t room = std::min<std::size_t>(alloc, c.in.size());
  constexpr std::size_t kMaxDescriptors = 256;
  std::vector<std::uint8_t> buf(8);
  const std::uint32_t bs = lun.block_size();
  std::uint64_t off = lba * bs;
  while (off < lun.size() && buf.size() < 8 + 16 * kMaxDescriptors &&
         buf.size() + 16 <= std::max<std::size_t>(room, 24)) {
    auto ext = lun.layout().extent_at(off);
    if (!ext) return check(key::kHardwareError, asc::kInternalTargetFailure);
    std::uint64_t end = std::min(ext->end, lun.size());
    if (end <= off) end = off + bs;
    const std::uint64_t first = off / bs;
    std::uint64_t count = (end + bs - 1) / bs - first;
    count = std::min<std::uint64_t>(count, UINT32_MAX);
    std::uint8_t d[16] = {};
    cdb::put_be64(d, first);
    cdb::put_be32(d + 8, static_cast<std::uint32_t>(count));
    d[12] = ext->mapped ? 0 : 1;  // 0: mapped, 1: deallocated
    buf.insert(buf.end(), d, d + 16);
    off = (first + count) * bs;
  }
  cdb::put_be32(buf.data(), static_cast<std::uint32_t>(buf.size() - 4));
  Result r;
  r.in_len = static_cast<std::uint32_t>(std::min(room, buf.size()));
  if (r.in_len) std::memcpy(c.in.data(), buf.data(), r.in_len);  // no buffer at all for 0
  return r;
}

Result dispatch(Lun& lun, const Command& c) {
  if (c.cdb.empty()) return check(key::kIllegalRequest, asc::kInvalidOpcode);
  const std::uint8_t opcode = c.cdb[0];
  if (opcode == op::kUnmap) return do_unmap(lun, c);
  if (opcode == op::kWriteAtomic16) return do_write_atomic(lun, c);
  if (opcode == op::kServiceActionIn16) {
    if (c.cdb.size() >= 2 && (c.cdb[1] & 0x1f) == op::kSaGetLbaStatus)
      return do_get_lba_status(lun, c);
    return check(key::kIllegalRequest, asc::kInvalidFieldInCdb);
  }
  const auto e = cdb::decode_extent(c.cdb);
  if (!e) return check(key::kIllegalRequest, asc::kInvalidOpcode);
  const bool to_end = opcode == op::kSyncCache10 || opcode == op::kSyncCache16 ||
                      opcode == op::kWriteSame10 || opcode == op::kWriteSame16;
  if (!in_range(lun, e->lba, (to_end && e->blocks == 0) ? 0 : e->blocks))
    return check(key::kIllegalRequest, asc::kLbaOutOfRange);

  switch (opcode) {
    case op::kRead6: case op::kRead10: case op::kRead12: case op::kRead16:
      return do_read(lun, c, *e);
    case op::kWrite6: case op::kWrite10: case op::kWrite12: case op::kWrite16:
      return do_write(lun, c, *e, sync_for(lun, fua_bit(c)));
    case op::kWriteVerify10: case op::kWriteVerify12: case op::kWriteVerify16: {
      // Verification means "on the medium": always durable before the compare.
      Result r = do_write(lun, c, *e, Sync::kNow);
      if (!r.good() || !(c.cdb[1] & 0x02)) return r;
      const std::uint64_t bytes =
          std::min<std::uint64_t>(std::uint64_t{e->blocks} * lun.block_size(), c.out.size());
      auto written = load(lun, e->lba * lun.block_size(), bytes);
      if (!written) return written.error();
      if (auto d = first_difference(c.out.data(), written->data(), bytes); d >= 0)
        return check_with_info(key::kMiscompare, asc::kMiscompareDuringVerify,
                               static_cast<std::uint64_t>(d));
      return r;
    }
    case op::kVerify10: case op::kVerify12: case op::kVerify16:
      return do_verify(lun, c, *e);
    case op::kCompareAndWrite:
      return do_compare_and_write(lun, c, *e);
    case op::kOrWrite16:
      return do_orwrite(lun, c, *e);
    case op::kWriteSame10: case op::kWriteSame16:
      return do_write_same(lun, c, *e);
    case op::kPreFetch10: case op::kPreFetch16:
      return {};  // the medium is memory: nothing to stage
    case op::kSyncCache10: case op::kSyncCache16:
      return do_sync_cache(lun);
    default:
      return check(key::kIllegalRequest, asc::kInvalidOpcode);
  }
}

}  // namespace

Result execute(Lun& lun, const Command& cmd) noexcept {
  try {
    return add_media_error_info(lun, cmd, dispatch(lun, cmd));
  } catch (...) {
    // std::bad_alloc from a temporary buffer, or a bug: fail this command, keep tgtd alive.
    return check(key::kHardwareError, asc::kInternalTargetFailure);
  }
}

std::optional<InPlace> read_in_place(Lun& lun, const Command& cmd) noexcept {
  if (cmd.cdb.empty()) return std::nullopt;
  switch (cmd.cdb[0]) {
    case op::kRead6: case op::kRead10: case op::kRead12: case op::kRead16: break;
    default: return std::nullopt;
  }
  const auto e = cdb::decode_extent(cmd.cdb);
  if (!e || e->blocks == 0 || !in_range(lun, e->lba, e->blocks)) return std::nullopt;
  const std::uint64_t bytes =
      std::min<std::uint64_t>(std::uint64_t{e->blocks} * lun.block_size(), cmd.in.size());
  if (bytes == 0) return std::nullopt;
  const std::byte* at = lun.layout().in_place(e->lba * lun.block_size(), bytes);
  if (!at) return std::nullopt;
  return InPlace{at, static_cast<std::uint32_t>(bytes)};
}

}  // namespace tgt_pmem::bs
