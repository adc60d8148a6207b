// SPDX-License-Identifier: GPL-2.0-only
// Where modules inside tgtd publish their live state, and how (documented in bs_pmem(8),
// "STATUS FILES"):
//
//   <root>/tgtd.<control port>/<name>.json
//
// <root> is $TGTPMEM_RUN_DIR, else /run/tgt-pmem. tgtd allows one daemon per control port
// (its management socket lock), so a directory has one writer; files found there by a
// writer that did not make them are left over from a tgtd that died, and are swept.
// A file is replaced whole (written beside, then renamed): a reader sees the old or the new
// text, never a mix. Readers must check the "pid" a file names is a live tgtd.
#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

namespace tgt_pmem::status {

// $TGTPMEM_RUN_DIR, or /run/tgt-pmem.
[[nodiscard]] std::filesystem::path run_root();
// run_root()/tgtd.<control_port>
[[nodiscard]] std::filesystem::path tgtd_dir(int control_port);

// Makes dir (mode 0755, parents too) and replaces dir/name with text (mode 0644). durable:
// also fsync the file before the rename and the directory after it (for files that must
// survive a power loss; /run is tmpfs and needs none). Errors: the errno of mkdir, open,
// write, fsync or rename.
[[nodiscard]] std::error_code publish(const std::filesystem::path& dir, std::string_view name,
                                      std::string_view text, bool durable = false) noexcept;
// Removes dir/name; a missing file is not an error.
void retract(const std::filesystem::path& dir, std::string_view name) noexcept;
// Removes every dir/<prefix>*.json (files of a tgtd that is gone).
void sweep(const std::filesystem::path& dir, std::string_view prefix) noexcept;

}  // namespace tgt_pmem::status
