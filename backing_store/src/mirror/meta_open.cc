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

std::string unsupported_role(Role role) {
  if (role == Role::kPrimary)
    return "the role is primary, and the primary's data path (the mirror= bsopts) is not "
           "built yet; only secondaries can be served (docs/replication-design.md)";
  return {};
}

}  // namespace tgt_pmem::bs::mirror
