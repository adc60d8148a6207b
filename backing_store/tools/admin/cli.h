// SPDX-License-Identifier: GPL-2.0-only
// The command line of tgtpmem-admin: `tgtpmem-admin COMMAND PATH [OPTIONS]` (check-config:
// `tgtpmem-admin check-config [FILE...]`, boot-deps: `tgtpmem-admin boot-deps [FILE...]`). Parsing is a
// pure function of the arguments so that every refusal can be unit-tested.
#pragma once

#include <span>
#include <string>
#include <variant>

#include "boot_deps.h"
#include "check_config.h"
#include "commands.h"
#include "dump.h"
#include "mirror.h"
#include "status.h"

namespace tgt_pmem::admin {

struct HelpRequested {
  std::string text;  // for stdout; exit status 0
};

struct UsageError {
  std::string message;  // one line, without the program name
  std::string hint;     // "see 'tgtpmem-admin create --help'"
};

using Parsed =
    std::variant<CreateArgs, InfoArgs, CheckArgs, CheckConfigArgs, BootDepsArgs, ForgetArgs,
                 StatusArgs, DumpArgs, MirrorFormatArgs, MirrorStatusArgs, MirrorRoleArgs, HelpRequested,
                 UsageError>;

// args excludes the program name.
[[nodiscard]] Parsed parse_command_line(std::span<const std::string> args);

[[nodiscard]] std::string general_help();

}  // namespace tgt_pmem::admin
