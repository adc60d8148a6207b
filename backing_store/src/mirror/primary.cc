// SPDX-License-Identifier: GPL-2.0-only
// A mirrored LUN's primary side (primary.h).
#include "mirror/primary.h"

#include <cstdio>
#include <utility>

namespace tgt_pmem::bs::mirror {

MirrorPrimary::MirrorPrimary(MetaStore& meta, Replica& replica, MirrorWriter::Policy policy,
                             std::span<const std::byte> local, std::string name, Log log)
    : meta_(meta), local_(local), name_(std::move(name)), log_(std::move(log)) {
  const bool apart = meta_.record().generations.bitmap != 0;
  writer_ = std::make_unique<MirrorWriter>(
      meta_, replica, policy,
      apart ? MirrorWriter::State::kDegraded : MirrorWriter::State::kSynchronous,
      [this](const std::string& s) { this->log(false, s); });
}

bool MirrorPrimary::on_secondary_up(const Generations& secondary) {
  const Generations primary = meta_.record().generations;
  const Decision d = decide(primary, secondary);
  switch (d) {
    case Decision::kInSync:
    case Decision::kResyncFromBitmap:
    case Decision::kFullResync:
      break;
    case Decision::kSecondaryNewer:
    case Decision::kSplitBrain:
    case Decision::kUnrelated: {
      std::string why = std::string("mirror: the secondary is refused (") + to_string(d) +
                        "): this copy " + describe(primary) + "; the secondary " +
                        describe(secondary) +
                        ". Nothing is copied either way. Keep the copy you trust: "
                        "tgtpmem-admin mirror-format the other one as a secondary (a full "
                        "resync follows), see bs_pmem(8) MIRRORING";
      if (why != refusal_) log(true, why);  // once, not at every retry
      refusal_ = std::move(why);
      return false;
    }
  }
  refusal_.clear();
  last_down_.clear();
  if (auto ec = writer_->start_resync(
          d, local_, secondary,
          [this](std::error_code ec) {
            if (ec)
              log(true, "mirror: resync stopped: " + ec.message() +
                            "; it starts again when the secondary is back");
            else
              log(false, "mirror: in sync with the secondary, " +
                             describe(meta_.record().generations));
          })) {
    log(true, "mirror: resync not started: " + ec.message());
    return false;
  }
  const auto p = writer_->resync_progress();
  log(false, std::string("mirror: secondary up (") + to_string(d) + ", " +
                 std::to_string(p.regions_total) + " regions to copy)");
  return true;
}

void MirrorPrimary::on_secondary_down(std::error_code why, const std::string& what) {
  std::string line = "mirror: secondary " + what + ": " + why.message() + "; writes are " +
                     (writer_->state() == MirrorWriter::State::kStopped ? "refused"
                                                                        : "per policy");
  if (line != last_down_) log(true, line);
  last_down_ = std::move(line);
}

void MirrorPrimary::tick(Clock::time_point now) {
  // Copies the rate limit held back start when their time has come.
  writer_->resume_resync();
  if (const auto p = writer_->resync_progress(); p.running && now >= next_progress_) {
    if (next_progress_ != Clock::time_point{}) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.1f", p.mib_per_s());
      log(false, "mirror: resync " + std::to_string(p.regions_copied) + " of " +
                     std::to_string(p.regions_total) + " regions copied, " + rate + " MiB/s");
    }
    next_progress_ = now + kProgressEvery;
  } else if (!p.running) {
    next_progress_ = {};
  }
  if (now < next_clear_) return;
  next_clear_ = now + std::chrono::seconds(1);
  if (writer_->state() == MirrorWriter::State::kSynchronous)
    if (auto s = writer_->clear_idle(); !s)
      log(true, "mirror: clearing idle regions failed: " + s.error().message() +
                    " (their bits stay set, which is safe)");
}

}  // namespace tgt_pmem::bs::mirror
