// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push --chap-secret-file: the CHAP secret read from a file, so that it does not show
// in the process's command line (ps, /proc/PID/cmdline) as --chap-secret's does.
#pragma once

#include <expected>
#include <string>

namespace tgt_pmem::push::tool {

// The secret is the file's whole content less one trailing newline ("\n" or "\r\n"). Errors
// (one line naming the file, without the secret): the file cannot be opened or read, is not a
// regular file (a symbolic link to one is followed), may be read or written by its group or
// others (its mode and "chmod 600" in the error, as ssh refuses such a private key), is
// empty, holds more than one line, or is longer than kMaxSecretBytes.
inline constexpr std::size_t kMaxSecretBytes = 255;
[[nodiscard]] std::expected<std::string, std::string> read_secret_file(const std::string& path);

}  // namespace tgt_pmem::push::tool
