// SPDX-License-Identifier: GPL-2.0-only
// Builds SCSI commands and a Lun on a memory medium for engine tests.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cdb.h"
#include "cdb_builders.h"
#include "lun.h"
#include "memory_medium.h"
#include "scsi_codes.h"
#include "scsi_exec.h"

namespace tgt_pmem::testing {

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::byte>((i * 131 + seed * 7919 + (i >> 9)) & 0xff);
  return v;
}

// A LUN of `size` bytes over memory, with the given flusher.
struct MemLun {
  MemLun(std::size_t size, flush::Flusher& f, std::uint32_t block_size = 512)
      : mem(size) {
    auto m = std::make_unique<MemoryMedium>(mem, f);
    medium = m.get();
    lun = std::make_unique<bs::Lun>(std::move(m), block_size);
  }
  bs::Result write(std::uint64_t lba, std::span<const std::byte> data, bool wce = false,
                   bool fua = false) {
    auto c = cdb16(bs::scsi::op::kWrite16, lba,
                   static_cast<std::uint32_t>(data.size() / lun->block_size()), fua ? 0x08 : 0);
    if (!cache(wce)) return failed();
    return bs::execute(*lun, {c, data, {}});
  }
  bs::Result read(std::uint64_t lba, std::span<std::byte> out) {
    auto c = cdb16(bs::scsi::op::kRead16, lba,
                   static_cast<std::uint32_t>(out.size() / lun->block_size()));
    return bs::execute(*lun, {c, {}, out});
  }
  bs::Result run(const std::vector<std::uint8_t>& c, std::span<const std::byte> out = {},
                 std::span<std::byte> in = {}, bool wce = false) {
    if (!cache(wce)) return failed();
    return bs::execute(*lun, {c, out, in});
  }
  // Sets the write cache as an initiator's MODE SELECT would (turning it off syncs).
  bool cache(bool wce) {
    if (lun->write_cache() == wce) return true;
    return lun->set_write_cache(wce).has_value();
  }
  static bs::Result failed() {
    bs::Result r;
    r.status = bs::scsi::kStatusCheckCondition;
    return r;
  }

  std::vector<std::byte> mem;
  MemoryMedium* medium;
  std::unique_ptr<bs::Lun> lun;
};

inline void expect_sense(const bs::Result& r, std::uint8_t key, std::uint16_t asc) {
  EXPECT_EQ(r.status, bs::scsi::kStatusCheckCondition);
  EXPECT_EQ(r.sense_key, key);
  EXPECT_EQ(r.asc, asc);
}

}  // namespace tgt_pmem::testing
