// SPDX-License-Identifier: GPL-2.0-only
// A flusher for tests that records every call (and lets the test insert its own marks, such
// as "command completed"), optionally forwarding to a real flusher. It answers the question
// the durability contract asks: was this range flushed and then drained before that point?
// Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tgt_pmem/flush/flusher.h"

namespace tgt_pmem::flush {

class RecordingFlusher final : public Flusher {
 public:
  enum class Kind { kFlush, kDrain, kSyncFile, kMark };
  struct Event {
    Kind kind;
    std::uintptr_t addr = 0;
    std::size_t len = 0;
    std::string mark;
  };

  // inner: optional real flusher every call is forwarded to (not owned).
  explicit RecordingFlusher(Flusher* inner = nullptr) noexcept : inner_(inner) {}

  Method method() const noexcept override;
  Status flush(const void* addr, std::size_t len) noexcept override;
  Status drain() noexcept override;
  Status sync_file() noexcept override;

  // Appends a test's own event; returns its index.
  std::size_t mark(std::string what);

  std::vector<Event> events() const;

  // True if every byte of [addr, addr + len) was covered by flushes that a later drain
  // (or sync_file) completed, all before event index `before`.
  [[nodiscard]] bool durable_before(const void* addr, std::size_t len, std::size_t before) const;

  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  Flusher* inner_;
};

}  // namespace tgt_pmem::flush
