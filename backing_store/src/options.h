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

enum class Exec { kInline, kThreads };
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

struct Options {
  std::uint32_t block_size = 0;  // 0: tgtadm's --blocksize (tgt's default is 512)
  bool write_cache = false;      // volatile write cache (WCE=1); default write-through
  bool unmap = true;             // thin provisioning: UNMAP / WRITE SAME(UNMAP) deallocate
  Exec exec = Exec::kInline;
  int threads = 4;               // bs_thread workers with exec=threads
  LayoutKind layout = LayoutKind::kRaw;  // atomic: torn-write-free, WRITE ATOMIC (no unmap)
  Durability durability = Durability::kAuto;
  bool push = false;             // push mode (iser_ext): initiators RDMA into the mapping
  std::uint16_t push_port = 5566;  // its RDMA CM port
  // The address that port listens on: numeric IPv4 or IPv6; 0.0.0.0 is every IPv4 address.
  std::string push_address = "0.0.0.0";
  // Microseconds tgtd's event loop keeps polling a push connection for its next request
  // after each one (0: back to the event loop at once). See bs_pmem(8), PUSH MODE.
  std::uint32_t push_poll_us = 0;

  friend bool operator==(const Options&, const Options&) = default;
};

// Error: a message naming the offending key or value.
[[nodiscard]] std::expected<Options, std::string> parse_options(std::string_view text);

}  // namespace tgt_pmem::bs
