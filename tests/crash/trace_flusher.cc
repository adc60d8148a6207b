// SPDX-License-Identifier: GPL-2.0-only
#include "trace_flusher.h"

#include <cerrno>
#include <chrono>
#include <cstring>

namespace tgt_pmem::crash {

namespace {

flush::Status eio() { return std::unexpected(std::error_code(EIO, std::generic_category())); }

}  // namespace

TraceFlusher::TraceFlusher(std::span<std::byte> mem, flush::Method method, flush::Flusher* inner)
    : mem_(mem), method_(method), inner_(inner) {}

std::uint64_t TraceFlusher::offset_of(const void* p) const noexcept {
  return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - mem_.data());
}

std::uint32_t TraceFlusher::thread_id_locked() {
  const auto [it, _] =
      threads_.emplace(std::this_thread::get_id(), static_cast<std::uint32_t>(threads_.size()));
  return it->second;
}

void TraceFlusher::record_store_locked(Event::Kind kind, const void* dst, const void* src,
                                       std::size_t len, int fill_byte) {
  if (paused_ || len == 0) return;
  Event e{kind};
  e.thread = thread_id_locked();
  e.offset = offset_of(dst);
  e.len = len;
  e.data = trace_.bytes.size();
  if (src) {
    const auto* s = static_cast<const std::byte*>(src);
    trace_.bytes.insert(trace_.bytes.end(), s, s + len);
  } else {
    trace_.bytes.insert(trace_.bytes.end(), len, static_cast<std::byte>(fill_byte));
  }
  trace_.events.push_back(e);
}

bool TraceFlusher::next_call_fails_locked() {
  if (paused_) return false;
  return calls_++ == fail_at_;
}

void TraceFlusher::jitter() {
  if (jitter_percent_ == 0) return;
  // A small lock-free generator: the sleep itself must not serialise the threads.
  std::uint64_t x = jitter_state_.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  if (x % 100 >= jitter_percent_) return;
  std::this_thread::sleep_for(std::chrono::microseconds((x >> 8) % (jitter_max_us_ + 1)));
}

flush::Status TraceFlusher::flush(const void* addr, std::size_t len) noexcept {
  jitter();
  std::lock_guard lock(mu_);
  const bool fails = next_call_fails_locked();
  flush::Status s = fails ? eio() : (inner_ ? inner_->flush(addr, len) : flush::Status{});
  if (!paused_) {
    Event e{Event::Kind::kFlush};
    e.failed = !s;
    e.thread = thread_id_locked();
    e.offset = offset_of(addr);
    e.len = len;
    trace_.events.push_back(e);
  }
  return s;
}

flush::Status TraceFlusher::drain() noexcept {
  jitter();
  std::lock_guard lock(mu_);
  const bool fails = next_call_fails_locked();
  flush::Status s = fails ? eio() : (inner_ ? inner_->drain() : flush::Status{});
  if (!paused_) {
    Event e{Event::Kind::kDrain};
    e.failed = !s;
    e.thread = thread_id_locked();
    trace_.events.push_back(e);
  }
  return s;
}

flush::Status TraceFlusher::sync_file() noexcept {
  std::lock_guard lock(mu_);
  const bool fails = next_call_fails_locked();
  flush::Status s = fails ? eio() : (inner_ ? inner_->sync_file() : flush::Status{});
  if (!paused_) {
    Event e{Event::Kind::kSyncFile};
    e.failed = !s;
    e.thread = thread_id_locked();
    trace_.events.push_back(e);
  }
  return s;
}

// The flushing copies: with a CPU method they are non-temporal stores (pending until this
// thread's drain); with msync they are a store and then a flush of the range.
flush::Status TraceFlusher::copy_and_flush(void* dst, const void* src, std::size_t len) noexcept {
  if (method_ == flush::Method::kMsync || method_ == flush::Method::kSimulated)
    return Flusher::copy_and_flush(dst, src, len);
  std::lock_guard lock(mu_);
  const bool fails = next_call_fails_locked();
  if (fails) {
    // Nothing reached the medium's persistence domain; the bytes did reach memory.
    std::memcpy(dst, src, len);
    record_store_locked(Event::Kind::kStore, dst, src, len, 0);
    if (!paused_) trace_.events.back().failed = true;
    return eio();
  }
  if (inner_) {
    if (auto s = inner_->copy_and_flush(dst, src, len); !s) return s;
  } else {
    std::memcpy(dst, src, len);
  }
  record_store_locked(Event::Kind::kNtStore, dst, src, len, 0);
  return {};
}

flush::Status TraceFlusher::fill_and_flush(void* dst, int c, std::size_t len) noexcept {
  if (method_ == flush::Method::kMsync || method_ == flush::Method::kSimulated)
    return Flusher::fill_and_flush(dst, c, len);
  std::lock_guard lock(mu_);
  const bool fails = next_call_fails_locked();
  if (fails) {
    std::memset(dst, c, len);
    record_store_locked(Event::Kind::kStore, dst, nullptr, len, c);
    if (!paused_) trace_.events.back().failed = true;
    return eio();
  }
  if (inner_) {
    if (auto s = inner_->fill_and_flush(dst, c, len); !s) return s;
  } else {
    std::memset(dst, c, len);
  }
  record_store_locked(Event::Kind::kNtStore, dst, nullptr, len, c);
  return {};
}

void TraceFlusher::copy(void* dst, const void* src, std::size_t len) noexcept {
  std::lock_guard lock(mu_);
  if (inner_)
    inner_->copy(dst, src, len);
  else
    std::memcpy(dst, src, len);
  record_store_locked(Event::Kind::kStore, dst, src, len, 0);
}

void TraceFlusher::fill(void* dst, int c, std::size_t len) noexcept {
  std::lock_guard lock(mu_);
  if (inner_)
    inner_->fill(dst, c, len);
  else
    std::memset(dst, c, len);
  record_store_locked(Event::Kind::kStore, dst, nullptr, len, c);
}

void TraceFlusher::store_word(std::uint64_t* dst, std::uint64_t value) noexcept {
  std::lock_guard lock(mu_);
  if (inner_)
    inner_->store_word(dst, value);
  else
    __atomic_store_n(dst, value, __ATOMIC_RELEASE);
  record_store_locked(Event::Kind::kStore, dst, &value, sizeof value, 0);
}

std::size_t TraceFlusher::mark(std::uint64_t a, std::uint64_t b) {
  std::lock_guard lock(mu_);
  Event e{Event::Kind::kMark};
  e.thread = thread_id_locked();
  e.data = a;
  e.mark_b = b;
  trace_.events.push_back(e);
  return trace_.events.size() - 1;
}

void TraceFlusher::fail_call(std::uint64_t n) {
  std::lock_guard lock(mu_);
  fail_at_ = n;
}

std::uint64_t TraceFlusher::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

void TraceFlusher::set_jitter(unsigned percent, unsigned max_us, std::uint64_t seed) {
  std::lock_guard lock(mu_);
  jitter_percent_ = percent;
  jitter_max_us_ = max_us;
  jitter_state_.store(seed, std::memory_order_relaxed);
}

void TraceFlusher::pause(bool paused) {
  std::lock_guard lock(mu_);
  paused_ = paused;
}

Trace TraceFlusher::trace() const {
  std::lock_guard lock(mu_);
  return trace_;
}

std::size_t TraceFlusher::events() const {
  std::lock_guard lock(mu_);
  return trace_.events.size();
}

}  // namespace tgt_pmem::crash
