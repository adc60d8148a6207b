// SPDX-License-Identifier: GPL-2.0-only
// The resync's token bucket (resync_pacer.h).
#include "mirror/resync_pacer.h"

#include <algorithm>
#include <utility>

namespace tgt_pmem::bs::mirror {

ResyncPacer::ResyncPacer(std::uint64_t bytes_per_s, Now now)
    : rate_(bytes_per_s), now_(std::move(now)) {
  reset();
}

void ResyncPacer::reset() {
  credit_ = static_cast<double>(rate_);
  last_ = now_();
}

void ResyncPacer::refill() {
  const Clock::time_point t = now_();
  if (t <= last_) return;
  const double seconds = std::chrono::duration<double>(t - last_).count();
  last_ = t;
  credit_ = std::min(static_cast<double>(rate_), credit_ + seconds * static_cast<double>(rate_));
}

bool ResyncPacer::take(std::uint64_t bytes) {
  if (rate_ == 0) return true;
  refill();
  if (credit_ <= 0) return false;
  credit_ -= static_cast<double>(bytes);
  return true;
}

}  // namespace tgt_pmem::bs::mirror
