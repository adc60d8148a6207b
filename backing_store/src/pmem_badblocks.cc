// SPDX-License-Identifier: GPL-2.0-only
#include "pmem_badblocks.h"

#include <libpmem2.h>

#include <cerrno>
#include <memory>

namespace tgt_pmem::bs {

namespace {

struct ContextDeleter {
  void operator()(pmem2_badblock_context* c) const noexcept { pmem2_badblock_context_delete(&c); }
};
using Context = std::unique_ptr<pmem2_badblock_context, ContextDeleter>;

std::string message(int rc) {
  const char* m = pmem2_errormsg();
  return (m && *m) ? std::string(m) : ("libpmem2 error " + std::to_string(rc));
}

// libpmem2 returns -errno for system errors and its own codes (below -100000) otherwise.
std::error_code to_error(int rc) {
  if (rc < 0 && rc > -4096) return {-rc, std::generic_category()};
  return {EIO, std::generic_category()};
}

}  // namespace

std::expected<std::vector<Medium::ByteRange>, std::string> read_bad_blocks(
    const pmem2_source* src) {
  pmem2_badblock_context* raw = nullptr;
  const int rc = pmem2_badblock_context_new(&raw, src);
  if (rc == PMEM2_E_NOSUPP) return std::vector<Medium::ByteRange>{};
  if (rc != 0) return std::unexpected(message(rc));
  Context ctx(raw);
  std::vector<Medium::ByteRange> ranges;
  pmem2_badblock bb{};
  int next = 0;
  while ((next = pmem2_badblock_next(ctx.get(), &bb)) == 0) ranges.push_back({bb.offset, bb.length});
  // The end of the list, or a source with no namespace behind it (a plain file).
  if (next != PMEM2_E_NO_BAD_BLOCK_FOUND) return std::unexpected(message(next));
  return ranges;
}

std::error_code clear_bad_block(const pmem2_source* src, std::uint64_t offset,
                                std::uint64_t len) noexcept {
  pmem2_badblock_context* raw = nullptr;
  if (const int rc = pmem2_badblock_context_new(&raw, src); rc != 0) return to_error(rc);
  Context ctx(raw);
  const pmem2_badblock bb{offset, len};
  if (const int rc = pmem2_badblock_clear(ctx.get(), &bb); rc != 0) return to_error(rc);
  return {};
}

}  // namespace tgt_pmem::bs
