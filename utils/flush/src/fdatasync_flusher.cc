// SPDX-License-Identifier: GPL-2.0-only
#include "fdatasync_flusher.h"

#include <unistd.h>

#include "errno_status.h"

namespace tgt_pmem::flush {

Status FdatasyncFlusher::sync_file() noexcept {
  if (fd_ < 0) return {};
  return errno_status(::fdatasync(fd_));
}

}  // namespace tgt_pmem::flush
