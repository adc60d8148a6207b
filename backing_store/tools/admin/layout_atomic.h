// SPDX-License-Identifier: GPL-2.0-only
// The atomic layout (backing_store/docs/atomic-layout.md) as tgtpmem-admin sees it: create
// writes its header (the engine's own encoder), info reads the block size it records, check
// verifies the header, the lane logs, the free lists and every map entry, read-only.
#pragma once

#include "layout.h"

namespace tgt_pmem::admin {

class AtomicLayout final : public Layout {
 public:
  std::string_view name() const noexcept override { return "atomic"; }
  // Our magic at the start, whatever the rest says (check then tells what is wrong).
  bool detect(std::span<const std::byte> medium) const override;
  std::optional<std::uint32_t> recorded_block_size(
      std::span<const std::byte> medium) const override;
  void check(std::span<const std::byte> medium, std::uint32_t block_size,
             std::vector<Finding>& out) const override;
  // Zeroes the metadata area and writes a header with a fresh UUID.
  std::expected<void, std::string> format(std::span<std::byte> medium, std::uint32_t block_size,
                                          flush::Flusher& flusher,
                                          const bs::ExtentQuery& extents) const override;
};

}  // namespace tgt_pmem::admin
