// SPDX-License-Identifier: GPL-2.0-only
// Zeroes memory that held a secret (a CHAP secret, a response computed from one) before it is
// given back. A memset of memory that is never read again is a dead store the compiler may
// drop; explicit_bzero(3) (glibc 2.25) is not dropped. Thread-safe for distinct memory.
#pragma once

#include <string.h>

#include <cstddef>
#include <string>

namespace tgt_pmem::bytes {

inline void wipe(void* p, std::size_t n) noexcept {
  if (n != 0) ::explicit_bzero(p, n);
}

// The string's characters: a string that held a secret must not have been shortened or
// moved from before (its old bytes would be past size(), or in the moved-to string).
inline void wipe(std::string& s) noexcept { wipe(s.data(), s.size()); }

}  // namespace tgt_pmem::bytes
