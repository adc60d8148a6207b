// SPDX-License-Identifier: GPL-2.0-only
// bsopts: the per-LUN options an administrator passes with `tgtadm --bsopts "k=v;k=v"`.
// Parsing is a pure function: strict (unknown keys, bad values, duplicates are refused) so
// that a typo never silently becomes a default.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace tgt_pmem::bs {

// Where a LUN's commands run (bs_pmem(8), EXECUTION):
//   kInline   on tgtd's event loop, as they are submitted;
//   kThreads  on tgt's bs_thread workers;
//   kAuto     small commands inline, those moving more than inline_max bytes (and WRITE
//             SAME, whose work is not its transfer) on workers.
enum class Exec { kInline, kThreads, kAuto };
// How the LUN's writes are made durable (bs_pmem(8), DURABILITY):
//   kAuto        what the medium needs: fence-only (eADR), cache-flush (pmem), msync (a file);
//   kCacheFlush  CPU cache flushes even where the platform reports eADR; refused on a medium
//                that needs msync (it would weaken it);
//   kEmulated    a plain file treated as pmem (cache flushes, no msync): survives a crash of
//                tgtd, not a power loss. For tests and demonstrations; plain files only.
enum class Durability { kAuto, kCacheFlush, kEmulated };
enum class LayoutKind { kRaw, kAtomic };

// push_poll_us's ceiling: 10 ms, beyond which tgtd's other connections would wait too long.
inline constexpr std::uint32_t kMaxPushPollUs = 10000;
// inline_max's ceiling: a command of 16 MiB on the event loop already stalls it ~2 ms.
inline constexpr std::uint64_t kMaxInlineMax = 16 * 1024 * 1024;

struct Options {
  std::uint32_t block_size = 0;  // 0: tgtadm's --blocksize (tgt's default is 512)
  bool write_cache = false;      // volatile write cache (WCE=1); default write-through
  bool unmap = true;             // thin provisioning: UNMAP / WRITE SAME(UNMAP) deallocate
  Exec exec = Exec::kAuto;
  int threads = 4;               // bs_thread workers with exec=threads or auto
  // exec=auto: the largest transfer executed inline; a larger one goes to a worker.
  std::uint32_t inline_max = 64 * 1024;
  // READ's Data-In sent straight from the mapping over iSCSI/TCP, not copied (bs_pmem(8),
  // READ IN PLACE); the raw layout only.
  bool read_in_place = true;
  LayoutKind layout = LayoutKind::kRaw;  // atomic: torn-write-free, WRITE ATOMIC (no unmap)
  Durability durability = Durability::kAuto;
  bool push = false;             // push mode (iser_ext): initiators RDMA into the mapping
  std::uint16_t push_port = 5566;  // its RDMA CM port
  // The address that port listens on: numeric IPv4 or IPv6; 0.0.0.0 is every IPv4 address.
  std::string push_address = "0.0.0.0";
  // Microseconds tgtd's event loop keeps polling a push connection for its next request
  // after each one (0: back to the event loop at once). See bs_pmem(8), PUSH MODE.
  std::uint32_t push_poll_us = 0;
  // The mirror metadata store of a mirrored LUN (issue 16, docs/replication-design.md): an
  // absolute path, formatted by `tgtpmem-admin mirror-format`. Empty: not mirrored.
  std::string mirror_meta;
  // A mirror primary's secondary (bs_pmem(8), MIRRORING): its push-mode listener (numeric
  // address; empty: this LUN is no primary), target, LUN, and the initiator name its ACL
  // admits; CHAP from a file (mode 0600: a user line, a secret line); the failure policy.
  std::string mirror;            // the address of mirror=ADDRESS[:PORT]
  std::uint16_t mirror_port = 5566;
  std::string mirror_target;
  std::uint64_t mirror_lun = 1;
  std::string mirror_initiator = "iqn.2024-01.org.tgt-pmem:mirror";
  std::string mirror_chap;       // path of the CHAP file; empty: no CHAP
  bool mirror_degrade = false;   // mirror_policy=degrade; default fail
  // The resync's rate limit in MiB/s (0: none). The copies run on tgtd's loop beside the
  // initiators' commands: the default keeps a resync from crowding them out.
  std::uint32_t mirror_resync_mibps = kDefaultMirrorResyncMibps;

  static constexpr std::uint32_t kDefaultMirrorResyncMibps = 100;
  static constexpr std::uint32_t kMaxMirrorResyncMibps = 1 << 20;  // 1 TiB/s

  friend bool operator==(const Options&, const Options&) = default;
};

// Error: a message naming the offending key or value.
[[nodiscard]] std::expected<Options, std::string> parse_options(std::string_view text);

}  // namespace tgt_pmem::bs
