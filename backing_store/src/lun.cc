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

}  // namespace tgt_pmem::bs
