// SPDX-License-Identifier: GPL-2.0-only
// A medium: a byte-addressable region that the engine loads from and stores to directly
// (a libpmem2 mapping in production, plain memory in tests) together with the flusher that
// makes stores to it durable, and the few operations that need more than loads and stores.
// The flusher is handed out behind a latch (flush/latching.h): once a flush of this medium
// failed, nothing done on it can claim durability again until it is re-opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "tgt_pmem/flush/flusher.h"
#include "tgt_pmem/flush/latching.h"

namespace tgt_pmem::bs {

class Medium {
 public:
  // How a deallocation was done, which decides how it is made durable.
  enum class Dealloc {
    kZeroedInMemory,  // zeros were stored: flush the range, then drain
    kPunchedInFile,   // a hole was punched through the fd: flusher().sync_file()
  };
  // A run of bytes starting at the asked offset, all mapped or all deallocated.
  struct Extent {
    bool mapped;
    std::uint64_t end;  // exclusive, <= size()
  };

  virtual ~Medium() = default;
  [[nodiscard]] virtual std::byte* data() noexcept = 0;
  [[nodiscard]] virtual std::uint64_t size() const noexcept = 0;
  // Every store to the medium, and every flush and drain of it, goes through this.
  [[nodiscard]] flush::Flusher& flusher() noexcept { return *latch_; }
  // The errno of the first failed flush, drain or file sync (latched), or 0.
  [[nodiscard]] int flush_error() const noexcept { return latch_->latched(); }
  // How many flushes, drains or file syncs failed.
  [[nodiscard]] std::uint64_t flush_failures() const noexcept { return latch_->failures(); }
  // True exactly once after a flush failed: the caller logs it.
  [[nodiscard]] bool take_flush_error_report() noexcept { return latch_->take_report(); }
  // "devdax", "file" or "memory".
  [[nodiscard]] virtual std::string_view kind() const noexcept = 0;

  // Makes [offset, offset + len) read as zeros, releasing the space where the medium can.
  // Not yet durable: see Dealloc. Errors: the errno of fallocate(2).
  [[nodiscard]] virtual std::expected<Dealloc, std::error_code> deallocate(
      std::uint64_t offset, std::uint64_t len) noexcept = 0;

  // The extent starting at offset (< size()). Errors: the errno of lseek(2).
  [[nodiscard]] virtual std::expected<Extent, std::error_code> extent_at(
      std::uint64_t offset) const noexcept = 0;

  // A byte range of the medium.
  struct ByteRange {
    std::uint64_t offset;
    std::uint64_t len;
  };
  // The bad ranges the platform knew of when the medium was opened (libpmem2's bad blocks:
  // poisoned pmem); none where it cannot tell (a plain file). Throws std::bad_alloc.
  [[nodiscard]] virtual std::vector<ByteRange> bad_ranges_at_open() const { return {}; }
  // Clears one of those ranges so that it can be written afresh (pmem2_badblock_clear): its
  // content is lost. Errors: the errno of the clearing (EIO, ENOTSUP, ...).
  [[nodiscard]] virtual std::error_code clear_bad_range(std::uint64_t /*offset*/,
                                                        std::uint64_t /*len*/) noexcept {
    return {};
  }

 protected:
  // The derived medium's own flusher (not owned; it must outlive every use of flusher()).
  // Called once, before the medium is used.
  void set_flusher(flush::Flusher& f) { latch_.emplace(f); }

 private:
  std::optional<flush::LatchingFlusher> latch_;
};

}  // namespace tgt_pmem::bs
