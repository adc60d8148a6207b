// SPDX-License-Identifier: GPL-2.0-only
// A pmem LUN as the push-mode service exposes it: its raw mapping and how to make a range of
// it durable (bs_pmem's flusher for that mapping, reached through the glue).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "tgt_pmem/push/protocol.h"

namespace tgt_pmem::push {

// What the LUN allows right now, as tgt's SCSI side would: offline (tgtadm online=0) nothing;
// read-only (tgtadm readonly=1, or software write protect set with MODE SELECT) reads.
enum class LunAccess : std::uint8_t { kNone, kRead, kReadWrite };

struct PushLun {
  int tid = 0;
  std::uint64_t lun = 0;
  std::byte* base = nullptr;   // the LUN's byte 0 in tgtd's address space
  std::uint64_t size = 0;      // bytes
  std::uint32_t block_size = 512;
  // bsopts push_poll_us: how long after its last request a connection to this LUN is still
  // polled for the next one (0: not at all); see Session::on_completions.
  std::uint32_t poll_us = 0;
  // Kept up to date by the glue (Service::set_access).
  LunAccess access = LunAccess::kReadWrite;
  // Makes [offset, offset + len) durable: 0 or a negative errno.
  std::function<int(std::uint64_t offset, std::uint64_t len)> persist;

  // The LUN's mirror metadata (issue 16; MIRROR_STATE), both empty when it has none.
  struct MirrorView {
    MirrorRole role = MirrorRole::kNone;
    MirrorGenerations generations;
  };
  std::function<MirrorView()> mirror_get;
  // Records generations on a secondary, durably: 0, or a negative errno (-EPERM: the LUN is
  // not a secondary; -EIO: not durable).
  std::function<int(const MirrorGenerations&)> mirror_set;
};

}  // namespace tgt_pmem::push
