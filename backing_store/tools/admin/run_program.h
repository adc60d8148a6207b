// SPDX-License-Identifier: GPL-2.0-only
// Runs a program (found through PATH) and captures what it writes on stdout; its stderr
// goes to ours. For dump, which asks tgt-admin and tgtadm.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace tgt_pmem::admin {

struct ProgramOutput {
  int exit_status = 0;  // 128 + signal if killed
  std::string out;
};

// Errors: why it could not be run ("tgt-admin: No such file or directory").
[[nodiscard]] std::expected<ProgramOutput, std::string> run_program(
    const std::vector<std::string>& argv);

}  // namespace tgt_pmem::admin
