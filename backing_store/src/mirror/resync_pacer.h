// SPDX-License-Identifier: GPL-2.0-only
// The resync's rate limit (bsopts mirror_resync_mibps; issue 16): a token bucket over bytes.
// A copy may start while the bucket holds any credit; starting it takes its whole size, so
// the bucket can go into debt and the next copy waits until time has paid it back. Over any
// long stretch the copies started add up to at most rate x time + one second's burst + one
// copy. The bucket fills at `bytes_per_s` up to one second's worth; 0 is no limit.
//
// It never waits: the caller asks take() when it would start a copy, and asks again on its
// next timer tick or a copy's completion (MirrorPrimary ticks once a second).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace tgt_pmem::bs::mirror {

class ResyncPacer {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // bytes_per_s 0: unlimited. now: the clock (tests pass their own).
  explicit ResyncPacer(std::uint64_t bytes_per_s = 0, Now now = &Clock::now);

  // Whether a copy of `bytes` may start now; if so, its bytes are taken from the bucket.
  [[nodiscard]] bool take(std::uint64_t bytes);
  [[nodiscard]] std::uint64_t bytes_per_s() const noexcept { return rate_; }
  [[nodiscard]] Clock::time_point now() const { return now_(); }
  // Starts from a full bucket (a new resync).
  void reset();

 private:
  void refill();

  std::uint64_t rate_;
  Now now_;
  double credit_ = 0;  // bytes; negative: debt
  Clock::time_point last_{};
};

}  // namespace tgt_pmem::bs::mirror
