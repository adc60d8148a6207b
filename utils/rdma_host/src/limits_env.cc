// SPDX-License-Identifier: GPL-2.0-only
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::rdma_host {

namespace {

// The variable's value if it is set to a decimal number within [min, max]; else, if set, a
// line for `bad`, and nullopt.
std::optional<std::uint64_t> number(const char* name, std::uint64_t min, std::uint64_t max,
                                    std::vector<std::string>& bad) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  const std::string_view s(v);
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || n < min || n > max) {
    bad.push_back(std::string(name) + "=" + escape(s, 64) + ": not a number from " +
                  std::to_string(min) + " to " + std::to_string(max) + "; the default is used");
    return std::nullopt;
  }
  return n;
}

}  // namespace

Limits limits_from_environment(std::vector<std::string>& bad) {
  Limits l;
  if (auto n = number("TGTPMEM_RDMA_HANDSHAKE_TIMEOUT_MS", 100, 600'000, bad))
    l.handshake_timeout = std::chrono::milliseconds(*n);
  if (auto n = number("TGTPMEM_RDMA_MAX_CONNECTIONS", 1, 1'000'000, bad))
    l.max_connections = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_MAX_CONNECTIONS_PER_PEER", 1, 1'000'000, bad))
    l.max_connections_per_peer = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_MAX_UNADMITTED", 1, 1'000'000, bad))
    l.max_unadmitted = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER", 1, 1'000'000, bad))
    l.max_unadmitted_per_peer = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_IDLE_PROBE_S", 0, 86'400, bad))
    l.idle_probe = std::chrono::seconds(*n);
  if (auto n = number("TGTPMEM_RDMA_PROBE_TIMEOUT_S", 1, 86'400, bad))
    l.probe_timeout = std::chrono::seconds(*n);
  if (auto n = number("TGTPMEM_RDMA_COMPLETIONS_PER_TURN", 1, 1'000'000, bad))
    l.completions_per_turn = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_LOG_LINES_PER_PEER", 0, 1'000'000, bad))
    l.log_lines_per_peer = static_cast<std::uint32_t>(*n);
  if (auto n = number("TGTPMEM_RDMA_MAX_AUTH_FAILURES", 1, 1'000'000, bad))
    l.max_auth_failures_per_peer = static_cast<std::uint32_t>(*n);
  return l;
}

std::optional<std::uint64_t> number_from_environment(const char* name, std::uint64_t min,
                                                     std::uint64_t max,
                                                     std::vector<std::string>& bad) {
  return number(name, min, max, bad);
}

}  // namespace tgt_pmem::rdma_host
