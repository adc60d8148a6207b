// SPDX-License-Identifier: GPL-2.0-only
// A mirrored LUN's primary side as one object (issue 16; docs/replication-design.md): its
// write path (mirror_writer.h) over a secondary (replica.h), and what happens when the
// secondary comes and goes:
//   - up: the two copies' generations are compared (decide()). In sync, a bitmap resync or a
//     full resync starts (the writer copies what may differ, then both are synchronous); a
//     newer secondary, a split brain or an unrelated LUN is refused - logged with both sides'
//     identifiers and what an administrator can do - and the caller drops the link;
//   - down: logged (each distinct failure once, not every retry), the writer applies the
//     policy on the next write;
//   - tick: the resync's copies held back by its rate limit start, its progress is logged
//     every 10 s, regions idle on both copies have their bits cleared (clear_idle), once a
//     second.
// The writer starts degraded (stopped, with policy fail) when the record says this copy is
// already apart from the secondary (its bitmap generation is set), else synchronous.
//
// Threading: tgtd's loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include "mirror/generations.h"
#include "mirror/meta_store.h"
#include "mirror/mirror_writer.h"
#include "mirror/replica.h"

namespace tgt_pmem::bs::mirror {

class MirrorPrimary {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(bool error, const std::string&)>;

  // meta, replica and local (the primary's copy of the LUN, its mapping) are not owned and
  // outlive this. name: the LUN, for the log.
  MirrorPrimary(MetaStore& meta, Replica& replica, MirrorWriter::Policy policy,
                std::span<const std::byte> local, std::string name, Log log);

  // The secondary is up with these generations. Returns whether the link may stay (false:
  // refused, the caller stops it).
  [[nodiscard]] bool on_secondary_up(const Generations& secondary);
  // A connect attempt or the link failed.
  void on_secondary_down(std::error_code why, const std::string& what);
  // Starts the resync copies its rate limit held back; logs a running resync's progress
  // every kProgressEvery; clears idle regions' bits at most once per second.
  void tick(Clock::time_point now);
  static constexpr std::chrono::seconds kProgressEvery{10};

  [[nodiscard]] MirrorWriter& writer() noexcept { return *writer_; }
  [[nodiscard]] const MirrorWriter& writer() const noexcept { return *writer_; }
  // The last refusal (empty: none since the last time the secondary was accepted).
  [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }
  [[nodiscard]] const std::string& last_down() const noexcept { return last_down_; }

 private:
  void log(bool error, const std::string& s) const {
    if (log_) log_(error, name_ + ": " + s);
  }

  MetaStore& meta_;
  std::span<const std::byte> local_;
  std::string name_;
  Log log_;
  std::unique_ptr<MirrorWriter> writer_;
  std::string refusal_;
  std::string last_down_;
  Clock::time_point next_clear_{};
  Clock::time_point next_progress_{};  // {}: no resync was running at the last tick
};

}  // namespace tgt_pmem::bs::mirror
