// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/text/version.h"

#ifndef TGTPMEM_VERSION
#error "TGTPMEM_VERSION (the project version) must be defined by the build"
#endif

namespace tgt_pmem::text {

bool version_asked(std::span<const std::string> args) noexcept {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--version") return true;
  }
  return false;
}

std::string version_text(std::string_view tool) {
  std::string out(tool);
  out += " (tgt-pmem) " TGTPMEM_VERSION "\n"
         "License GPL-2.0-only: GNU GPL version 2 <https://gnu.org/licenses/gpl-2.0.html>.\n";
  return out;
}

}  // namespace tgt_pmem::text
