// SPDX-License-Identifier: GPL-2.0-only
// Generation identifiers of a mirrored LUN (issue 16; docs/replication-design.md), in the
// spirit of DRBD's generation UUIDs (DRBD user guide, "DRBD Internals", "Generation
// Identifiers"; our own rules and code). Each copy of a LUN keeps:
//   current  - names the data as it is now; changes whenever the copies start to differ;
//   bitmap   - the current identifier the peer last had in common with this copy while the
//              write-intent bitmap records what changed since (0: no bitmap generation);
//   history  - older identifiers, newest first, for telling "older" from "unrelated".
// When two copies meet, decide() says which way data may flow, or that it must not.
// Pure values and functions: thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tgt_pmem::bs::mirror {

struct Generations {
  std::uint64_t current = 0;  // 0: a blank copy (never written as a mirror)
  std::uint64_t bitmap = 0;
  std::array<std::uint64_t, 2> history{};

  friend bool operator==(const Generations&, const Generations&) = default;
};

// What a primary may do with a secondary, from their identifiers.
enum class Decision {
  kInSync,            // same current identifier: nothing to copy
  kResyncFromBitmap,  // the primary's bitmap generation is the secondary's current one:
                      // copy the regions the primary's bitmap marks, primary to secondary
  kFullResync,        // the secondary is an older copy (or blank) with no bitmap to trust:
                      // copy everything, primary to secondary
  kSecondaryNewer,    // the secondary went on without this primary (it was promoted):
                      // refused; copying would destroy the newer data
  kSplitBrain,        // both went on apart since they last agreed: refused, never merged
  kUnrelated,         // no identifier in common: refused (the wrong LUN?)
};
[[nodiscard]] const char* to_string(Decision d) noexcept;

// Whether primary may serve as the source for secondary, and how.
[[nodiscard]] Decision decide(const Generations& primary, const Generations& secondary) noexcept;

// The copies start to differ (a primary goes on alone, a secondary is promoted): the current
// identifier becomes the bitmap generation - the write-intent bitmap, from now on, records
// what differs from the copy that still has it - and `fresh` (non-zero, never used before)
// becomes current. If a bitmap generation was already open (degraded twice without a resync
// between), it is kept: the bitmap covers everything since then. The old bitmap generation,
// if replaced, moves into history.
[[nodiscard]] Generations diverge(const Generations& g, std::uint64_t fresh) noexcept;

// The secondary has every region the bitmap marked: the bitmap generation is retired into
// history (the bitmap is empty now).
[[nodiscard]] Generations resynced(const Generations& g) noexcept;

// What the secondary records once a resync from the primary has completed: the primary's
// current identifier, its own old current one pushed into history.
[[nodiscard]] Generations adopt(const Generations& secondary,
                                const Generations& primary) noexcept;

// A fresh identifier: 64 random bits from getrandom(2), never 0.
[[nodiscard]] std::uint64_t fresh_generation();

// One identifier as 16 hex digits, as logs, status files and tgtpmem-admin show it.
[[nodiscard]] std::string hex(std::uint64_t id);

// "current=..., bitmap=..., history=..., ..." in hex, for logs and messages.
[[nodiscard]] std::string describe(const Generations& g);

}  // namespace tgt_pmem::bs::mirror
