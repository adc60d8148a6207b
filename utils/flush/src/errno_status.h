// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include <cerrno>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

// Status of a libc call that returns -1 and sets errno.
inline Status errno_status(int rc) noexcept {
  if (rc == 0) return {};
  return std::unexpected(std::error_code(errno, std::generic_category()));
}

}  // namespace tgt_pmem::flush
