// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/net/acl.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>
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

// A prefix length: 0 to max in decimal digits only, no sign, blank or leading zero (tgt reads
// prefixes with strtoul(.., 0), where "010" is octal 8 and "08" is 0: such an entry is refused
// rather than read as one of two things).
std::optional<int> parse_prefix(std::string_view text, int max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text.front() == '0'))
    return std::nullopt;
  int v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

struct Entry {
  int family;
  unsigned char addr[16];
  int prefix;  // bits compared
};

// ADDRESS, ADDRESS/PREFIX, [ADDRESS] or [ADDRESS]/PREFIX, the forms tgt's iSCSI matcher
// (usr/iscsi/target.c, ip_match) takes; anything else is nullopt.
std::optional<Entry> parse_entry(std::string_view e) {
  std::string_view address = e, prefix;
  bool has_prefix = false;
  if (!e.empty() && e.front() == '[') {
    const auto close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    address = e.substr(1, close - 1);
    const std::string_view rest = e.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != '/') return std::nullopt;  // "[::1]:3260", "[::1]x"
      prefix = rest.substr(1);
      has_prefix = true;
    }
  } else if (const auto slash = e.find('/'); slash != std::string_view::npos) {
    address = e.substr(0, slash);
    prefix = e.substr(slash + 1);
    has_prefix = true;
  }
  Entry out{};
  out.family = address.find(':') != std::string_view::npos ? AF_INET6 : AF_INET;
  const int bits = out.family == AF_INET6 ? 128 : 32;
  // inet_pton refuses anything but one plain address: brackets, blanks, a '/' left over.
  if (inet_pton(out.family, std::string(address).c_str(), out.addr) != 1) return std::nullopt;
  out.prefix = bits;
  if (has_prefix) {
    const auto p = parse_prefix(prefix, bits);
    if (!p) return std::nullopt;
    out.prefix = *p;
  }
  // tgt admits nobody with an IPv4 entry that has bits set past its prefix ("192.0.2.1/24";
  // netmask_match_v4), and its IPv6 matcher ignores them: the same here, so that one entry
  // admits the same peers over iSCSI as over push mode and SRP.
  if (out.family == AF_INET) {
    for (int bit = out.prefix; bit < bits; ++bit)
      if (out.addr[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return out;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int tgtpmem_acl_address_match(
    const char* entry, const char* peer) noexcept {
  if (entry == nullptr || peer == nullptr) return 0;
  try {
    if (std::strcmp(entry, "ALL") == 0) return 1;
    const auto e = parse_entry(entry);
    if (!e) return 0;
    unsigned char b[16] = {};
    if (inet_pton(e->family, peer_ip(peer).c_str(), b) != 1) return 0;
    int prefix = e->prefix;
    for (int i = 0; prefix > 0; ++i, prefix -= 8) {
      const unsigned char mask =
          prefix >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - prefix));
      if ((e->addr[i] & mask) != (b[i] & mask)) return 0;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}
