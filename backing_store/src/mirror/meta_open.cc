// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/meta_open.h"

#include <filesystem>

namespace tgt_pmem::bs::mirror {

std::expected<OpenedMeta, std::string> open_store(const std::string& path,
                                                  Durability durability) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return std::unexpected("no such file (tgtpmem-admin mirror-format makes one)");
  auto m = PmemMedium::open(path.c_str(), kBitmapOffset, durability);
  if (!m) return std::unexpected(m.error().message);
  auto store = MetaStore::open(**m);
  if (!store) return std::unexpected(store.error());
  return OpenedMeta{std::move(*m), std::move(*store)};
}

std::expected<OpenedMeta, std::string> open_for_lun(const std::string& path,
                                                    std::uint64_t lun_size,
                                                    Durability durability) {
  const std::string where = "mirror_meta=" + path + ": ";
  auto opened = open_store(path, durability);
  if (!opened) return std::unexpected(where + opened.error());
  const Record r = opened->store->record();
  if (r.lun_size != lun_size)
    return std::unexpected(where + "formatted for a LUN of " + std::to_string(r.lun_size) +
                           " bytes, this LUN has " + std::to_string(lun_size) +
                           " (tgtpmem-admin mirror-format it for this LUN)");
  return opened;
}

std::string role_conflict(Role role, const Options& o) {
  if (role == Role::kPrimary && o.mirror.empty())
    return "the store says this LUN is a mirror primary: name its secondary with "
           "mirror=ADDRESS[:PORT] and mirror_target=IQN (bs_pmem(8), MIRRORING)";
  if (role == Role::kSecondary && !o.mirror.empty())
    return "the store says this LUN is a mirror secondary, and mirror= is for primaries: "
           "promote it first (tgtpmem-admin mirror-promote) or drop mirror=";
  return {};
}

}  // namespace tgt_pmem::bs::mirror
