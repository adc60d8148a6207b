// SPDX-License-Identifier: GPL-2.0-only
#include "boot_deps.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "check_config.h"

namespace tgt_pmem::admin {

namespace {

// "/a//b/./c/" -> components {"a","b","c"}; nullopt for a relative path or "..".
std::optional<std::vector<std::string>> components(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const std::size_t j = path.find('/', i);
    const std::string_view part = path.substr(i, j == std::string_view::npos ? path.npos : j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (j == std::string_view::npos) break;
    i = j;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string p;
  for (std::size_t i = 0; i < n; ++i) p += "/" + parts[i];
  return p.empty() ? "/" : p;
}

std::string where(const ConfigPlace& p) { return p.file + ":" + std::to_string(p.line); }

}  // namespace

std::optional<std::string> systemd_escape_path(std::string_view path) {
  auto parts = components(path);
  if (!parts) return std::nullopt;
  if (parts->empty()) return "-";
  std::string out;
  bool first = true;
  for (const auto& part : *parts) {
    if (!first) out += '-';
    for (std::size_t k = 0; k < part.size(); ++k) {
      const auto c = static_cast<unsigned char>(part[k]);
      const bool leading_dot = first && k == 0 && c == '.';
      if (!leading_dot && (std::isalnum(c) || c == ':' || c == '_' || c == '.')) {
        out += static_cast<char>(c);
      } else {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        out += hex;
      }
    }
    first = false;
  }
  return out;
}

std::vector<std::string> fstab_mount_points(std::string_view text) {
  std::vector<std::string> points;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string spec, file, type;
    if (!(fields >> spec >> file)) continue;
    if (spec.starts_with("#")) continue;
    fields >> type;
    if (type == "swap" || file == "none" || file.empty() || file.front() != '/') continue;
    // fstab(5): blanks in a mount point are written as \040 (octal).
    std::string decoded;
    for (std::size_t i = 0; i < file.size(); ++i) {
      if (file[i] == '\\' && i + 3 < file.size() &&
          std::all_of(file.begin() + static_cast<long>(i) + 1,
                      file.begin() + static_cast<long>(i) + 4,
                      [](char c) { return c >= '0' && c <= '7'; })) {
        decoded += static_cast<char>(std::stoi(file.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        decoded += file[i];
      }
    }
    if (auto parts = components(decoded)) points.push_back(join(*parts, parts->size()));
  }
  return points;
}

std::vector<LunDeps> boot_deps(const TgtConfig& config,
                               const std::vector<std::string>& mount_points) {
  const std::set<std::string> mounts(mount_points.begin(), mount_points.end());
  std::vector<LunDeps> result;
  for (const auto& l : config.luns) {
    if (l.bs_type != "pmem") continue;
    LunDeps d;
    d.lun = &l;
    auto parts = components(l.path);
    if (!parts || parts->empty()) {
      d.note = "not an absolute path: nothing to wait for";
    } else if ((*parts)[0] == "dev") {
      // A devdax device (or any device node): its device unit.
      d.units.push_back(*systemd_escape_path(l.path) + ".device");
    } else {
      // Every file system of fstab above the file, outermost first ("/" is always there).
      for (std::size_t n = 1; n < parts->size(); ++n) {
        const std::string dir = join(*parts, n);
        if (mounts.contains(dir)) d.units.push_back(*systemd_escape_path(dir) + ".mount");
      }
      if (d.units.empty()) d.note = "on no file system of fstab but /: nothing to wait for";
    }
    result.push_back(std::move(d));
  }
  return result;
}

std::string boot_deps_drop_in(const std::vector<LunDeps>& deps,
                              const std::vector<std::string>& config_files) {
  std::ostringstream out;
  out << "# Written by tgtpmem-admin boot-deps (tgt-pmem-generator) from";
  for (const auto& f : config_files) out << ' ' << f;
  out << ".\n"
         "# What the pmem LUNs need before tgt-admin creates them. Wants=, not Requires=: a\n"
         "# device or file system that never comes delays tgt by its job timeout, then the\n"
         "# other targets start anyway.\n"
         "[Unit]\n";
  std::set<std::string> seen;
  for (const auto& d : deps) {
    out << "# " << where(d.lun->place) << ": target " << d.lun->target << ", "
        << d.lun->path;
    if (d.units.empty()) {
      out << ": " << d.note << '\n';
      continue;
    }
    out << '\n';
    std::string line;
    for (const auto& u : d.units)
      if (seen.insert(u).second) line += (line.empty() ? "" : " ") + u;
    if (!line.empty()) out << "Wants=" << line << "\nAfter=" << line << '\n';
  }
  return out.str();
}

int run_boot_deps(const BootDepsArgs& a, Io& io) {
  std::vector<std::string> files = a.files;
  if (files.empty()) files.push_back(kDefaultTgtConfig);
  const TgtConfig config = read_tgt_config(files);
  if (config.named_file_unreadable) {
    for (const auto& p : config.problems) io.err << where(p.place) << ": " << p.message << '\n';
    return kExitCannotUse;
  }
  std::string fstab;
  {
    std::ifstream in(a.fstab);
    if (!in) {
      io.err << "boot-deps: cannot read " << a.fstab << '\n';
      return kExitCannotUse;
    }
    std::ostringstream s;
    s << in.rdbuf();
    fstab = s.str();
  }
  io.out << boot_deps_drop_in(boot_deps(config, fstab_mount_points(fstab)), config.files);
  return kExitOk;
}

}  // namespace tgt_pmem::admin
