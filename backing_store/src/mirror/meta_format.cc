// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/meta_format.h"

#include <nettle/sha2.h>

#include <algorithm>
#include <cstring>

#include "tgt_pmem/bytes/big_endian.h"

namespace tgt_pmem::bs::mirror {
namespace {

// Field offsets in a record.
constexpr std::size_t kOffMagic = 0, kOffVersion = 8, kOffRole = 12, kOffSeq = 16,
                      kOffCurrent = 24, kOffBitmap = 32, kOffHistory = 40, kOffShift = 56,
                      kOffLunSize = 64, kOffUuid = 72, kOffChecksum = kRecordSize - 8;

std::uint64_t checksum(std::span<const std::uint8_t> record) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, kOffChecksum, record.data());
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  return bytes::load_be64(std::as_bytes(std::span(digest)), 0);
}

}  // namespace

const char* to_string(Role r) noexcept {
  switch (r) {
    case Role::kPrimary: return "primary";
    case Role::kSecondary: return "secondary";
  }
  return "?";
}

std::uint64_t regions_of(std::uint64_t lun_size, std::uint32_t region_shift) noexcept {
  const std::uint64_t region = std::uint64_t{1} << region_shift;
  return lun_size / region + (lun_size % region != 0 ? 1 : 0);
}

std::uint64_t bitmap_bytes(std::uint64_t regions) noexcept { return (regions + 63) / 64 * 8; }

std::uint64_t store_size_for(std::uint64_t lun_size, std::uint32_t region_shift) noexcept {
  return kBitmapOffset + bitmap_bytes(regions_of(lun_size, region_shift));
}

std::array<std::uint8_t, kRecordSize> encode_record(const Record& r) {
  std::array<std::uint8_t, kRecordSize> out{};
  auto b = std::as_writable_bytes(std::span(out));
  std::memcpy(out.data() + kOffMagic, kMagic, sizeof kMagic);
  bytes::store_be32(b, kOffVersion, kVersion);
  bytes::store_be32(b, kOffRole, static_cast<std::uint32_t>(r.role));
  bytes::store_be64(b, kOffSeq, r.seq);
  bytes::store_be64(b, kOffCurrent, r.generations.current);
  bytes::store_be64(b, kOffBitmap, r.generations.bitmap);
  bytes::store_be64(b, kOffHistory, r.generations.history[0]);
  bytes::store_be64(b, kOffHistory + 8, r.generations.history[1]);
  bytes::store_be32(b, kOffShift, r.region_shift);
  bytes::store_be64(b, kOffLunSize, r.lun_size);
  std::memcpy(out.data() + kOffUuid, r.store_uuid.data(), r.store_uuid.size());
  bytes::store_be64(b, kOffChecksum, checksum(out));
  return out;
}

DecodedSlot decode_record(std::span<const std::uint8_t> in) {
  DecodedSlot d{SlotState::kCorrupt, {}, {}};
  if (in.size() < kRecordSize) {
    d.detail = "short record";
    return d;
  }
  in = in.first(kRecordSize);
  if (std::all_of(in.begin(), in.end(), [](std::uint8_t c) { return c == 0; })) {
    d.state = SlotState::kBlank;
    d.detail = "blank";
    return d;
  }
  if (std::memcmp(in.data(), kMagic, sizeof kMagic) != 0) {
    d.state = SlotState::kForeign;
    d.detail = "not a tgt-pmem mirror record";
    return d;
  }
  const auto b = std::as_bytes(in);
  const std::uint32_t version = bytes::load_be32(b, kOffVersion);
  if (version > kVersion) {
    d.state = SlotState::kNewerVersion;
    d.detail = "format version " + std::to_string(version) + ", this build reads " +
               std::to_string(kVersion);
    return d;
  }
  if (bytes::load_be64(b, kOffChecksum) != checksum(in)) {
    d.detail = "checksum mismatch (a torn or damaged record)";
    return d;
  }
  Record& r = d.record;
  const std::uint32_t role = bytes::load_be32(b, kOffRole);
  r.seq = bytes::load_be64(b, kOffSeq);
  r.generations.current = bytes::load_be64(b, kOffCurrent);
  r.generations.bitmap = bytes::load_be64(b, kOffBitmap);
  r.generations.history = {bytes::load_be64(b, kOffHistory),
                           bytes::load_be64(b, kOffHistory + 8)};
  r.region_shift = bytes::load_be32(b, kOffShift);
  r.lun_size = bytes::load_be64(b, kOffLunSize);
  std::memcpy(r.store_uuid.data(), in.data() + kOffUuid, r.store_uuid.size());
  if (version != kVersion || (role != 1 && role != 2) || r.region_shift < kMinRegionShift ||
      r.region_shift > kMaxRegionShift) {
    d.detail = "a field out of range in a record whose checksum holds";
    return d;
  }
  r.role = static_cast<Role>(role);
  d.state = SlotState::kValid;
  return d;
}

int newest_slot(const DecodedSlot& a, const DecodedSlot& b) noexcept {
  const bool va = a.state == SlotState::kValid, vb = b.state == SlotState::kValid;
  if (va && vb) return a.record.seq >= b.record.seq ? 0 : 1;
  if (va) return 0;
  if (vb) return 1;
  return -1;
}

}  // namespace tgt_pmem::bs::mirror
