// SPDX-License-Identifier: GPL-2.0-only
#include "lun_status.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace tgt_pmem::bs {

namespace {

using nlohmann::ordered_json;

std::string hex(const std::array<std::uint8_t, 16>& b) {
  std::string s;
  char two[3];
  for (const auto byte : b) {
    std::snprintf(two, sizeof two, "%02x", byte);
    s += two;
  }
  return s;
}

ordered_json nullable(const char* s) { return s ? ordered_json(s) : ordered_json(nullptr); }

}  // namespace

nlohmann::ordered_json status_document(Lun& lun, const LunFacts& facts, const LunCounters& counters,
                            const tgtpmem_lun_ident& id) {
  ordered_json j;
  j["format"] = kStatusFormat;
  j["pid"] = static_cast<long>(::getpid());
  j["control_port"] = id.control_port;
  j["tid"] = id.tid;
  j["target"] = nullable(id.target);
  j["lun"] = id.lun;
  j["path"] = nullable(id.path);
  j["bstype"] = "pmem";
  j["bsopts"] = id.bsopts ? id.bsopts : "";
  j["block_size"] = lun.block_size();
  j["size"] = lun.size();
  j["medium"] = lun.medium().kind();
  j["durability"] = facts.durability;
  j["emulated"] = facts.emulated;
  j["layout"] = lun.layout().name();
  static constexpr std::array<std::uint8_t, 16> kNone{};
  j["uuid"] = facts.uuid == kNone ? ordered_json(nullptr) : ordered_json(hex(facts.uuid));
  j["serial"] = nullable(id.serial);
  j["write_cache"] = id.write_cache != 0;
  j["online"] = id.online != 0;
  j["readonly"] = id.readonly != 0;
  j["exec"] = nullable(id.exec);
  j["max_atomic_blocks"] = lun.layout().max_atomic_blocks();
  if (const int e = lun.medium().flush_error(); e != 0)
    j["flush_error"] = {{"errno", e}, {"message", std::strerror(e)}};
  else
    j["flush_error"] = nullptr;
  const BadRanges* bad = lun.layout().bad_ranges();
  ordered_json c;
  c["commands"] = counters.commands.load(std::memory_order_relaxed);
  c["failed_commands"] = counters.failed.load(std::memory_order_relaxed);
  c["media_errors"] = counters.media_errors.load(std::memory_order_relaxed);
  c["commands_on_workers"] = counters.on_workers.load(std::memory_order_relaxed);
  c["reads_in_place"] = counters.in_place.load(std::memory_order_relaxed);
  c["flush_failures"] = lun.medium().flush_failures();
  c["bad_ranges_cleared"] = bad ? bad->cleared() : 0;
  j["counters"] = std::move(c);
  ordered_json ranges = ordered_json::array();
  std::size_t total = 0;
  if (bad && !bad->empty()) {
    const auto all = bad->ranges();
    total = all.size();
    for (std::size_t i = 0; i < all.size() && i < kStatusBadRangesShown; ++i)
      ranges.push_back({{"medium_offset", all[i].begin},
                        {"length", all[i].end - all[i].begin},
                        {"origin", all[i].origin == BadRanges::Origin::kMedium ? "medium"
                                                                                : "learnt"}});
  }
  j["bad_ranges_total"] = total;
  j["bad_ranges"] = std::move(ranges);
  if (id.push_address) {
    ordered_json p;
    p["address"] = id.push_address;
    p["port"] = id.push_port;
    p["sessions_total"] = id.sessions_total;
    ordered_json s = ordered_json::array();
    for (std::uint32_t i = 0; i < id.sessions_shown; ++i)
      s.push_back({{"peer", nullable(id.sessions[i].peer)},
                   {"initiator", nullable(id.sessions[i].initiator)},
                   {"regions", id.sessions[i].regions},
                   {"exposed", id.sessions[i].exposed}});
    p["sessions"] = std::move(s);
    j["push"] = std::move(p);
  } else {
    j["push"] = nullptr;
  }
  return j;
}

}  // namespace tgt_pmem::bs
