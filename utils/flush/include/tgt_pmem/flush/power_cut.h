// SPDX-License-Identifier: GPL-2.0-only
// A model of power loss for crash tests (after LevelDB's FaultInjectionTestEnv idea, our own
// code). The program writes to a volatile region as it would to a pmem mapping; only ranges
// that were flush()ed and then drain()ed reach a separate durable image, with the content they
// had when they were flushed. A test arms a crash at persist point N (the N-th drain or
// sync_file): from then on nothing more reaches the durable image, exactly as if the power had
// gone at that instant. Reopening the store on the durable image shows what a real power loss
// would have left. Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

class PowerCutFlusher final : public Flusher {
 public:
  // volatile_mem: what the program writes to; durable: same size, what survives. Neither is
  // owned. The durable image starts as it is.
  PowerCutFlusher(std::span<std::byte> volatile_mem, std::span<std::byte> durable);

  Method method() const noexcept override { return Method::kSimulated; }
  // Errors: EFAULT for a range outside the volatile region (a bug in the caller).
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override;
  Status sync_file() noexcept override { return drain(); }

  // The power fails right after persist point `n` completes (n = 0: before the first one).
  void crash_after(std::uint64_t persist_points);
  [[nodiscard]] bool crashed() const;
  [[nodiscard]] std::uint64_t persist_points() const;

 private:
  struct Pending {
    std::size_t offset;
    std::vector<std::byte> bytes;  // content at flush time
  };
  mutable std::mutex mu_;
  std::span<std::byte> volatile_;
  std::span<std::byte> durable_;
  std::vector<Pending> pending_;
  std::uint64_t points_ = 0;
  std::uint64_t crash_at_ = UINT64_MAX;
};

}  // namespace tgt_pmem::flush
