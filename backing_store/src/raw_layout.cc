// SPDX-License-Identifier: GPL-2.0-only
#include "raw_layout.h"

#include <cerrno>

namespace tgt_pmem::bs {

flush::Status RawLayout::load(std::uint64_t offset, std::span<std::byte> dst) noexcept {
  if (media_.read(offset, dst))
    return std::unexpected(std::error_code(EIO, std::generic_category()));
  return {};
}

std::optional<std::uint64_t> RawLayout::media_error_at(std::uint64_t offset, std::uint64_t len,
                                                       bool write) const noexcept {
  if (write) return media_.write_error_at(offset, len);
  try {
    return media_.bad_ranges().first_bad(offset, len);
  } catch (...) {
    return std::nullopt;
  }
}

flush::Status RawLayout::store_atomic(std::uint64_t, std::span<const std::byte>) noexcept {
  return std::unexpected(std::make_error_code(std::errc::operation_not_supported));
}

flush::Status RawLayout::commit(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept {
  if (sync == Sync::kLater) {
    dirty_.add(offset, len);
    return {};
  }
  // Persist point: the range was flushed by the caller; earlier cached writes (the write
  // cache may have been on until a moment ago) must not be left behind a durable one.
  if (!dirty_.empty()) {
    if (auto s = this->sync(); !s) return s;
  }
  return medium_.flusher().drain();
}

flush::Status RawLayout::store(std::uint64_t offset, std::span<const std::byte> data,
                         Sync sync) noexcept {
  if (auto s = media_.store(offset, data, sync == Sync::kNow); !s) return s;
  return commit(offset, data.size(), sync);
}

flush::Status RawLayout::store_repeated(std::uint64_t offset, std::uint64_t len,
                                  std::span<const std::byte> pattern, Sync sync) noexcept {
  if (auto s = media_.store_repeated(offset, len, pattern, sync == Sync::kNow); !s) return s;
  return commit(offset, len, sync);
}

flush::Status RawLayout::deallocate(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept {
  auto how = media_.deallocate(offset, len);
  if (!how) return std::unexpected(how.error());
  auto& f = medium_.flusher();
  if (*how == Medium::Dealloc::kPunchedInFile) {
    if (sync == Sync::kLater) {
      dirty_.add_file_change();
      return {};
    }
    if (auto s = f.sync_file(); !s) return s;
    return commit(offset, 0, sync);
  }
  if (sync == Sync::kNow) {
    if (auto s = media_.flush(offset, len); !s) return s;
  }
  return commit(offset, len, sync);
}

flush::Status RawLayout::sync() noexcept {
  auto& f = medium_.flusher();
  DirtyRanges::Taken t = dirty_.take();
  auto fail = [&](flush::Status s) {
    dirty_.restore(std::move(t));  // still dirty: a later sync must try again
    return s;
  };
  if (t.everything) {
    if (auto s = media_.flush(0, medium_.size()); !s) return fail(s);
  } else {
    for (const auto& r : t.ranges)
      if (auto s = media_.flush(r.offset, r.len); !s) return fail(s);
  }
  if (auto s = f.drain(); !s) return fail(s);
  if (t.file_changed) {
    if (auto s = f.sync_file(); !s) return fail(s);
  }
  return {};
}

}  // namespace tgt_pmem::bs
