// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin dump: the running configuration as tgt-admin --dump writes it, completed for
// pmem LUNs. tgt-admin writes a bare `backing-store PATH` per LUN, so re-applying its dump
// brings a pmem LUN back as rdwr with 512-byte blocks under the next free LUN number. Here
// every LUN of a target that has a pmem LUN becomes a <backing-store PATH> block with its
// lun, bs-type and block-size, and for pmem its bsopts, from bs_pmem's status files
// (live_state.h) and tgtadm --op show.
#pragma once

#include <string>

#include "commands.h"

namespace tgt_pmem::admin {

struct DumpArgs {
  int control_port = 0;
};

// One LUN as tgtadm --op show --mode target lists it.
struct ShownLun {
  std::uint64_t lun = 0;
  std::string bs_type;
  std::string path;
  std::uint32_t block_size = 512;
  bool readonly = false;
};
struct ShownTarget {
  int tid = 0;
  std::string name;
  std::vector<ShownLun> luns;  // LUN 0 (the controller) left out
};
// Parses tgtadm --op show --mode target. Throws std::bad_alloc.
[[nodiscard]] std::vector<ShownTarget> parse_tgtadm_show(const std::string& text);

// What a pmem LUN's status file says, as dump needs it.
struct PmemLunConfig {
  std::string target;
  std::uint64_t lun = 0;
  std::string path;
  std::string bsopts;
  std::uint32_t block_size = 512;
  bool write_cache_now = false;  // WCE at the moment (an initiator may have changed it)
};

// Rewrites tgt-admin --dump's output (dump_text) with what tgtadm showed and the pmem LUNs'
// status; errors (a pmem LUN it cannot write completely) go to problems. Pure, for tests.
[[nodiscard]] std::string complete_dump(const std::string& dump_text,
                                        const std::vector<ShownTarget>& shown,
                                        const std::vector<PmemLunConfig>& pmem,
                                        std::vector<std::string>& problems);

// kExitOk: written to stdout; kExitCheckFailed: a pmem LUN could not be written completely
// (nothing written); kExitCannotUse: tgt-admin or tgtadm failed (is tgtd running?).
[[nodiscard]] int run_dump(const DumpArgs& args, Io& io);

}  // namespace tgt_pmem::admin
