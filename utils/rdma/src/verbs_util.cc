// SPDX-License-Identifier: GPL-2.0-only
#include "verbs_util.h"

#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace tgt_pmem::rdma::detail {

unsigned to_ibv_access(unsigned access) noexcept {
  unsigned flags = 0;
  if (access & (kLocalWrite | kRemoteWrite)) flags |= IBV_ACCESS_LOCAL_WRITE;
  if (access & kRemoteRead) flags |= IBV_ACCESS_REMOTE_READ;
  if (access & kRemoteWrite) flags |= IBV_ACCESS_REMOTE_WRITE;
#if TGTPMEM_HAVE_IBV_WR_FLUSH
  if (access & kRemoteFlush) flags |= IBV_ACCESS_FLUSH_PERSISTENT;
#endif
  return flags;
}

std::string format_address(const sockaddr* addr) {
  if (addr == nullptr) return "?";
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (addr->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);
    if (inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size()) == nullptr) return "?";
    return std::string(text.data()) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof in6);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size()) == nullptr) return "?";
    return "[" + std::string(text.data()) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "?";
}

Result<sockaddr_storage> parse_address(const std::string& address, std::uint16_t port) {
  sockaddr_storage out{};
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr = v4;
    std::memcpy(&out, &in, sizeof in);
    return out;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    in6.sin6_addr = v6;
    std::memcpy(&out, &in6, sizeof in6);
    return out;
  }
  return std::unexpected(std::make_error_code(std::errc::invalid_argument));
}

Depths negotiate_depths(const QueueLimits& limits, std::uint8_t peer_responder,
                        std::uint8_t peer_initiator, int device_max_initiator,
                        int device_max_responder) noexcept {
  auto clamp = [](int ours, std::uint8_t peer, int device) {
    const int v = std::min({ours, static_cast<int>(peer), std::max(device, 0)});
    return static_cast<std::uint8_t>(std::clamp(v, 0, 255));
  };
  return {clamp(limits.rdma_read_depth, peer_responder, device_max_initiator),
          clamp(limits.responder_resources, peer_initiator, device_max_responder)};
}

WorkSlots::WorkSlots(std::size_t capacity) : entries_(capacity), busy_(capacity, false) {
  free_.reserve(capacity);
  // Hand out low indexes first: easier to read in a debugger.
  for (std::size_t i = capacity; i-- > 0;) free_.push_back(static_cast<std::uint32_t>(i));
}

std::int64_t WorkSlots::acquire(std::uint64_t wr_id, WorkType type) noexcept {
  if (free_.empty()) return -1;
  const std::uint32_t slot = free_.back();
  free_.pop_back();
  entries_[slot] = {wr_id, type};
  busy_[slot] = true;
  return slot;
}

bool WorkSlots::release(std::uint64_t slot, Entry& out) noexcept {
  if (slot >= entries_.size() || !busy_[slot]) return false;
  out = entries_[slot];
  busy_[slot] = false;
  free_.push_back(static_cast<std::uint32_t>(slot));  // capacity reserved: cannot throw
  return true;
}

}  // namespace tgt_pmem::rdma::detail
