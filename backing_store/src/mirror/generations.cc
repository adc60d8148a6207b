// SPDX-License-Identifier: GPL-2.0-only
#include "mirror/generations.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace tgt_pmem::bs::mirror {
namespace {

bool in_history(const Generations& g, std::uint64_t id) noexcept {
  return id != 0 && std::find(g.history.begin(), g.history.end(), id) != g.history.end();
}

// An identifier both copies had before they went apart: the bitmap generation or history.
bool common_past(const Generations& a, const Generations& b) noexcept {
  const std::uint64_t a_ids[] = {a.bitmap, a.history[0], a.history[1]};
  const std::uint64_t b_ids[] = {b.bitmap, b.history[0], b.history[1]};
  for (std::uint64_t x : a_ids)
    for (std::uint64_t y : b_ids)
      if (x != 0 && x == y) return true;
  return false;
}

void push_history(Generations& g, std::uint64_t id) noexcept {
  if (id == 0 || g.history[0] == id) return;
  g.history[1] = g.history[0];
  g.history[0] = id;
}

}  // namespace

const char* to_string(Decision d) noexcept {
  switch (d) {
    case Decision::kInSync: return "in sync";
    case Decision::kResyncFromBitmap: return "resync from the bitmap";
    case Decision::kFullResync: return "full resync";
    case Decision::kSecondaryNewer: return "the secondary is newer";
    case Decision::kSplitBrain: return "split brain";
    case Decision::kUnrelated: return "unrelated copies";
  }
  return "?";
}

Decision decide(const Generations& p, const Generations& s) noexcept {
  if (p.current == 0) return Decision::kUnrelated;  // a primary always has an identity
  if (s.current == 0) return Decision::kFullResync;  // a blank secondary
  if (p.current == s.current) return Decision::kInSync;
  // The secondary still has what the primary had when the bitmap began: the bitmap says
  // exactly what to copy.
  if (p.bitmap != 0 && p.bitmap == s.current) return Decision::kResyncFromBitmap;
  // The secondary went on from what this primary has now: it was promoted and written.
  if ((s.bitmap != 0 && s.bitmap == p.current) || in_history(s, p.current))
    return Decision::kSecondaryNewer;
  // The secondary is an older copy of this primary, from before the bitmap began.
  if (in_history(p, s.current)) return Decision::kFullResync;
  // Both went on from a point they shared: each has writes the other lacks.
  if (common_past(p, s)) return Decision::kSplitBrain;
  return Decision::kUnrelated;
}

Generations diverge(const Generations& g, std::uint64_t fresh) noexcept {
  Generations n = g;
  if (n.bitmap == 0) {
    n.bitmap = g.current;
  } else {
    // Already apart: the bitmap has covered everything since n.bitmap; the intermediate
    // current identifier was never shared with a peer, but keep it for the record.
    push_history(n, g.current);
  }
  n.current = fresh;
  return n;
}

Generations resynced(const Generations& g) noexcept {
  Generations n = g;
  push_history(n, g.bitmap);
  n.bitmap = 0;
  return n;
}

Generations adopt(const Generations& secondary, const Generations& primary) noexcept {
  Generations n = secondary;
  if (secondary.current != primary.current) push_history(n, secondary.current);
  n.current = primary.current;
  n.bitmap = 0;
  return n;
}

std::uint64_t fresh_generation() {
  for (;;) {
    std::uint64_t v = 0;
    const ssize_t n = getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) {
      if (v != 0) return v;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    throw std::system_error(errno, std::generic_category(), "getrandom");
  }
}

std::string hex(std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string describe(const Generations& g) {
  return "current=" + hex(g.current) + " bitmap=" + hex(g.bitmap) + " history=" +
         hex(g.history[0]) + "," + hex(g.history[1]);
}

}  // namespace tgt_pmem::bs::mirror
