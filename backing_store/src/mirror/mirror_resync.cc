// SPDX-License-Identifier: GPL-2.0-only
// MirrorWriter's resynchronisation (mirror_writer.h, start_resync): copies of the regions
// that may differ, issued as writes to the secondary alone, so that the extent table orders
// them against the initiators' writes exactly as it orders writes among themselves.
#include <cerrno>
#include <chrono>

#include "mirror/mirror_writer.h"
#include "mirror/writer_parts.h"

namespace tgt_pmem::bs::mirror {

namespace {
std::error_code errc(int e) { return {e, std::generic_category()}; }
}  // namespace


std::error_code MirrorWriter::start_resync(Decision decision, std::span<const std::byte> local,
                                           const Generations& secondary, ResyncDone done,
                                           unsigned max_in_flight) {
  if (resync_) return errc(EBUSY);
  if (decision != Decision::kInSync && decision != Decision::kResyncFromBitmap &&
      decision != Decision::kFullResync) {
    log(std::string("mirror: resync refused: ") + to_string(decision) + " (primary " +
        describe(meta_.record().generations) + "; secondary " + describe(secondary) + ")");
    return errc(EPERM);
  }
  const std::uint64_t regions = sticky_.size();
  if (local.size() < meta_.record().lun_size) return errc(EINVAL);
  if (decision == Decision::kFullResync) {
    // Nothing of the secondary can be trusted: every region is copied.
    if (auto s = meta_.bitmap().mark_all(); !s) return s.error();
    for (std::uint64_t r = 0; r < regions; ++r) sticky_[r] = true;
  }
  resync_ = std::make_unique<Resync>();
  resync_->local = local;
  resync_->secondary = secondary;
  resync_->done = std::move(done);
  resync_->max_in_flight = max_in_flight == 0 ? 1 : max_in_flight;
  for (std::uint64_t r = 0; r < regions; ++r) resync_->total += sticky_[r] ? 1 : 0;
  pacer_.reset();
  resync_->started = pacer_.now();
  state_ = State::kResyncing;
  ++epoch_;
  const std::uint64_t limit = pacer_.bytes_per_s();
  log("mirror: resync started (" + std::string(to_string(decision)) + "), " +
      std::to_string(resync_->total) + " regions to copy, " +
      (limit == 0 ? std::string("no rate limit")
                  : "at most " + std::to_string(limit >> 20) + " MiB/s"));
  pump_resync();
  return {};
}

MirrorWriter::ResyncProgress MirrorWriter::resync_progress() const {
  if (!resync_) return {};
  const double seconds =
      std::chrono::duration<double>(pacer_.now() - resync_->started).count();
  return {resync_->total, resync_->copied, resync_->bytes_copied, seconds, true};
}

void MirrorWriter::pump_resync() {
  if (!resync_ || resync_->pumping || resync_->finishing) return;
  Resync& rs = *resync_;
  rs.pumping = true;
  const std::uint64_t regions = sticky_.size();
  const std::uint32_t shift = meta_.bitmap().region_shift();
  const std::uint64_t lun_size = meta_.record().lun_size;
  while (!rs.error && rs.in_flight < rs.max_in_flight) {
    std::uint64_t r = rs.cursor;
    while (r < regions && !sticky_[r]) ++r;
    if (r == regions) {
      if (rs.in_flight != 0) break;
      // A region can become sticky again behind the cursor (a local write failed there):
      // go round again until none is left.
      bool left = false;
      for (std::uint64_t i = 0; i < regions && !left; ++i) left = sticky_[i];
      if (left) {
        rs.cursor = 0;
        continue;
      }
      break;
    }
    const std::uint64_t off = r << shift;
    const std::uint64_t len = std::min<std::uint64_t>(std::uint64_t{1} << shift, lun_size - off);
    // The rate limit: this region waits for resume_resync() (a timer) or a copy's end.
    if (!pacer_.take(len)) break;
    rs.cursor = r + 1;
    auto w = std::make_unique<Write>();
    w->copy = true;
    w->offset = off;
    w->data = rs.local.subspan(off, len);
    w->local = [](LocalDone d) { d({}); };
    w->done = [this, r, len](Outcome o, std::error_code ec) { on_copy_done(r, len, o, ec); };
    ++rs.in_flight;
    enqueue(std::move(w));
  }
  rs.pumping = false;
  if (!resync_) return;
  if (rs.in_flight == 0 && rs.error) {
    end_resync(rs.error);
    return;
  }
  if (rs.in_flight != 0 || rs.error) return;
  bool left = false;
  for (std::uint64_t i = 0; i < regions && !left; ++i) left = sticky_[i];
  if (left) return;
  // Every region is on the secondary. It records the primary's identifier first, then the
  // primary retires its bitmap generation: a crash between the two finds them in sync.
  rs.finishing = true;
  const Generations primary = meta_.record().generations;
  const Generations adopted = adopt(rs.secondary, primary);
  const std::error_code posted = replica_.record_generations(adopted, [this](std::error_code ec) {
    if (ec) {
      end_resync(ec);
      return;
    }
    const Record r = meta_.record();
    if (auto s = meta_.update(r.role, resynced(r.generations)); !s) {
      end_resync(s.error());
      return;
    }
    state_ = State::kSynchronous;
    end_resync({});
  });
  if (posted) end_resync(posted);
}

void MirrorWriter::on_copy_done(std::uint64_t region, std::uint64_t bytes, Outcome o,
                                std::error_code ec) {
  if (!resync_) return;
  Resync& rs = *resync_;
  --rs.in_flight;
  if (o != Outcome::kGood) {
    if (!rs.error) rs.error = ec ? ec : errc(EIO);
  } else if (auto s = meta_.bitmap().clear(region); !s) {
    if (!rs.error) rs.error = s.error();
  } else {
    sticky_[region] = false;
    activity_[region] = false;
    ++rs.copied;
    rs.bytes_copied += bytes;
  }
  pump_resync();
}

void MirrorWriter::end_resync(std::error_code ec) {
  if (!resync_) return;
  std::unique_ptr<Resync> rs = std::move(resync_);
  if (ec) {
    // The secondary was lost again (the policy already moved the state on), or the metadata
    // is not durable: the regions left stay marked for the next resync.
    if (state_ == State::kResyncing) state_ = State::kDegraded;
    if (policy_ == Policy::kFail && state_ == State::kDegraded) state_ = State::kStopped;
    log("mirror: resync stopped after " + std::to_string(rs->copied) + " of " +
        std::to_string(rs->total) + " regions: " + ec.message());
  } else {
    log("mirror: resync done, " + std::to_string(rs->copied) + " regions copied; synchronous");
  }
  rs->done(ec);
}

}  // namespace tgt_pmem::bs::mirror
