// SPDX-License-Identifier: GPL-2.0-only
// Runs "EXE -V" and returns what it printed on stdout: how the modules learn which tgt
// release the tgtd that loaded them is (check.h says why this way, and how it is made safe).
#pragma once

#include <chrono>
#include <string>

#include "tgt_pmem/tgt_abi/release.h"

namespace tgt_pmem::tgt_abi {

// Spawns exe with the single argument "-V", stdin and stderr on /dev/null, stdout on a pipe,
// no other descriptor, default signal dispositions and an empty signal mask; reads at most
// 4 KiB until end of file or the deadline; kills it (SIGKILL) at the deadline; always reaps
// it. The output if it exited with status 0, else why not, in words for a log line
// ("timed out after 5000 ms", "exited with status 1", "cannot run: No such file or
// directory"). Not async-signal-safe; safe in a threaded process (posix_spawn, no fork).
[[nodiscard]] ProbeResult tgtd_version(const char* exe, std::chrono::milliseconds timeout);

}  // namespace tgt_pmem::tgt_abi
