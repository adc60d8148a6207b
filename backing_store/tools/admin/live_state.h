// SPDX-License-Identifier: GPL-2.0-only
// The pmem LUNs a running tgtd serves, as bs_pmem publishes them in its status files
// (tgt_pmem/status/run_dir.h; bs_pmem(8), STATUS FILES). For tgtpmem-admin status and dump.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tgt_pmem::admin {

struct LiveState {
  std::filesystem::path dir;            // <run dir>/tgtd.<control port>
  std::vector<nlohmann::json> luns;     // documents of a live tgtd, by tid then lun
  std::vector<std::string> stale;       // files left by a tgtd that is gone (ignored)
  std::vector<std::string> unreadable;  // files that are not a status document (ignored)
  nlohmann::json srp;                   // lld_srp's srp.json of a live tgtd, else null
  long pid = 0;                         // the tgtd that wrote luns (0: none)
};

// Reads the status directory of the tgtd on control_port. A missing directory is no error
// (no pmem LUN was ever opened there). Throws std::bad_alloc.
[[nodiscard]] LiveState read_live_state(int control_port);

// Whether pid is a running tgtd.
[[nodiscard]] bool is_live_tgtd(long pid);

}  // namespace tgt_pmem::admin
