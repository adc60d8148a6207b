// SPDX-License-Identifier: GPL-2.0-only
// Everything a mirror primary LUN runs inside tgtd, owned together by its C handle
// (lun_handle.h): tgtd's loop as the link sees it, the link to the secondary, and the primary
// (write path, resync, decisions). Built by tgtpmem_lun_mirror_start (mirror_c_api.cc).
#pragma once

#include <memory>

#include "mirror/primary.h"
#include "mirror/rdma_replica.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::bs::mirror {

struct PrimaryParts {
  // Destroyed in reverse: the primary (its writer) before the link, the link before the loop.
  std::unique_ptr<rdma_host::CLoop> loop;
  std::unique_ptr<RdmaReplica> replica;
  std::unique_ptr<MirrorPrimary> primary;
};

}  // namespace tgt_pmem::bs::mirror
