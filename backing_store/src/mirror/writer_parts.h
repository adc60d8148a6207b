// SPDX-License-Identifier: GPL-2.0-only
// MirrorWriter's private parts (mirror_writer.h), shared by its two source files: a write in
// flight (mirror_writer.cc) and a resynchronisation (mirror_resync.cc). Not for other users.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include "mirror/mirror_writer.h"

namespace tgt_pmem::bs::mirror {

struct MirrorWriter::Write {
  std::uint64_t offset;
  std::span<const std::byte> data;
  LocalWrite local;
  Completion done;
  bool copy = false;     // a resync's copy of a region: to the secondary only
  bool remote_after_local = false;  // submit()'s: the remote half sends what the local made
  bool remote_deferred = false;     // ... and waits for the local half now
  std::uint64_t epoch = 0;  // MirrorWriter::epoch_ when it started
  bool started = false;
  bool counted = false;  // in in_flight_ (its regions were marked)
  bool local_done = false;
  bool remote_done = false;
  bool remote_sent = false;  // the secondary was asked (not degraded, not lost)
  std::error_code local_error;
  std::error_code remote_error;
};

struct MirrorWriter::Resync {
  std::span<const std::byte> local;
  Generations secondary;
  ResyncDone done;
  unsigned max_in_flight = 4;
  std::uint64_t cursor = 0;
  unsigned in_flight = 0;
  std::uint64_t total = 0;
  std::uint64_t copied = 0;
  std::uint64_t bytes_copied = 0;
  ResyncPacer::Clock::time_point started{};
  std::error_code error;  // the first one: no more copies are started
  bool finishing = false;  // the generations are being recorded
  bool pumping = false;
};

}  // namespace tgt_pmem::bs::mirror
