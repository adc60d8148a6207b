// SPDX-License-Identifier: GPL-2.0-only
// The command line of tgtpmem-push, parsed by a pure function (unit-tested without a target).
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "push_bench.h"
#include "push_steps.h"
#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push::tool {

struct ToolOptions {
  ClientOptions client;                 // address, port, names, LUN, CHAP, timeout
  bool expect_connect_refused = false;  // --expect-connect=refused
  std::string chap_secret_file;         // --chap-secret-file: read (push_secret.h) before use
  std::vector<Step> steps;              // in order
  bool bench = false;
  BenchOptions bench_options;
  bool json = false;  // bench: also one JSON line
};

struct HelpRequested {
  std::string text;
};

using ParseOutcome = std::variant<ToolOptions, HelpRequested>;

// The arguments after argv[0]. Error: one line naming the offending option or step.
[[nodiscard]] std::expected<ParseOutcome, std::string> parse_command_line(
    std::span<const std::string> args);

[[nodiscard]] std::string usage_text();

}  // namespace tgt_pmem::push::tool
