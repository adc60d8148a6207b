// SPDX-License-Identifier: GPL-2.0-only
// The table of layouts. A new layout goes ahead of raw, which matches any medium.
#include <array>

#include "layout.h"
#include "layout_atomic.h"
#include "layout_raw.h"

namespace tgt_pmem::admin {

namespace {
const AtomicLayout kAtomic;
const RawLayout kRaw;
const std::array<const Layout*, 2> kLayouts = {&kAtomic, &kRaw};
}  // namespace

std::span<const Layout* const> all_layouts() noexcept { return kLayouts; }

const Layout* layout_named(std::string_view name) noexcept {
  for (const Layout* l : kLayouts)
    if (l->name() == name) return l;
  return nullptr;
}

const Layout& detect_layout(std::span<const std::byte> medium) {
  for (const Layout* l : kLayouts)
    if (l->detect(medium)) return *l;
  return kRaw;
}

std::string layout_names() {
  std::string out;
  for (const Layout* l : kLayouts) {
    if (!out.empty()) out += ", ";
    out += l->name();
  }
  return out;
}

}  // namespace tgt_pmem::admin
