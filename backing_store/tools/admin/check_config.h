// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin check-config: what tgt-admin would do with the pmem LUNs of a configuration
// (/etc/tgt/targets.conf and its includes), checked without touching data, in the spirit of
// `sshd -t`. For every LUN with bs-type pmem: the bsopts as tgt-admin hands them to tgtadm
// (quoting included) and as bs_pmem parses them (the same parser, the same messages tgtd
// logs), the block size bs_pmem would use, and every rule `check` applies to the backing
// store, plus what tgt-admin itself does silently (skips a LUN whose path does not exist) or
// refuses (repeated keys, mixed store forms, unclosed blocks).
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace tgt_pmem::admin {

inline constexpr const char* kDefaultTgtConfig = "/etc/tgt/targets.conf";

struct CheckConfigArgs {
  std::vector<std::string> files;  // default: kDefaultTgtConfig
  bool json = false;
};

// kExitOk: every pmem LUN would be created; kExitCheckFailed: one would be refused or
// skipped, or tgt-admin would refuse the configuration; kExitCannotUse: a named
// configuration file cannot be read.
[[nodiscard]] int run_check_config(const CheckConfigArgs& args, Io& io);

}  // namespace tgt_pmem::admin
