// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/meta_store.h"

#include <sys/random.h>

#include <span>

namespace tgt_pmem::bs::mirror {
namespace {

std::string too_small(std::uint64_t have, std::uint64_t need) {
  return "the mirror metadata store is " + std::to_string(have) + " bytes; this LUN needs " +
         std::to_string(need) + " (8 KiB + one bit per region)";
}

DecodedSlot decode_at(Medium& m, std::uint64_t off) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(m.data() + off);
  return decode_record(std::span(p, kRecordSize));
}

}  // namespace

MetaStore::MetaStore(Medium& medium, const Record& r, int active)
    : medium_(medium),
      record_(r),
      active_(active),
      bitmap_(medium, kBitmapOffset, regions_of(r.lun_size, r.region_shift), r.region_shift) {}

std::expected<std::unique_ptr<MetaStore>, std::string> MetaStore::format(Medium& medium,
                                                                         const Params& p) {
  if (p.region_shift < kMinRegionShift || p.region_shift > kMaxRegionShift)
    return std::unexpected("region size out of range (4 KiB to 1 GiB, a power of two)");
  const std::uint64_t need = store_size_for(p.lun_size, p.region_shift);
  if (medium.size() < need) return std::unexpected(too_small(medium.size(), need));
  flush::Flusher& f = medium.flusher();
  // First no record and no marks, durably; only then the record that makes the store valid.
  // A crash before the record is durable leaves a blank store, which open() refuses.
  auto wiped = f.fill_and_flush(medium.data(), 0, need);
  if (wiped) wiped = f.drain();
  if (!wiped) return std::unexpected("wiping the store failed: " + wiped.error().message());
  Record r;
  r.role = p.role;
  r.seq = 1;
  r.generations = p.generations;
  r.region_shift = p.region_shift;
  r.lun_size = p.lun_size;
  if (getrandom(r.store_uuid.data(), r.store_uuid.size(), 0) !=
      static_cast<ssize_t>(r.store_uuid.size()))
    return std::unexpected("getrandom failed");
  std::unique_ptr<MetaStore> s(new MetaStore(medium, r, 0));
  if (auto w = s->write_slot(0, r); !w)
    return std::unexpected("writing the record failed: " + w.error().message());
  return s;
}

std::expected<std::unique_ptr<MetaStore>, std::string> MetaStore::open(Medium& medium) {
  if (medium.size() < kBitmapOffset) return std::unexpected(too_small(medium.size(), kBitmapOffset));
  const DecodedSlot a = decode_at(medium, 0), b = decode_at(medium, kSlotSize);
  const int n = newest_slot(a, b);
  if (n < 0) {
    if (a.state == SlotState::kBlank && b.state == SlotState::kBlank)
      return std::unexpected("blank: not a mirror metadata store yet (tgtpmem-admin mirror format)");
    for (const DecodedSlot* d : {&a, &b})
      if (d->state == SlotState::kNewerVersion) return std::unexpected(d->detail);
    for (const DecodedSlot* d : {&a, &b})
      if (d->state == SlotState::kForeign) return std::unexpected(d->detail);
    return std::unexpected("no valid record: slot 0 " + a.detail + ", slot 1 " + b.detail);
  }
  const Record& r = (n == 0 ? a : b).record;
  const std::uint64_t need = store_size_for(r.lun_size, r.region_shift);
  if (medium.size() < need) return std::unexpected(too_small(medium.size(), need));
  return std::unique_ptr<MetaStore>(new MetaStore(medium, r, n));
}

Record MetaStore::record() const {
  std::lock_guard lock(mu_);
  return record_;
}

flush::Status MetaStore::update(Role role, const Generations& g) noexcept {
  std::lock_guard lock(mu_);
  Record r = record_;
  r.role = role;
  r.generations = g;
  r.seq = record_.seq + 1;
  const int slot = active_ ^ 1;
  if (auto s = write_slot(slot, r); !s) return s;
  record_ = r;
  active_ = slot;
  return {};
}

flush::Status MetaStore::write_slot(int slot, const Record& r) noexcept {
  const auto bytes = encode_record(r);
  flush::Flusher& f = medium_.flusher();
  std::byte* dst = medium_.data() + static_cast<std::uint64_t>(slot) * kSlotSize;
  if (auto s = f.copy_and_flush(dst, bytes.data(), bytes.size()); !s) return s;
  return f.drain();
}

}  // namespace tgt_pmem::bs::mirror
