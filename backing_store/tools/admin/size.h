// SPDX-License-Identifier: GPL-2.0-only
// Sizes on the command line: the shared helpers of utils/text.
#pragma once

#include "tgt_pmem/text/size.h"

namespace tgt_pmem::admin {
using text::format_size;
using text::parse_size;
}  // namespace tgt_pmem::admin
