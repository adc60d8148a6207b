// SPDX-License-Identifier: GPL-2.0-only
// A LUN's status file (bs_pmem(8), STATUS FILES): the JSON document tgtpmem-admin status and
// dump read. What tgt knows comes from the glue (tgtpmem_lun_ident), the rest from the LUN.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "lun.h"
#include "tgt_pmem/bs_pmem.h"

namespace tgt_pmem::bs {

// Bumped when a field changes meaning or goes away (adding fields keeps it).
inline constexpr int kStatusFormat = 1;
// Bad ranges listed in the file; the count of all is given beside them.
inline constexpr std::size_t kStatusBadRangesShown = 64;

// Counted by tgtpmem_execute (relaxed: they are statistics; exec=threads runs concurrently).
struct LunCounters {
  std::atomic<std::uint64_t> commands{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> media_errors{0};
  std::atomic<std::uint64_t> on_workers{0};  // executed on a worker thread (exec=threads, auto)
  std::atomic<std::uint64_t> in_place{0};    // READs sent from the mapping (read_in_place)
};

// What the engine knows of a LUN that the Lun itself does not keep.
struct LunFacts {
  std::string_view durability;
  bool emulated = false;
  std::array<std::uint8_t, 16> uuid{};  // all zero: none (raw layout)
};

// The document, without the moment it was written (so that it compares equal while nothing
// changed). Throws std::bad_alloc.
[[nodiscard]] nlohmann::ordered_json status_document(Lun& lun, const LunFacts& facts,
                                          const LunCounters& counters,
                                          const tgtpmem_lun_ident& ident);

}  // namespace tgt_pmem::bs
