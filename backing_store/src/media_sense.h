// SPDX-License-Identifier: GPL-2.0-only
// The INFORMATION field of a MEDIUM ERROR (SPC-4 4.5.2.1, SBC-3 4.18): the first LBA of the
// command's extent that is bad on the medium, as the layout knows it after the failure.
#pragma once

#include "lun.h"
#include "scsi_exec.h"

namespace tgt_pmem::bs {

// r unchanged unless it is MEDIUM ERROR with UNRECOVERED READ ERROR or WRITE ERROR and no
// INFORMATION yet, for a command with an LBA extent; then with the first bad LBA, if known.
[[nodiscard]] Result add_media_error_info(Lun& lun, const Command& cmd, Result r) noexcept;

}  // namespace tgt_pmem::bs
