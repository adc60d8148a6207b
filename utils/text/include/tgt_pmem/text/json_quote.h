// SPDX-License-Identifier: GPL-2.0-only
// A JSON string literal for any text: quotes, backslashes and control characters escaped,
// UTF-8 passed through. Shared by the tools' --json output.
#pragma once

#include <string>
#include <string_view>

namespace tgt_pmem::text {

[[nodiscard]] std::string json_quote(std::string_view text);

}  // namespace tgt_pmem::text
