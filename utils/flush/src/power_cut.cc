// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/power_cut.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tgt_pmem::flush {

PowerCutFlusher::PowerCutFlusher(std::span<std::byte> volatile_mem, std::span<std::byte> durable)
    : volatile_(volatile_mem), durable_(durable) {
  if (volatile_mem.size() != durable.size())
    throw std::invalid_argument("power-cut: volatile and durable images differ in size");
}

Status PowerCutFlusher::flush(const void* addr, std::size_t len) noexcept {
  const auto* p = static_cast<const std::byte*>(addr);
  if (p < volatile_.data() || len > volatile_.size() ||
      static_cast<std::size_t>(p - volatile_.data()) > volatile_.size() - len)
    return std::unexpected(std::error_code(EFAULT, std::generic_category()));
  std::lock_guard lock(mu_);
  if (points_ >= crash_at_) return {};
  try {
    pending_.push_back({static_cast<std::size_t>(p - volatile_.data()),
                        std::vector<std::byte>(p, p + len)});
  } catch (const std::bad_alloc&) {
    return std::unexpected(std::error_code(ENOMEM, std::generic_category()));
  }
  return {};
}

Status PowerCutFlusher::drain() noexcept {
  std::lock_guard lock(mu_);
  if (points_ >= crash_at_) {
    pending_.clear();
    return {};  // the machine is already dark; the program cannot tell
  }
  for (const auto& p : pending_)
    std::memcpy(durable_.data() + p.offset, p.bytes.data(), p.bytes.size());
  pending_.clear();
  ++points_;
  return {};
}

void PowerCutFlusher::crash_after(std::uint64_t persist_points) {
  std::lock_guard lock(mu_);
  crash_at_ = persist_points;
}

bool PowerCutFlusher::crashed() const {
  std::lock_guard lock(mu_);
  return points_ >= crash_at_;
}

std::uint64_t PowerCutFlusher::persist_points() const {
  std::lock_guard lock(mu_);
  return points_;
}

}  // namespace tgt_pmem::flush
