// SPDX-License-Identifier: GPL-2.0-only
// A channel's pool of pre-registered data buffers: one allocation, registered once when the
// channel starts, carved into fixed-size chunks. A command takes a run of contiguous chunks
// big enough for its data (tgt gets one pointer per direction, so a buffer cannot be
// scattered) and gives it back when its response completed; nothing is registered or
// deregistered per command. First fit over a bitmap: a channel has one chunk per credit
// (128), so a scan is a few words.
//
// What the pool cannot give (a command larger than the pool, or no run of free chunks long
// enough) is the caller's to handle: Channel falls back to a buffer registered for the
// command (channel.cc, ensure_data_buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::srp {

class BufferPool {
 public:
  // A run of chunks lent to one command.
  struct Lease {
    std::byte* data = nullptr;
    std::uint32_t lkey = 0;
    std::uint32_t first = 0;
    std::uint32_t count = 0;  // 0: nothing lent
    explicit operator bool() const noexcept { return count != 0; }
  };

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() { reset(); }

  // Allocates chunks * chunk_size bytes (chunk_size a multiple of 4096) and registers them
  // with conn for local write (RDMA READ targets, RDMA WRITE sources). The registration
  // must go before conn: reset() it, or destroy the pool, first. Errors: EINVAL, ENOMEM,
  // the registration's errno.
  [[nodiscard]] rdma::Status init(rdma::Connection& conn, std::size_t chunk_size,
                                  std::uint32_t chunks);
  // Deregisters and frees (every lease must have been given back, or be abandoned with it).
  void reset() noexcept;

  // The first run of free chunks that holds len bytes (len > 0), or an empty lease when the
  // pool is smaller than len or no run is long enough.
  [[nodiscard]] Lease take(std::uint64_t len) noexcept;
  void give(Lease& lease) noexcept;  // empties lease

  [[nodiscard]] std::size_t bytes() const noexcept { return chunk_size_ * chunks_; }
  [[nodiscard]] std::size_t chunk_size() const noexcept { return chunk_size_; }
  [[nodiscard]] std::uint32_t chunks() const noexcept { return chunks_; }
  [[nodiscard]] std::uint32_t chunks_free() const noexcept { return free_; }

 private:
  std::byte* mem_ = nullptr;
  std::unique_ptr<rdma::MemoryRegion> mr_;
  std::size_t chunk_size_ = 0;
  std::uint32_t chunks_ = 0;
  std::uint32_t free_ = 0;
  std::vector<bool> used_;
};

}  // namespace tgt_pmem::srp
