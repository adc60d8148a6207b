// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin status: every pmem LUN of a running tgtd, from bs_pmem's status files
// (live_state.h): bsopts, medium, durability, layout, identity, write cache, bad ranges,
// counters, a latched flush error, push-mode sessions.
#pragma once

#include "commands.h"

namespace tgt_pmem::admin {

struct StatusArgs {
  int control_port = 0;  // tgtd's -C, as tgtadm's
  bool json = false;
};

// kExitOk: every LUN is healthy (or none is open); kExitCheckFailed: a LUN has a latched
// flush error or known bad ranges, or is offline.
[[nodiscard]] int run_status(const StatusArgs& args, Io& io);

}  // namespace tgt_pmem::admin
