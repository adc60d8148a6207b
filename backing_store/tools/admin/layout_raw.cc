// SPDX-License-Identifier: GPL-2.0-only
#include "layout_raw.h"

namespace tgt_pmem::admin {

void RawLayout::check(std::span<const std::byte> medium, std::uint32_t block_size,
                      std::vector<Finding>& out) const {
  out.push_back({"layout.raw", Finding::Verdict::kOk,
                 "raw layout: no on-media metadata to verify; " +
                     std::to_string(medium.size() / block_size) + " blocks of " +
                     std::to_string(block_size) + " bytes"});
}

std::expected<void, std::string> RawLayout::format(std::span<std::byte>, std::uint32_t,
                                                   flush::Flusher&,
                                                   const bs::ExtentQuery&) const {
  return {};  // nothing to write: every byte is LUN data
}

}  // namespace tgt_pmem::admin
