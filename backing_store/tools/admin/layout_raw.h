// SPDX-License-Identifier: GPL-2.0-only
// The raw layout: no metadata, LBA n is at byte n * block_size. What bs_pmem serves today.
#pragma once

#include "layout.h"

namespace tgt_pmem::admin {

class RawLayout final : public Layout {
 public:
  std::string_view name() const noexcept override { return "raw"; }
  bool detect(std::span<const std::byte>) const override { return true; }
  std::optional<std::uint32_t> recorded_block_size(std::span<const std::byte>) const override {
    return std::nullopt;  // the block size lives in bsopts / tgtadm --blocksize only
  }
  void check(std::span<const std::byte> medium, std::uint32_t block_size,
             std::vector<Finding>& out) const override;
  std::expected<void, std::string> format(std::span<std::byte> medium, std::uint32_t block_size,
                                          flush::Flusher& flusher,
                                          const bs::ExtentQuery& extents) const override;
};

}  // namespace tgt_pmem::admin
