// SPDX-License-Identifier: GPL-2.0-only
// bsopts mirror_chap=FILE: the CHAP user and secret a mirror primary answers its secondary's
// challenge with, kept out of bsopts (tgtadm --op show prints those) and out of every command
// line. The file holds two lines, the user then the secret (a trailing newline optional), and
// must be readable by its owner only: group or other permission bits are refused, as ssh
// refuses a private key.
#pragma once

#include <expected>
#include <string>

namespace tgt_pmem::bs::mirror {

struct ChapCredentials {
  std::string user;
  std::string secret;
};

// Errors: a sentence naming the file (never the secret): cannot be opened, mode not 0600 or
// stricter, not two non-empty lines, a line longer than 255 bytes.
[[nodiscard]] std::expected<ChapCredentials, std::string> read_chap_file(const std::string& path);

}  // namespace tgt_pmem::bs::mirror
