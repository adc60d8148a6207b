// SPDX-License-Identifier: GPL-2.0-only
#include "lun.h"

#include "raw_layout.h"

namespace tgt_pmem::bs {

Lun::Lun(std::unique_ptr<Medium> medium, std::uint32_t block_size)
    : medium_(std::move(medium)),
      layout_(std::make_unique<RawLayout>(*medium_)),
      block_size_(block_size) {}

Lun::Lun(std::unique_ptr<Medium> medium, std::unique_ptr<Layout> layout, std::uint32_t block_size)
    : medium_(std::move(medium)), layout_(std::move(layout)), block_size_(block_size) {}

flush::Status Lun::set_write_cache(bool on) noexcept {
  write_cache_.store(on, std::memory_order_seq_cst);
  if (on) return {};
  // Everything the cache held: also when it was off already, since a concurrent caller that
  // turned it off may still be flushing, and this call must not return before that is done.
  return layout_->sync();
}

}  // namespace tgt_pmem::bs
