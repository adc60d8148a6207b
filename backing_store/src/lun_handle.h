// SPDX-License-Identifier: GPL-2.0-only
// What the C ABI's opaque handles (include/tgt_pmem/bs_pmem.h) hold: private to the files
// that implement that ABI (c_api.cc, mirror_c_api.cc).
#pragma once

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "lun.h"
#include "lun_status.h"
#include "mirror/meta_store.h"
#include "mirror/primary_parts.h"
#include "options.h"
#include "pmem_medium.h"

struct tgtpmem_options {
  tgt_pmem::bs::Options o;
};

struct tgtpmem_lun {
  std::unique_ptr<tgt_pmem::bs::Lun> lun;
  tgt_pmem::bs::Options options;  // as opened
  std::string durability;
  int fd = -1;
  bool emulated = false;
  std::array<std::uint8_t, 16> uuid{};
  std::string notice;  // from the store record (raw layout), for one log line
  // Mirror metadata (mirror_meta=): its medium first, so that the store dies before it.
  std::unique_ptr<tgt_pmem::bs::PmemMedium> mirror_medium;
  std::unique_ptr<tgt_pmem::bs::mirror::MetaStore> mirror;
  bool mirror_secondary = false;  // SCSI writes refused (DATA PROTECT)
  std::string mirror_path;
  // A mirror primary's link and write path (tgtpmem_lun_mirror_start); after the store, so
  // that it goes first.
  std::unique_ptr<tgt_pmem::bs::mirror::PrimaryParts> mirror_primary;
  // Log lines about failed commands: a one-minute window (tgtpmem_lun_log_allowed).
  std::mutex log_mu;
  std::chrono::steady_clock::time_point log_window{};
  std::uint32_t log_lines = 0;
  std::uint64_t log_suppressed = 0;
  // The status file (lun_status.h): counters, and what was last written, where.
  tgt_pmem::bs::LunCounters counters;
  nlohmann::ordered_json published;
  std::filesystem::path status_dir;
  std::string status_name;
};

namespace tgt_pmem::bs {
// A C ABI error message into the caller's buffer (always NUL-terminated; nothing if none).
inline void set_err(char* err, std::size_t errlen, const std::string& msg) noexcept {
  if (err && errlen) std::snprintf(err, errlen, "%s", msg.c_str());
}

// The "mirror" object of the LUN's status file (mirror_c_api.cc); nothing if not mirrored.
void add_mirror_status(const tgtpmem_lun& lun, nlohmann::ordered_json& doc);
}  // namespace tgt_pmem::bs
