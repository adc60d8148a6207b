// SPDX-License-Identifier: GPL-2.0-only
#include "dump.h"

#include <ctime>
#include <map>
#include <regex>
#include <sstream>

#include "live_state.h"
#include "run_program.h"
#include "tgt_pmem/text/version.h"

namespace tgt_pmem::admin {

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<ShownTarget> parse_tgtadm_show(const std::string& text) {
  static const std::regex target_re(R"(^Target (\d+): (.*)$)");
  static const std::regex lun_re(R"(^\s+LUN: (\d+)\s*$)");
  static const std::regex bs_re(R"(Block size: (\d+))");
  std::vector<ShownTarget> targets;
  ShownLun* lun = nullptr;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, target_re)) {
      targets.push_back({std::stoi(m[1]), trim(m[2]), {}});
      lun = nullptr;
      continue;
    }
    if (targets.empty()) continue;
    if (std::regex_match(line, m, lun_re)) {
      targets.back().luns.push_back({std::stoull(m[1]), "", "", 512, false});
      lun = &targets.back().luns.back();
      continue;
    }
    const std::string t = trim(line);
    if (t == "Account information:" || t == "ACL information:" ||
        t == "I_T nexus information:") {
      lun = nullptr;
      continue;
    }
    if (!lun) continue;
    if (std::regex_search(line, m, bs_re)) lun->block_size = static_cast<std::uint32_t>(std::stoul(m[1]));
    if (t.starts_with("Backing store type:")) lun->bs_type = trim(t.substr(19));
    if (t.starts_with("Backing store path:")) lun->path = trim(t.substr(19));
    if (t.starts_with("Readonly:")) lun->readonly = trim(t.substr(9)) == "Yes";
  }
  for (auto& tg : targets)
    std::erase_if(tg.luns, [](const ShownLun& l) { return l.lun == 0; });
  return targets;
}

std::string complete_dump(const std::string& dump_text, const std::vector<ShownTarget>& shown,
                          const std::vector<PmemLunConfig>& pmem,
                          std::vector<std::string>& problems) {
  static const std::regex target_open(R"(^\s*<target\s+(.*?)\s*>\s*$)");
  static const std::regex target_close(R"(^\s*</target>\s*$)");
  static const std::regex store_line(R"(^(\s*)backing-store\s+(.*?)\s*$)");
  std::map<std::string, const ShownTarget*> by_name;
  // Targets with pmem LUNs: by tgtadm's word or by a status file.
  std::map<std::string, int> pmem_targets;
  for (const auto& t : shown) {
    by_name[t.name] = &t;
    for (const auto& l : t.luns)
      if (l.bs_type == "pmem") ++pmem_targets[t.name];
  }
  std::map<std::pair<std::string, std::string>, const PmemLunConfig*> pmem_by;
  for (const auto& p : pmem) {
    pmem_by[{p.target, p.path}] = &p;
    ++pmem_targets[p.target];
  }
  // Every pmem LUN must be written; count them off as they are.
  std::map<std::pair<std::string, std::string>, bool> written;

  std::ostringstream out;
  std::istringstream in(dump_text);
  std::string line, target;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, target_open)) {
      target = m[1];
      out << line << '\n';
      continue;
    }
    if (std::regex_match(line, target_close)) {
      target.clear();
      out << line << '\n';
      continue;
    }
    if (target.empty() || !pmem_targets.count(target) ||
        !std::regex_match(line, m, store_line)) {
      out << line << '\n';
      continue;
    }
    // A target with pmem LUNs: all its LUNs as blocks (tgt-admin refuses both forms in one
    // target), each with its LUN number so that none is renumbered.
    const std::string indent = m[1], path = m[2];
    const ShownLun* shown_lun = nullptr;
    if (auto t = by_name.find(target); t != by_name.end())
      for (const auto& l : t->second->luns)
        if (l.path == path) shown_lun = &l;
    if (!shown_lun) {
      problems.push_back("target " + target + ": " + path + ": tgtadm does not show this LUN");
      continue;
    }
    const auto pit = pmem_by.find({target, path});
    const PmemLunConfig* p = pit == pmem_by.end() ? nullptr : pit->second;
    if (shown_lun->bs_type == "pmem" && !p) {
      problems.push_back("target " + target + ", lun " + std::to_string(shown_lun->lun) + ": " +
                         path + ": a pmem LUN without a status file (is " +
                         "the status directory writable by tgtd?)");
      continue;
    }
    if (p) written[{target, path}] = true;
    if (p && p->bsopts.find('\'') != std::string::npos) {
      problems.push_back("target " + target + ", lun " + std::to_string(p->lun) + ": bsopts " +
                         p->bsopts + " hold a single quote, which tgt-admin cannot pass on");
      continue;
    }
    out << indent << "<backing-store " << path << ">\n";
    out << indent << "\tlun " << shown_lun->lun << '\n';
    out << indent << "\tbs-type " << shown_lun->bs_type << '\n';
    out << indent << "\tblock-size " << (p ? p->block_size : shown_lun->block_size) << '\n';
    if (p && !p->bsopts.empty()) out << indent << "\tbsopts '" << p->bsopts << "'\n";
    if (shown_lun->readonly) out << indent << "\treadonly 1\n";
    if (p) {
      out << indent << "\t# write cache now " << (p->write_cache_now ? "on" : "off")
          << " (bsopts write_cache sets it at start; an initiator may change it)\n";
    }
    out << indent << "</backing-store>\n";
  }
  for (const auto& p : pmem)
    if (!written.count({p.target, p.path}))
      problems.push_back("target " + p.target + ", lun " + std::to_string(p.lun) + ": " + p.path +
                         ": a pmem LUN tgt-admin --dump did not list");
  return out.str();
}

int run_dump(const DumpArgs& a, Io& io) {
  const std::string port = std::to_string(a.control_port);
  auto dumped = run_program({"tgt-admin", "-C", port, "--dump"});
  if (!dumped || dumped->exit_status != 0) {
    io.err << "tgtpmem-admin: dump: tgt-admin -C " << port << " --dump "
           << (dumped ? "exited with status " + std::to_string(dumped->exit_status)
                      : "could not run: " + dumped.error())
           << " (is tgtd running on control port " << port << "?)\n";
    return kExitCannotUse;
  }
  auto show = run_program({"tgtadm", "-C", port, "--op", "show", "--mode", "target"});
  if (!show || show->exit_status != 0) {
    io.err << "tgtpmem-admin: dump: tgtadm -C " << port << " --op show --mode target "
           << (show ? "exited with status " + std::to_string(show->exit_status)
                    : "could not run: " + show.error())
           << '\n';
    return kExitCannotUse;
  }
  const LiveState live = read_live_state(a.control_port);
  std::vector<PmemLunConfig> pmem;
  for (const auto& l : live.luns) {
    PmemLunConfig c;
    c.target = l.value("target", std::string());
    c.lun = l.value("lun", std::uint64_t{0});
    c.path = l.value("path", std::string());
    c.bsopts = l.value("bsopts", std::string());
    c.block_size = l.value("block_size", 512U);
    c.write_cache_now = l.value("write_cache", false);
    pmem.push_back(std::move(c));
  }
  std::vector<std::string> problems;
  const std::string text =
      complete_dump(dumped->out, parse_tgtadm_show(show->out), pmem, problems);
  if (!problems.empty()) {
    for (const auto& p : problems) io.err << "tgtpmem-admin: dump: " << p << '\n';
    io.err << "tgtpmem-admin: dump: nothing written: a dump would lose the configuration of "
              "the LUN(s) above\n";
    return kExitCheckFailed;
  }
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", std::localtime(&now));
  std::string version = tgt_pmem::text::version_text("tgtpmem-admin");
  version = version.substr(0, version.find('\n'));
  io.out << "# The configuration of the tgtd on control port " << port << ", " << when
         << ".\n# Written by tgtpmem-admin dump (" << version
         << "): tgt-admin --dump, with every LUN\n# of a target that has pmem LUNs written "
            "in full (lun, bs-type, block-size, bsopts).\n"
            "# Check it with 'tgtpmem-admin check-config FILE' before using it.\n";
  io.out << text;
  return kExitOk;
}

}  // namespace tgt_pmem::admin
