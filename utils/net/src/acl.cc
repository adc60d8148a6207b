// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/net/acl.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

// "ip:port" / "[ip6]:port" / "ip" -> "ip".
std::string peer_ip(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const auto close = peer.find(']');
    return close == std::string_view::npos ? std::string() : std::string(peer.substr(1, close - 1));
  }
  // One colon: IPv4 with a port. More: a bare IPv6 address.
  const auto colon = peer.find(':');
  if (colon != std::string_view::npos && peer.find(':', colon + 1) == std::string_view::npos) {
    return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int tgtpmem_acl_address_match(
    const char* entry, const char* peer) noexcept {
  if (entry == nullptr || peer == nullptr) return 0;
  try {
    if (std::strcmp(entry, "ALL") == 0) return 1;
    std::string e(entry);
    std::string prefix_text;
    if (const auto slash = e.find('/'); slash != std::string::npos) {
      prefix_text = e.substr(slash + 1);
      e.resize(slash);
    }
    const std::string ip = peer_ip(peer);
    const int family = e.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    const int bits = family == AF_INET6 ? 128 : 32;
    unsigned char a[16] = {}, b[16] = {};
    if (inet_pton(family, e.c_str(), a) != 1 || inet_pton(family, ip.c_str(), b) != 1) return 0;
    int prefix = bits;
    if (!prefix_text.empty()) {
      char* end = nullptr;
      const long v = std::strtol(prefix_text.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > bits) return 0;
      prefix = static_cast<int>(v);
    }
    for (int i = 0; prefix > 0; ++i, prefix -= 8) {
      const unsigned char mask =
          prefix >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - prefix));
      if ((a[i] & mask) != (b[i] & mask)) return 0;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}
