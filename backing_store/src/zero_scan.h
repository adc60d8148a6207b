// SPDX-License-Identifier: GPL-2.0-only
// "Is this region of a store all zero?", answered without reading what cannot hold data, and
// with a bound on what is read. Used where the atomic layout decides whether a store was never
// formatted (AtomicLayout::open in tgtd, tgtpmem-admin check-config): one mechanism, so that
// the tool predicts exactly what tgtd will do.
//
// Holes of a sparse file read as zeros by definition (lseek(2) SEEK_DATA/SEEK_HOLE), so only
// the data extents are read. A file system without that query reports the whole file as data
// (the kernel's generic llseek), and a devdax device has no holes: then everything is data,
// which is correct, only slower; the budget bounds that. Reading through a mapping faults the
// pages it reads into the reader's memory (for tgtd, its RSS): the budget bounds that too.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

#include "medium.h"

namespace tgt_pmem::bs {

// What opening a LUN may read to decide that a store's metadata area is blank: 32 MiB, a few
// milliseconds on pmem and at most a fraction of a second from a disk, so that an open never
// stalls tgtd's event loop (every LUN and session) for long. The metadata area of the atomic
// layout is ~1.6% of the store (8 bytes per block of 512) or ~0.2% (of 4096): a device with no
// holes (devdax) is checked whole up to ~2 GiB (512-byte blocks) or ~16 GiB (4096).
inline constexpr std::uint64_t kOpenScanBudget = std::uint64_t{32} << 20;

// The extent starting at offset (< the store's size), as Medium::extent_at.
using ExtentQuery = std::function<std::expected<Medium::Extent, std::error_code>(std::uint64_t)>;
// The first non-zero byte of [begin, end), nullopt when all are zero. Error: why it could not
// be read (a media error, an I/O error), for the administrator.
using NonzeroFinder = std::function<std::expected<std::optional<std::uint64_t>, std::string>(
    std::uint64_t begin, std::uint64_t end)>;

struct ZeroScan {
  enum class Verdict {
    kZero,        // every byte of the region is zero
    kNonZero,     // `offset` holds the first non-zero byte found
    kOverBudget,  // the data extents hold more than the budget: no answer without reading
                  // more; the first `read` bytes of them were zero
  };
  Verdict verdict = Verdict::kZero;
  std::uint64_t offset = 0;
  std::uint64_t read = 0;  // bytes of data extents read
};

// Scans [0, end) in ascending order: holes are skipped, data extents read through `find`
// until `budget` bytes were read. Error: the extent query's or the finder's, as text.
[[nodiscard]] std::expected<ZeroScan, std::string> scan_zero(std::uint64_t end,
                                                             std::uint64_t budget,
                                                             const ExtentQuery& extents,
                                                             const NonzeroFinder& find);

// The extent of the file `fd` (of `size` bytes) starting at offset < size, from
// lseek(SEEK_DATA/SEEK_HOLE). Errors: lseek's errno.
[[nodiscard]] std::expected<Medium::Extent, std::error_code> file_extent_at(
    int fd, std::uint64_t offset, std::uint64_t size) noexcept;

// A finder over a mapping of the store (`base` is offset 0), reading under the SIGBUS guard
// (media_guard.h): poison or a truncated file becomes an error, not a crash.
[[nodiscard]] NonzeroFinder mapped_nonzero_finder(const std::byte* base);

}  // namespace tgt_pmem::bs
