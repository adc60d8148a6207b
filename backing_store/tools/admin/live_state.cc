// SPDX-License-Identifier: GPL-2.0-only
#include "live_state.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tgt_pmem/status/run_dir.h"

namespace tgt_pmem::admin {

namespace fs = std::filesystem;

bool is_live_tgtd(long pid) {
  if (pid <= 0) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  return comm && std::getline(comm, name) && name == "tgtd";
}

LiveState read_live_state(int control_port) {
  LiveState s;
  s.dir = status::tgtd_dir(control_port);
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(s.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if ((n.starts_with("lun.") || n == "srp.json") && n.ends_with(".json"))
      files.push_back(it->path());
  }
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!in || doc.is_discarded() || !doc.is_object() || !doc.contains("pid") ||
        !doc["pid"].is_number_integer() ||
        (f.filename() == "srp.json" ? !doc.contains("channels")
                                    : !doc.contains("tid") || !doc.contains("lun"))) {
      s.unreadable.push_back(f.string());
      continue;
    }
    const long pid = doc["pid"].get<long>();
    if (!is_live_tgtd(pid) || doc.value("control_port", -1) != control_port) {
      s.stale.push_back(f.string());
      continue;
    }
    s.pid = pid;
    if (f.filename() == "srp.json")
      s.srp = std::move(doc);
    else
      s.luns.push_back(std::move(doc));
  }
  std::sort(s.luns.begin(), s.luns.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return std::pair(a["tid"].get<long>(), a["lun"].get<std::uint64_t>()) <
           std::pair(b["tid"].get<long>(), b["lun"].get<std::uint64_t>());
  });
  std::sort(s.stale.begin(), s.stale.end());
  std::sort(s.unreadable.begin(), s.unreadable.end());
  return s;
}

}  // namespace tgt_pmem::admin
