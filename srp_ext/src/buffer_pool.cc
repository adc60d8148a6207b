// SPDX-License-Identifier: GPL-2.0-only
#include "buffer_pool.h"

#include <cstdlib>
#include <new>
#include <system_error>

namespace tgt_pmem::srp {

rdma::Status BufferPool::init(rdma::Connection& conn, std::size_t chunk_size,
                              std::uint32_t chunks) {
  reset();
  if (chunk_size == 0 || chunk_size % 4096 != 0 || chunks == 0)
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  const std::size_t total = chunk_size * chunks;
  void* p = std::aligned_alloc(4096, total);
  if (p == nullptr) return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  try {
    used_.assign(chunks, false);
  } catch (const std::bad_alloc&) {
    std::free(p);
    return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  }
  auto mr = conn.register_memory(p, total, rdma::kLocalWrite);
  if (!mr) {
    std::free(p);
    used_.clear();
    return std::unexpected(mr.error());
  }
  mem_ = static_cast<std::byte*>(p);
  mr_ = std::move(*mr);
  chunk_size_ = chunk_size;
  chunks_ = free_ = chunks;
  return {};
}

void BufferPool::reset() noexcept {
  mr_.reset();  // deregister before the memory goes
  std::free(mem_);
  mem_ = nullptr;
  chunk_size_ = 0;
  chunks_ = free_ = 0;
  used_.clear();
}

BufferPool::Lease BufferPool::take(std::uint64_t len) noexcept {
  if (len == 0 || chunks_ == 0) return {};
  const std::uint64_t need = (len + chunk_size_ - 1) / chunk_size_;
  if (need > free_) return {};
  std::uint32_t run = 0;
  for (std::uint32_t i = 0; i < chunks_; ++i) {
    run = used_[i] ? 0 : run + 1;
    if (run == need) {
      const std::uint32_t first = i + 1 - run;
      for (std::uint32_t k = first; k <= i; ++k) used_[k] = true;
      free_ -= run;
      return {mem_ + std::size_t{first} * chunk_size_, mr_->lkey(), first, run};
    }
  }
  return {};
}

void BufferPool::give(Lease& lease) noexcept {
  if (!lease) return;
  for (std::uint32_t k = lease.first; k < lease.first + lease.count && k < chunks_; ++k) {
    if (used_[k]) {
      used_[k] = false;
      ++free_;
    }
  }
  lease = {};
}

}  // namespace tgt_pmem::srp
