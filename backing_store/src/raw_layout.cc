// SPDX-License-Identifier: GPL-2.0-only
#include "raw_layout.h"

#include <cerrno>

#include "media_guard.h"

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
  if (sync != Sync::kNow) {
    dirty_.add(offset, len);
    return {};
  }
  // Persist point: the range was flushed by the caller. A write-through or FUA write also
  // makes the writes acknowledged before it durable (the write cache may have been on until a
  // moment ago): those are in the dirty set, or in the hands of a sync still running on
  // another thread, which must then be waited for. A sync counts itself running before it
  // takes the set, so "empty and none running" means nothing earlier is left.
  // sync() drains this thread's flushes too.
  if (!dirty_.empty() || syncs_running_.load(std::memory_order_seq_cst) != 0) return this->sync();
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
    if (sync != Sync::kNow) {
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
  struct Running {
    std::atomic<int>& n;
    explicit Running(std::atomic<int>& c) : n(c) { n.fetch_add(1, std::memory_order_seq_cst); }
    ~Running() { n.fetch_sub(1, std::memory_order_seq_cst); }
  } running(syncs_running_);
  std::lock_guard lock(sync_mu_);
  dirty_.take(taken_);
  if (taken_.everything) {
    if (auto s = media_.flush(0, medium_.size()); !s) return s;
  } else {
    for (const auto& r : taken_.ranges)
      if (auto s = media_.flush(r.offset, r.len); !s) return s;
  }
  // Also when nothing was taken: the caller's own flushed stores, and those of a sync that
  // failed, must not be reported durable without a drain (which fails once latched).
  if (auto s = f.drain(); !s) return s;
  if (taken_.file_changed) {
    if (auto s = f.sync_file(); !s) return s;
  }
  return {};
}

flush::Status RawLayout::persist_external(std::uint64_t offset, std::uint64_t len) noexcept {
  if (len == 0) return medium_.flusher().drain();
  if (medium_.flusher().method() == flush::Method::kMsync) {
    // A page cache sits in front of the medium, and a NIC's writes into pinned pages do not
    // mark them dirty again once they were written back, so msync could skip them. A locked
    // add of 0 to one word per page is a CPU write that changes nothing (atomic against the
    // NIC's stores) but dirties the page. Guarded: a truncated file or poisoned page faults.
    const GuardedWalk w = guarded_walk(
        medium_.data() + offset, len, [](std::byte* chunk, std::size_t n, std::size_t) {
          auto at = reinterpret_cast<std::uintptr_t>(chunk);
          at = (at + 7) & ~std::uintptr_t{7};
          if (at + 8 <= reinterpret_cast<std::uintptr_t>(chunk) + n)
            __atomic_fetch_add(reinterpret_cast<std::uint64_t*>(at), 0, __ATOMIC_RELAXED);
          return true;
        });
    if (w.end == GuardedWalk::End::kFault)
      return std::unexpected(std::error_code(EIO, std::generic_category()));
  }
  if (auto s = media_.flush(offset, len); !s) return s;
  return medium_.flusher().drain();
}

}  // namespace tgt_pmem::bs
