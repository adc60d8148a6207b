// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin mirror-format and mirror-status: the mirror metadata store of a mirrored LUN
// (bsopts mirror_meta=; issue 16, backing_store/docs/mirror-meta.md).
#pragma once

#include <cstdint>
#include <string>

#include "commands.h"

namespace tgt_pmem::admin {

struct MirrorFormatArgs {
  std::string path;
  std::string role;                  // "primary" or "secondary"
  std::uint64_t lun_size = 0;        // bytes of the LUN the bitmap covers
  std::uint32_t region_shift = 20;   // --region-size, a power of two
  bool force = false;                // overwrite a valid store
  bool json = false;
};

struct MirrorStatusArgs {
  std::string path;
  bool json = false;
};

// Creates PATH (a file, mode 0600, of the size the LUN needs) if it is missing, and formats
// it: every bit clear; a primary gets a fresh generation, a secondary none (its primary
// copies everything to it first). kExitRefused: PATH holds a valid store (see --force) or
// is too small; kExitCannotUse: it cannot be created, opened or mapped, or the format was
// not durable.
[[nodiscard]] int run_mirror_format(const MirrorFormatArgs& args, Io& io);

// Role, generation identifiers, region size, regions marked. kExitCannotUse: PATH cannot be
// opened or holds no valid store (the message says why).
[[nodiscard]] int run_mirror_status(const MirrorStatusArgs& args, Io& io);

}  // namespace tgt_pmem::admin
