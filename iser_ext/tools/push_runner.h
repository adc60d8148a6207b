// SPDX-License-Identifier: GPL-2.0-only
// Runs parsed steps (push_steps.h) in order on one Client and reports each on one line:
//   "step N <step>: ok <details>"  or  "step N <step>: FAILED <reason>"
// A step with expect=refused is ok when it fails ("ok refused as expected: <reason>") and
// FAILED when it succeeds. The run stops at the first FAILED step: a refused RDMA access
// breaks the connection, so what follows could only fail too.
#pragma once

#include <cstdio>
#include <functional>
#include <span>
#include <string>

#include "push_steps.h"
#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push::tool {

// Each report line goes to `out` (without the newline) as soon as its step ended.
using LineSink = std::function<void(const std::string& line)>;

// true when every step behaved as expected.
[[nodiscard]] bool run_steps(Client& client, std::span<const Step> steps, const LineSink& out);

}  // namespace tgt_pmem::push::tool
