// SPDX-License-Identifier: GPL-2.0-only
// Pure helpers of the verbs implementation, kept apart so that they are unit-tested on hosts
// without an RDMA device: address parsing and formatting, access-flag mapping, the
// negotiation of RDMA READ depths, and the table that remembers what each work request was.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::rdma::detail {

[[nodiscard]] inline std::error_code errno_code(int e) noexcept {
  // A librdmacm call that failed without setting errno still failed: never report success.
  return {e != 0 ? e : EIO, std::generic_category()};
}

// Our Access bits -> ibv_access_flags. Verbs refuses remote write without local write
// (EINVAL), so kRemoteWrite implies IBV_ACCESS_LOCAL_WRITE. kRemoteFlush is
// IBV_ACCESS_FLUSH_PERSISTENT in a build with RDMA FLUSH, nothing otherwise (register_memory
// refuses it there).
[[nodiscard]] unsigned to_ibv_access(unsigned access) noexcept;

// "192.0.2.2:45678", "[2001:db8::1]:45678"; "?" for a null or unknown address.
[[nodiscard]] std::string format_address(const sockaddr* addr);

// A numeric IPv4 or IPv6 address ("0.0.0.0", "::" for all) with port. EINVAL otherwise; no
// name resolution (it could block the event loop).
[[nodiscard]] Result<sockaddr_storage> parse_address(const std::string& address,
                                                     std::uint16_t port);

struct Depths {
  std::uint8_t initiator_depth = 0;      // RDMA READs we may have outstanding
  std::uint8_t responder_resources = 0;  // RDMA READs the peer may have outstanding at us
};

// What rdma_accept is given: ours clamped by what the peer offered and by the device (an
// explicit value above the device maximum makes rdma_accept fail with EINVAL). A peer that
// offered 0 responder resources cannot serve RDMA READs: our initiator depth is 0 then.
[[nodiscard]] Depths negotiate_depths(const QueueLimits& limits, std::uint8_t peer_responder,
                                      std::uint8_t peer_initiator, int device_max_initiator,
                                      int device_max_responder) noexcept;

// Remembers, per outstanding work request, the caller's wr_id and what kind it was: a failed
// ibv_wc has no valid opcode, so the type must come from here. The wr_id handed to verbs is
// the slot index.
class WorkSlots {
 public:
  struct Entry {
    std::uint64_t wr_id = 0;
    WorkType type = WorkType::kSend;
  };

  explicit WorkSlots(std::size_t capacity);

  // A free slot index, or -1 when all are in use.
  [[nodiscard]] std::int64_t acquire(std::uint64_t wr_id, WorkType type) noexcept;
  // The entry of a slot in use, freeing it; false for an index not in use (never expected).
  [[nodiscard]] bool release(std::uint64_t slot, Entry& out) noexcept;
  [[nodiscard]] std::size_t in_use() const noexcept { return entries_.size() - free_.size(); }

 private:
  std::vector<Entry> entries_;
  std::vector<bool> busy_;
  std::vector<std::uint32_t> free_;
};

}  // namespace tgt_pmem::rdma::detail
