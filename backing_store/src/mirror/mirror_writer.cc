// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/mirror_writer.h"

#include <cerrno>

#include "mirror/writer_parts.h"

namespace tgt_pmem::bs::mirror {

namespace {
std::error_code errc(int e) { return {e, std::generic_category()}; }
}  // namespace

const char* to_string(MirrorWriter::Outcome o) noexcept {
  switch (o) {
    case MirrorWriter::Outcome::kGood: return "good";
    case MirrorWriter::Outcome::kLocalFailed: return "local write failed";
    case MirrorWriter::Outcome::kRemoteFailed: return "secondary write failed";
    case MirrorWriter::Outcome::kNotReplicated: return "secondary lost, write refused";
    case MirrorWriter::Outcome::kMetaFailed: return "mirror metadata not durable";
  }
  return "?";
}

const char* to_string(MirrorWriter::State s) noexcept {
  switch (s) {
    case MirrorWriter::State::kSynchronous: return "synchronous";
    case MirrorWriter::State::kDegraded: return "degraded";
    case MirrorWriter::State::kStopped: return "stopped";
    case MirrorWriter::State::kResyncing: return "resyncing";
  }
  return "?";
}

MirrorWriter::MirrorWriter(MetaStore& meta, Replica& replica, Policy policy, State initial,
                           Log log)
    : meta_(meta),
      replica_(replica),
      policy_(policy),
      // A writer that refuses to go on alone has no degraded state.
      state_(policy == Policy::kFail && initial == State::kDegraded ? State::kStopped : initial),
      log_(std::move(log)),
      in_flight_(meta.bitmap().regions(), 0),
      sticky_(meta.bitmap().regions(), false),
      activity_(meta.bitmap().regions(), false) {
  // Bits set before this writer existed (a crash with writes in flight, a degraded period)
  // say the copies may differ there: only a resync may clear them.
  for (auto r = meta_.bitmap().next_marked(0); r; r = meta_.bitmap().next_marked(*r + 1))
    sticky_[*r] = true;
}

MirrorWriter::~MirrorWriter() = default;

void MirrorWriter::regions_of(const Write& w, std::uint64_t& first,
                              std::uint64_t& last) const noexcept {
  const auto s = meta_.bitmap().regions_of(w.offset, w.data.size());
  first = s.first;
  last = s.last;
}

void MirrorWriter::submit(std::uint64_t offset, std::span<const std::byte> data,
                          LocalWrite local, Completion done, bool remote_after_local) {
  auto w = std::make_unique<Write>();
  w->offset = offset;
  w->data = data;
  w->remote_after_local = remote_after_local;
  w->local = std::move(local);
  w->done = std::move(done);
  enqueue(std::move(w));
}

std::uint64_t MirrorWriter::enqueue(std::unique_ptr<Write> w) {
  const std::uint64_t t = next_ticket_++;
  const std::uint64_t offset = w->offset;
  const std::size_t size = w->data.size();
  writes_.emplace(t, std::move(w));
  if (size == 0 || meta_.bitmap().regions_of(offset, size).last >= meta_.bitmap().regions()) {
    finish(t, Outcome::kLocalFailed, errc(EINVAL));
    return t;
  }
  if (!extents_.admit(t, offset, size)) {
    ++counters_.held;
    return t;  // started by the release of the write it overlaps
  }
  start(t);
  return t;
}

void MirrorWriter::start(std::uint64_t t) {
  Write& w = *writes_.at(t);
  w.started = true;
  w.epoch = epoch_;
  // Policy fail with the secondary known to be away (never connected since the start, or
  // lost while idle): nothing is written anywhere, as once stopped.
  if (policy_ == Policy::kFail && !w.copy &&
      (state_ == State::kSynchronous || state_ == State::kResyncing) && !replica_.available()) {
    if (auto e = secondary_lost(errc(ENOTCONN))) {
      finish(t, Outcome::kMetaFailed, e);
      return;
    }
  }
  if (state_ == State::kStopped && !w.copy) {
    finish(t, Outcome::kNotReplicated, errc(ENOTCONN));
    return;
  }
  // The bits first, durably: from here on either copy may hold this write.
  if (auto s = meta_.bitmap().mark(w.offset, w.data.size()); !s) {
    finish(t, Outcome::kMetaFailed, s.error());
    return;
  }
  std::uint64_t first, last;
  regions_of(w, first, last);
  w.counted = true;
  for (std::uint64_t r = first; r <= last; ++r) {
    ++in_flight_[r];
    if (w.copy) continue;  // the region is marked and sticky already
    if (state_ == State::kSynchronous || state_ == State::kResyncing)
      activity_[r] = true;
    else
      sticky_[r] = true;  // degraded: this write goes to the local copy only
  }
  if (state_ == State::kSynchronous || state_ == State::kResyncing) {
    if (w.remote_after_local)
      w.remote_deferred = true;  // on_local sends what the local half made
    else
      send_remote(t);
  } else {
    w.remote_done = true;  // degraded: the bitmap stands for the secondary
  }
  // Last: a local half that completes at once may finish this write (and erase it).
  w.local([this, t](std::error_code e) { on_local(t, e); });
}

void MirrorWriter::send_remote(std::uint64_t t) {
  Write& w = *writes_.at(t);
  std::error_code ec = replica_.available() ? std::error_code{} : errc(ENOTCONN);
  if (!ec) ec = replica_.write(w.offset, w.data, [this, t](std::error_code e) { on_remote(t, e); });
  if (ec) {
    w.remote_done = true;
    w.remote_error = ec;
  } else {
    w.remote_sent = true;
  }
}

void MirrorWriter::on_local(std::uint64_t ticket, std::error_code ec) {
  auto it = writes_.find(ticket);
  if (it == writes_.end() || it->second->local_done) return;
  Write& w = *it->second;
  w.local_done = true;
  w.local_error = ec;
  if (w.remote_deferred) {
    w.remote_deferred = false;
    if (ec)
      w.remote_done = true;  // nothing was made locally: nothing to send
    else
      send_remote(ticket);
  }
  maybe_complete(ticket);
}

void MirrorWriter::on_remote(std::uint64_t ticket, std::error_code ec) {
  auto it = writes_.find(ticket);
  if (it == writes_.end() || it->second->remote_done) return;
  it->second->remote_done = true;
  it->second->remote_error = ec;
  maybe_complete(ticket);
}

std::error_code MirrorWriter::secondary_lost(std::error_code why) {
  if (state_ != State::kSynchronous && state_ != State::kResyncing) return {};
  if (policy_ == Policy::kFail) {
    state_ = State::kStopped;
    log("mirror: the secondary is lost (" + why.message() +
        "); policy fail: writes are refused until it is back");
    return {};
  }
  // Before the first write is acknowledged on this copy alone, the generation moves on, so
  // the secondary's current identifier is now this copy's bitmap generation (decide()).
  const Record r = meta_.record();
  std::uint64_t fresh = 0;
  try {
    fresh = fresh_generation();
  } catch (const std::system_error& e) {
    return e.code();
  }
  const Generations g = diverge(r.generations, fresh);
  if (auto s = meta_.update(r.role, g); !s) return s.error();
  state_ = State::kDegraded;
  log("mirror: the secondary is lost (" + why.message() +
      "); policy degrade: going on alone, " + describe(g));
  return {};
}

void MirrorWriter::maybe_complete(std::uint64_t ticket) {
  Write& w = *writes_.at(ticket);
  if (!w.local_done || !w.remote_done) return;
  std::uint64_t first, last;
  regions_of(w, first, last);
  const bool remote_ok = w.remote_sent && !w.remote_error;
  if (!remote_ok || w.local_error)
    for (std::uint64_t r = first; r <= last; ++r) sticky_[r] = true;  // copies may differ
  if (w.remote_error) {
    ++counters_.remote_failures;
    // A failure of the connection before the current one (a resync began since) is old news:
    // the secondary it speaks of was already lost.
    if (w.epoch == epoch_) {
      if (auto e = secondary_lost(w.remote_error)) {
        finish(ticket, Outcome::kMetaFailed, e);
        return;
      }
    }
  }
  if (w.copy && !remote_ok) {
    // A copy that did not reach the secondary is never good, whatever the policy says of
    // writes.
    finish(ticket, Outcome::kRemoteFailed, w.remote_error ? w.remote_error : errc(ENOTCONN));
  } else if (w.local_error) {
    finish(ticket, Outcome::kLocalFailed, w.local_error);
  } else if (remote_ok) {
    finish(ticket, Outcome::kGood, {});
  } else if (policy_ == Policy::kDegrade && meta_.record().generations.bitmap != 0) {
    // On the local copy only, and the primary is apart from the secondary (its bitmap
    // generation is set, durably): the region is marked and sticky, a resync copies it.
    ++counters_.degraded_writes;
    finish(ticket, Outcome::kGood, {});
  } else {
    finish(ticket, Outcome::kRemoteFailed, w.remote_error ? w.remote_error : errc(ENOTCONN));
  }
}

void MirrorWriter::finish(std::uint64_t ticket, Outcome o, std::error_code ec) {
  auto it = writes_.find(ticket);
  if (it == writes_.end()) return;
  std::unique_ptr<Write> w = std::move(it->second);
  writes_.erase(it);
  if (w->counted) {
    std::uint64_t first, last;
    regions_of(*w, first, last);
    for (std::uint64_t r = first; r <= last; ++r) --in_flight_[r];
  }
  if (!w->copy) (o == Outcome::kGood ? counters_.good : counters_.failed)++;
  const std::vector<ExtentTable::Ticket> next = extents_.release(ticket);
  w->done(o, ec);
  for (ExtentTable::Ticket t : next) {
    auto n = writes_.find(t);
    if (n != writes_.end() && !n->second->started) start(t);
  }
}

flush::Status MirrorWriter::clear_idle() {
  if (state_ != State::kSynchronous) return {};
  const std::uint64_t regions = activity_.size();
  for (std::uint64_t r = 0; r < regions;) {
    if (!activity_[r] || sticky_[r] || in_flight_[r] != 0) {
      ++r;
      continue;
    }
    std::uint64_t end = r;
    while (end < regions && activity_[end] && !sticky_[end] && in_flight_[end] == 0) ++end;
    if (auto s = meta_.bitmap().clear(r, end - r); !s) return s;
    for (std::uint64_t i = r; i < end; ++i) activity_[i] = false;
    counters_.regions_cleared += end - r;
    r = end;
  }
  return {};
}

}  // namespace tgt_pmem::bs::mirror
