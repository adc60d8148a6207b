// SPDX-License-Identifier: GPL-2.0-only
// Opening a LUN's mirror metadata store by path (bsopts mirror_meta=), the one way bs_pmem
// and tgtpmem-admin check-config both do it: the medium, the store, and the checks that tie
// it to the LUN. Errors are sentences for an administrator (tgtd's log, check-config).
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "mirror/meta_store.h"
#include "options.h"
#include "pmem_medium.h"

namespace tgt_pmem::bs::mirror {

struct OpenedMeta {
  std::unique_ptr<PmemMedium> medium;  // first: the store refers to it
  std::unique_ptr<MetaStore> store;
};

// Opens the store at path. Errors (without the path): missing (says how to make one), not
// mappable, blank, foreign or damaged (MetaStore::open). Nothing is written.
[[nodiscard]] std::expected<OpenedMeta, std::string> open_store(const std::string& path,
                                                                Durability durability);

// Opens the store at path (durability as the LUN's) for a LUN of lun_size bytes. Errors:
// missing (says how to make one), not mappable, blank, foreign or damaged (MetaStore::open),
// made for a LUN of another size. Nothing is written.
[[nodiscard]] std::expected<OpenedMeta, std::string> open_for_lun(const std::string& path,
                                                                  std::uint64_t lun_size,
                                                                  Durability durability);

// Why a store of this role cannot serve a LUN opened with these bsopts (empty: it can): a
// primary needs its secondary (mirror=), a secondary must not have one (promote it first).
[[nodiscard]] std::string role_conflict(Role role, const Options& o);

}  // namespace tgt_pmem::bs::mirror
