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

// mirror-promote / mirror-demote: changes the role a store records, for a failover. Only with
// its LUN not served by any tgtd (refused otherwise: the running bs_pmem holds the record).
struct MirrorRoleArgs {
  std::string path;
  bool promote = false;  // true: secondary -> primary; false: primary -> secondary
  bool discard = false;  // demote: --discard-my-data (this copy went on alone)
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

// Promote: the secondary becomes a primary with a fresh current generation, its old one the
// bitmap generation (generations.h: diverge): its old primary, demoted, then receives what
// changed here by a bitmap resync, and can never resynchronise over this copy. Demote: the
// primary becomes a secondary. A copy that went on alone (its bitmap generation set: it holds
// acknowledged writes the other may lack) is refused unless args.discard - two copies that
// both went on are a split brain, never merged. With marked regions (writes in flight at a
// crash) or discard, its generations are cleared so that the new primary copies everything
// to it (a full resync), else they are kept (a bitmap resync).
// kExitRefused: the store already has that role, a running tgtd serves its LUN, or the
// copy went on alone without --discard-my-data;
// kExitCannotUse: it cannot be opened, or the record was not durable.
[[nodiscard]] int run_mirror_role(const MirrorRoleArgs& args, Io& io);

}  // namespace tgt_pmem::admin
