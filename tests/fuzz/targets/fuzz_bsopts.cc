// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the bsopts parser (`tgtadm --bsopts`) on arbitrary bytes. Besides the
// sanitizers' findings, a result that breaks the parser's contract aborts: an error always
// has a message, accepted values are in their documented ranges, and parsing is a function.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto o = tgt_pmem::bs::parse_options(text);
  const auto again = tgt_pmem::bs::parse_options(text);
  if (o.has_value() != again.has_value()) std::abort();
  if (!o) {
    if (o.error().empty() || o.error() != again.error()) std::abort();
    return 0;
  }
  if (!(*o == *again)) std::abort();
  if (o->block_size != 0 && o->block_size != 512 && o->block_size != 4096) std::abort();
  if (o->threads < 1 || o->threads > 128) std::abort();
  return 0;
}
