// SPDX-License-Identifier: GPL-2.0-only
#include "raw_layout.h"

#include <algorithm>
#include <cstring>

namespace tgt_pmem::bs {

flush::Status RawLayout::load(std::uint64_t offset, std::span<std::byte> dst) noexcept {
  std::memcpy(dst.data(), medium_.data() + offset, dst.size());
  return {};
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
  auto& f = medium_.flusher();
  std::byte* dst = medium_.data() + offset;
  if (sync == Sync::kLater) {
    std::memcpy(dst, data.data(), data.size());
  } else if (auto s = f.copy_and_flush(dst, data.data(), data.size()); !s) {
    return s;
  }
  return commit(offset, data.size(), sync);
}

flush::Status RawLayout::store_repeated(std::uint64_t offset, std::uint64_t len,
                                  std::span<const std::byte> pattern, Sync sync) noexcept {
  auto& f = medium_.flusher();
  std::byte* dst = medium_.data() + offset;
  const bool uniform = std::all_of(pattern.begin(), pattern.end(),
                                   [&](std::byte b) { return b == pattern[0]; });
  if (uniform) {
    if (sync == Sync::kLater) {
      std::memset(dst, std::to_integer<int>(pattern[0]), len);
    } else if (auto s = f.fill_and_flush(dst, std::to_integer<int>(pattern[0]), len); !s) {
      return s;
    }
  } else {
    for (std::uint64_t done = 0; done < len; done += pattern.size()) {
      const auto n = std::min<std::uint64_t>(pattern.size(), len - done);
      if (sync == Sync::kLater) {
        std::memcpy(dst + done, pattern.data(), n);
      } else if (auto s = f.copy_and_flush(dst + done, pattern.data(), n); !s) {
        return s;
      }
    }
  }
  return commit(offset, len, sync);
}

flush::Status RawLayout::deallocate(std::uint64_t offset, std::uint64_t len, Sync sync) noexcept {
  auto how = medium_.deallocate(offset, len);
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
    if (auto s = f.flush(medium_.data() + offset, len); !s) return s;
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
    if (auto s = f.flush(medium_.data(), medium_.size()); !s) return fail(s);
  } else {
    for (const auto& r : t.ranges)
      if (auto s = f.flush(medium_.data() + r.offset, r.len); !s) return fail(s);
  }
  if (auto s = f.drain(); !s) return fail(s);
  if (t.file_changed) {
    if (auto s = f.sync_file(); !s) return fail(s);
  }
  return {};
}

}  // namespace tgt_pmem::bs
