// SPDX-License-Identifier: GPL-2.0-only
#include "status.h"

#include <nlohmann/json.hpp>

#include "live_state.h"

namespace tgt_pmem::admin {

namespace {

using nlohmann::json;

// What needs an administrator's attention; empty when nothing does.
std::vector<std::string> attention(const json& l) {
  std::vector<std::string> a;
  if (l.contains("flush_error") && l["flush_error"].is_object())
    a.push_back("flush error latched (" + l["flush_error"].value("message", std::string("?")) +
                "): every durable write fails until the LUN is opened again; check the "
                "medium, then delete and add the LUN");
  if (l.value("bad_ranges_total", 0) > 0)
    a.push_back(std::to_string(l.value("bad_ranges_total", 0)) +
                " bad range(s) known: reads of them fail with MEDIUM ERROR until rewritten");
  if (!l.value("online", true)) a.push_back("offline");
  if (l.contains("mirror") && l["mirror"].is_object() && l["mirror"].contains("state")) {
    const json& m = l["mirror"];
    const std::string state = m.value("state", std::string());
    if (state == "degraded")
      a.push_back("mirror degraded: writes go to this copy only (marked for a resync) until "
                  "the secondary is back; " + m.value("last_failure", std::string()));
    if (state == "stopped")
      a.push_back("mirror stopped (policy fail): writes are refused until the secondary is "
                  "back; " + m.value("last_failure", std::string()));
    if (!m.value("refusal", std::string()).empty())
      a.push_back(m.value("refusal", std::string()));
  }
  return a;
}

std::string str(const json& l, const char* key) {
  if (!l.contains(key) || l[key].is_null()) return "-";
  return l[key].is_string() ? l[key].get<std::string>() : l[key].dump();
}

void print_lun(const json& l, std::ostream& out) {
  out << "target " << str(l, "target") << " (tid " << str(l, "tid") << "), lun "
      << str(l, "lun") << ": " << str(l, "path") << '\n';
  out << "    " << str(l, "medium") << ", " << str(l, "size") << " bytes, block size "
      << str(l, "block_size") << ", layout " << str(l, "layout") << ", durability "
      << str(l, "durability") << (l.value("emulated", false) ? " (emulated pmem)" : "") << '\n';
  out << "    write cache " << (l.value("write_cache", false) ? "on" : "off") << ", "
      << (l.value("online", true) ? "online" : "OFFLINE") << ", "
      << (l.value("readonly", false) ? "read-only" : "read-write") << ", exec "
      << str(l, "exec") << ", serial " << str(l, "serial") << ", uuid " << str(l, "uuid")
      << '\n';
  out << "    bsopts '" << l.value("bsopts", std::string()) << "'\n";
  const json c = l.value("counters", json::object());
  out << "    commands " << c.value("commands", 0ULL) << " (on workers "
      << c.value("commands_on_workers", 0ULL) << ", reads in place "
      << c.value("reads_in_place", 0ULL) << ", failed " << c.value("failed_commands", 0ULL)
      << ", media errors " << c.value("media_errors", 0ULL) << "), flush failures "
      << c.value("flush_failures", 0ULL) << ", bad ranges " << l.value("bad_ranges_total", 0ULL)
      << " (cleared " << c.value("bad_ranges_cleared", 0ULL) << ")\n";
  if (l.contains("bad_ranges"))
    for (const auto& r : l["bad_ranges"])
      out << "    bad range: medium offset " << str(r, "medium_offset") << ", "
          << str(r, "length") << " bytes (" << str(r, "origin") << ")\n";
  if (l.contains("push") && l["push"].is_object()) {
    const json& p = l["push"];
    out << "    push mode: " << str(p, "address") << " port " << str(p, "port") << ", "
        << str(p, "sessions_total") << " session(s)\n";
    for (const auto& s : p.value("sessions", json::array()))
      out << "      " << str(s, "peer") << " " << str(s, "initiator") << ": "
          << str(s, "regions") << " region(s), " << str(s, "exposed") << " bytes exposed\n";
  }
  if (l.contains("mirror") && l["mirror"].is_object()) {
    const json& m = l["mirror"];
    out << "    mirror: " << str(m, "role") << " (" << str(m, "meta") << "), generation "
        << str(m, "current") << ", " << str(m, "regions_marked") << " region(s) marked\n";
    if (m.contains("state")) {
      const json r = m.value("resync", json::object());
      out << "      secondary " << str(m, "secondary") << " " << str(m, "secondary_target")
          << " lun " << str(m, "secondary_lun") << ", policy " << str(m, "policy") << ": "
          << str(m, "state") << ", link " << str(m, "link");
      if (!m.value("link_durability", std::string()).empty())
        out << " (" << str(m, "link_durability") << ")";
      if (r.value("running", false)) {
        out << ", resync " << str(r, "regions_copied") << "/" << str(r, "regions_total")
            << " regions at " << str(r, "mib_per_s") << " MiB/s";
        const json limit = r.value("limit_mib_per_s", json());
        if (limit.is_number() && limit.get<std::uint64_t>() != 0)
          out << " (limit " << limit.get<std::uint64_t>() << ")";
      }
      out << '\n';
    }
  }
  for (const auto& a : attention(l)) out << "    ATTENTION: " << a << '\n';
}

}  // namespace

int run_status(const StatusArgs& a, Io& io) {
  const LiveState s = read_live_state(a.control_port);
  std::size_t needing = 0;
  for (const auto& l : s.luns)
    if (!attention(l).empty()) ++needing;
  if (a.json) {
    json j;
    j["control_port"] = a.control_port;
    j["status_dir"] = s.dir.string();
    j["tgtd_pid"] = s.pid ? json(s.pid) : json(nullptr);
    j["luns"] = s.luns;
    j["srp"] = s.srp;
    j["attention"] = needing;
    j["stale_files"] = s.stale;
    j["unreadable_files"] = s.unreadable;
    io.out << j.dump(2) << '\n';
  } else {
    for (const auto& l : s.luns) print_lun(l, io.out);
    if (s.srp.is_object()) {
      const auto& ch = s.srp["channels"];
      io.out << "srp: listening on port " << str(s.srp, "port") << ", " << ch.size()
             << " channel(s)\n";
      for (const auto& c : ch)
        io.out << "    target tid " << str(c, "tid") << ": initiator port "
               << str(c, "initiator_port_id") << " from " << str(c, "peer") << ", "
               << str(c, "state") << ", " << str(c, "commands_in_tgt") << " command(s) in tgt\n";
    }
    for (const auto& f : s.stale)
      io.err << "tgtpmem-admin: " << f << ": left by a tgtd that is gone (ignored)\n";
    for (const auto& f : s.unreadable)
      io.err << "tgtpmem-admin: " << f << ": not a status file of bs_pmem (ignored)\n";
    if (s.luns.empty() && !s.srp.is_object())
      io.out << "status: no pmem LUN is open in a tgtd on control port " << a.control_port
             << " (status files: " << s.dir.string() << ")\n";
    else
      io.out << "status: tgtd pid " << s.pid << " (control port " << a.control_port << "): "
             << s.luns.size() << " pmem LUN(s), " << needing << " needing attention\n";
  }
  return needing ? kExitCheckFailed : kExitOk;
}

}  // namespace tgt_pmem::admin
