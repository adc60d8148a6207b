// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <arpa/inet.h>

#include <charconv>
#include <set>
#include <utility>

#include "tgt_pmem/text/size.h"

namespace tgt_pmem::bs {

namespace {

std::string_view trim(std::string_view s) {
  const auto ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::expected<bool, std::string> parse_bool(std::string_view key, std::string_view v) {
  if (v == "on" || v == "1" || v == "yes" || v == "true") return true;
  if (v == "off" || v == "0" || v == "no" || v == "false") return false;
  return std::unexpected("bsopts: " + std::string(key) + "=" + std::string(v) +
                         ": expected on or off");
}

std::expected<std::uint64_t, std::string> parse_uint(std::string_view key, std::string_view v) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size())
    return std::unexpected("bsopts: " + std::string(key) + "=" + std::string(v) +
                           ": expected a decimal number");
  return n;
}

// mirror=ADDRESS[:PORT]: numeric IPv4 ("192.0.2.2", "192.0.2.2:5566") or IPv6 in brackets
// ("[2001:db8::2]:5566", "[2001:db8::2]"); the port 1 to 65535, 5566 if not given.
std::expected<std::pair<std::string, std::uint16_t>, std::string> parse_mirror_address(
    std::string_view val) {
  auto bad = [&] {
    return std::unexpected("bsopts: mirror=" + std::string(val) +
                           ": expected a numeric address, IPv4 or [IPv6], and an optional "
                           ":port (e.g. 192.0.2.2:5566)");
  };
  std::string_view host = val, port;
  if (!val.empty() && val.front() == '[') {
    const auto close = val.find(']');
    if (close == std::string_view::npos) return bad();
    host = val.substr(1, close - 1);
    const std::string_view rest = val.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
    }
  } else if (const auto colon = val.find(':'); colon != std::string_view::npos) {
    host = val.substr(0, colon);
    port = val.substr(colon + 1);
  }
  in6_addr a{};
  const std::string h(host);
  if (h.empty() || h.size() >= INET6_ADDRSTRLEN ||
      (::inet_pton(AF_INET, h.c_str(), &a) != 1 && ::inet_pton(AF_INET6, h.c_str(), &a) != 1))
    return bad();
  std::uint16_t p = 5566;
  if (!port.empty() || (val.size() > host.size() && val.back() == ':')) {
    auto n = parse_uint("mirror", port);
    if (!n || *n < 1 || *n > 65535) return bad();
    p = static_cast<std::uint16_t>(*n);
  }
  return std::pair{h, p};
}

}  // namespace

std::expected<Options, std::string> parse_options(std::string_view text) {
  Options o;
  std::set<std::string, std::less<>> seen;
  while (!text.empty()) {
    const auto semi = text.find(';');
    const auto item = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (item.empty()) continue;  // tolerate "a=b;" and ";;"
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return std::unexpected("bsopts: '" + std::string(item) + "' is not key=value");
    const auto key = trim(item.substr(0, eq));
    const auto val = trim(item.substr(eq + 1));
    if (!seen.emplace(key).second)
      return std::unexpected("bsopts: " + std::string(key) + " given twice");

    if (key == "block_size") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      if (*n != 512 && *n != 4096)
        return std::unexpected("bsopts: block_size=" + std::string(val) +
                               ": must be 512 or 4096");
      o.block_size = static_cast<std::uint32_t>(*n);
    } else if (key == "write_cache") {
      auto b = parse_bool(key, val);
      if (!b) return std::unexpected(b.error());
      o.write_cache = *b;
    } else if (key == "unmap") {
      auto b = parse_bool(key, val);
      if (!b) return std::unexpected(b.error());
      o.unmap = *b;
    } else if (key == "exec") {
      if (val == "inline") {
        o.exec = Exec::kInline;
      } else if (val == "threads") {
        o.exec = Exec::kThreads;
      } else if (val == "auto") {
        o.exec = Exec::kAuto;
      } else {
        return std::unexpected("bsopts: exec=" + std::string(val) +
                               ": expected auto, inline or threads");
      }
    } else if (key == "threads") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      if (*n < 1 || *n > 128)
        return std::unexpected("bsopts: threads=" + std::string(val) + ": must be 1 to 128");
      o.threads = static_cast<int>(*n);
    } else if (key == "inline_max") {
      auto n = text::parse_size(val);
      if (!n) return std::unexpected("bsopts: inline_max=" + std::string(val) + ": " + n.error());
      if (*n > kMaxInlineMax)
        return std::unexpected("bsopts: inline_max=" + std::string(val) + ": must be 0 to " +
                               std::to_string(kMaxInlineMax / (1024 * 1024)) + "m");
      o.inline_max = static_cast<std::uint32_t>(*n);
    } else if (key == "layout") {
      if (val == "raw") {
        o.layout = LayoutKind::kRaw;
      } else if (val == "atomic") {
        o.layout = LayoutKind::kAtomic;
      } else {
        return std::unexpected("bsopts: layout=" + std::string(val) +
                               ": expected raw or atomic");
      }
    } else if (key == "durability") {
      if (val == "auto") {
        o.durability = Durability::kAuto;
      } else if (val == "cache-flush") {
        o.durability = Durability::kCacheFlush;
      } else if (val == "emulated") {
        o.durability = Durability::kEmulated;
      } else {
        return std::unexpected("bsopts: durability=" + std::string(val) +
                               ": expected auto, cache-flush or emulated");
      }
    } else if (key == "read_in_place") {
      auto b = parse_bool(key, val);
      if (!b) return std::unexpected(b.error());
      o.read_in_place = *b;
    } else if (key == "push") {
      auto b = parse_bool(key, val);
      if (!b) return std::unexpected(b.error());
      o.push = *b;
    } else if (key == "push_port") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      if (*n < 1 || *n > 65535)
        return std::unexpected("bsopts: push_port=" + std::string(val) + ": must be 1 to 65535");
      o.push_port = static_cast<std::uint16_t>(*n);
    } else if (key == "push_address") {
      std::string address(val);
      in6_addr a{};
      if (address.size() >= INET6_ADDRSTRLEN ||
          (::inet_pton(AF_INET, address.c_str(), &a) != 1 &&
           ::inet_pton(AF_INET6, address.c_str(), &a) != 1))
        return std::unexpected("bsopts: push_address=" + address +
                               ": expected a numeric IPv4 or IPv6 address");
      o.push_address = std::move(address);
    } else if (key == "push_poll_us") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      if (*n > kMaxPushPollUs)
        return std::unexpected("bsopts: push_poll_us=" + std::string(val) + ": must be 0 to " +
                               std::to_string(kMaxPushPollUs));
      o.push_poll_us = static_cast<std::uint32_t>(*n);
    } else if (key == "mirror_meta") {
      if (val.empty() || val.front() != '/')
        return std::unexpected("bsopts: mirror_meta=" + std::string(val) +
                               ": expected an absolute path");
      o.mirror_meta = std::string(val);
    } else if (key == "mirror") {
      auto a = parse_mirror_address(val);
      if (!a) return std::unexpected(a.error());
      o.mirror = a->first;
      o.mirror_port = a->second;
    } else if (key == "mirror_target") {
      if (val.empty() || val.size() > 223)
        return std::unexpected("bsopts: mirror_target=" + std::string(val) +
                               ": expected the secondary's target name (at most 223 bytes)");
      o.mirror_target = std::string(val);
    } else if (key == "mirror_lun") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      o.mirror_lun = *n;
    } else if (key == "mirror_initiator") {
      if (val.empty() || val.size() > 223)
        return std::unexpected("bsopts: mirror_initiator=" + std::string(val) +
                               ": expected an initiator name (at most 223 bytes)");
      o.mirror_initiator = std::string(val);
    } else if (key == "mirror_chap") {
      if (val.empty() || val.front() != '/')
        return std::unexpected("bsopts: mirror_chap=" + std::string(val) +
                               ": expected the absolute path of a file (a user line, a "
                               "secret line; mode 0600)");
      o.mirror_chap = std::string(val);
    } else if (key == "mirror_policy") {
      if (val == "fail") {
        o.mirror_degrade = false;
      } else if (val == "degrade") {
        o.mirror_degrade = true;
      } else {
        return std::unexpected("bsopts: mirror_policy=" + std::string(val) +
                               ": expected fail or degrade");
      }
    } else if (key == "mirror_resync_mibps") {
      auto n = parse_uint(key, val);
      if (!n) return std::unexpected(n.error());
      if (*n > Options::kMaxMirrorResyncMibps)
        return std::unexpected("bsopts: mirror_resync_mibps=" + std::string(val) +
                               ": must be 0 (no limit) to " +
                               std::to_string(Options::kMaxMirrorResyncMibps));
      o.mirror_resync_mibps = static_cast<std::uint32_t>(*n);
    } else {
      return std::unexpected("bsopts: unknown key '" + std::string(key) +
                             "' (known: block_size, write_cache, unmap, exec, threads, layout, "
                             "durability, push, push_port, push_address, push_poll_us, "
                             "inline_max, read_in_place, mirror_meta, mirror, mirror_target, "
                             "mirror_lun, mirror_initiator, mirror_chap, mirror_policy, "
                             "mirror_resync_mibps)");
    }
  }
  if (seen.contains("push_port") && !o.push)
    return std::unexpected("bsopts: push_port= needs push=on");
  if (seen.contains("push_address") && !o.push)
    return std::unexpected("bsopts: push_address= needs push=on");
  if (seen.contains("push_poll_us") && !o.push)
    return std::unexpected("bsopts: push_poll_us= needs push=on");
  // Push mode hands out the LUN's bytes as they lie in the mapping; the atomic layout
  // remaps blocks, so an initiator's RDMA would land in the wrong place.
  if (o.push && o.layout == LayoutKind::kAtomic)
    return std::unexpected("bsopts: push=on needs layout=raw (the atomic layout remaps blocks)");
  if (o.push) {
    // A hole punched under a registered region detaches the pages the region pins from the
    // file: push and SCSI would then see different data. Push mode never deallocates.
    if (seen.contains("unmap") && o.unmap)
      return std::unexpected("bsopts: unmap=on cannot be combined with push=on");
    o.unmap = false;
  }
  // A mirror copy is the LUN's bytes as they lie on the medium (push mode writes them there),
  // which the atomic layout's remapping would break.
  if (!o.mirror_meta.empty() && o.layout == LayoutKind::kAtomic)
    return std::unexpected("bsopts: mirror_meta= needs layout=raw");
  for (const char* k : {"mirror_target", "mirror_lun", "mirror_initiator", "mirror_chap",
                        "mirror_policy", "mirror_resync_mibps"})
    if (seen.contains(k) && o.mirror.empty())
      return std::unexpected(std::string("bsopts: ") + k + "= needs mirror=ADDRESS");
  if (!o.mirror.empty()) {
    if (o.mirror_meta.empty())
      return std::unexpected("bsopts: mirror= needs mirror_meta=PATH (the generations and the "
                             "write-intent bitmap; tgtpmem-admin mirror-format makes it)");
    if (o.mirror_target.empty())
      return std::unexpected("bsopts: mirror= needs mirror_target=IQN (the secondary's target)");
    // Push-mode clients write straight into the mapping: their writes would bypass the mirror.
    if (o.push)
      return std::unexpected("bsopts: mirror= cannot be combined with push=on (push-mode "
                             "writes would reach the primary's copy only)");
  }
  if (seen.contains("threads") && o.exec == Exec::kInline)
    return std::unexpected("bsopts: threads= needs exec=threads or exec=auto");
  if (seen.contains("inline_max") && o.exec != Exec::kAuto)
    return std::unexpected("bsopts: inline_max= needs exec=auto");
  if (o.layout == LayoutKind::kAtomic) {
    // The atomic layout makes every write durable and failure-atomic before it is
    // acknowledged, and remaps blocks (no hole punching): say so rather than pretend.
    if (o.write_cache)
      return std::unexpected("bsopts: write_cache=on cannot be combined with layout=atomic "
                             "(it is always write-through)");
    if (seen.contains("unmap") && o.unmap)
      return std::unexpected("bsopts: unmap=on cannot be combined with layout=atomic");
    o.unmap = false;
  }
  return o;
}

}  // namespace tgt_pmem::bs
