// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin boot-deps: what tgt.service must wait for at boot so that tgt-admin finds the
// backing stores of its pmem LUNs, as a systemd drop-in ([Unit] Wants=/After=). The systemd
// generator tgt-pmem-generator (packaging/systemd) writes its output under
// /run/systemd/generator/tgt.service.d/ at every boot and daemon-reload.
//
// A devdax path (/dev/...) gives its device unit (dev-dax0.0.device; the udev rule
// 60-tgt-pmem-dax.rules tags dax devices for systemd, which udev does not by default). A file
// gives the mount units of the file systems of /etc/fstab it lies under. Wants=, not
// Requires= (RequiresMountsFor=): a device or file system that never comes delays tgt by
// its job timeout, and then the other targets start anyway - one bad LUN must not keep the
// whole service down (check-config, run by the static drop-in before tgtd, says what is
// missing in the journal).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "tgt_config.h"

namespace tgt_pmem::admin {

inline constexpr const char* kDefaultFstab = "/etc/fstab";

struct BootDepsArgs {
  std::vector<std::string> files;  // default: kDefaultTgtConfig (check_config.h)
  std::string fstab = kDefaultFstab;
};

// systemd's escaping of a path into a unit name (systemd-escape --path): "/" is "-", the
// path's slashes become '-', bytes other than [A-Za-z0-9:_.] (and a leading '.') \xNN.
// nullopt for what systemd refuses: a relative path, or one with a ".." component.
[[nodiscard]] std::optional<std::string> systemd_escape_path(std::string_view path);

// The mount points of an fstab text (field 2, octal escapes such as \040 decoded), without
// swap and "none".
[[nodiscard]] std::vector<std::string> fstab_mount_points(std::string_view fstab_text);

struct LunDeps {
  const ConfiguredLun* lun = nullptr;
  std::vector<std::string> units;  // what this LUN waits for, in order
  std::string note;                // why nothing, when units is empty
};

// The units each pmem LUN of the configuration needs.
[[nodiscard]] std::vector<LunDeps> boot_deps(const TgtConfig& config,
                                             const std::vector<std::string>& mount_points);

// The drop-in text for those (comments naming file:line of every LUN, then [Unit]).
[[nodiscard]] std::string boot_deps_drop_in(const std::vector<LunDeps>& deps,
                                            const std::vector<std::string>& config_files);

// Prints the drop-in. kExitOk, also when the configuration has problems (check-config
// reports those); kExitCannotUse when a named configuration file or the fstab cannot be read.
[[nodiscard]] int run_boot_deps(const BootDepsArgs& args, Io& io);

}  // namespace tgt_pmem::admin
