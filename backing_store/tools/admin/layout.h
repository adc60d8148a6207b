// SPDX-License-Identifier: GPL-2.0-only
// On-media layouts, as tgtpmem-admin knows them. A layout decides what `create` writes,
// what `info` can read back (a recorded block size, ...) and what `check` verifies beyond
// the size rules every layout shares. "raw" (no metadata: every byte is LUN data) is the
// one bs_pmem serves today; a layout with an on-media header is one more implementation of
// this interface, added to the table in layouts.cc ahead of raw, which claims everything.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tgt_pmem/flush/flusher.h"
#include "zero_scan.h"

namespace tgt_pmem::admin {

// One line of `check`'s report.
struct Finding {
  enum class Verdict { kOk, kWarning, kFailed, kSkipped };
  std::string name;    // short, stable: "exists", "size.minimum", "layout.raw", ...
  Verdict verdict;
  std::string detail;  // a sentence for the administrator
};

class Layout {
 public:
  virtual ~Layout() = default;

  // The name of `create --layout` and of info's "layout" field.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  // Whether the mapped store carries this layout. Reading the medium may fault on a bad
  // block: read it through guarded.h.
  [[nodiscard]] virtual bool detect(std::span<const std::byte> medium) const = 0;

  // The logical block size the layout records on the medium, if it records one.
  [[nodiscard]] virtual std::optional<std::uint32_t> recorded_block_size(
      std::span<const std::byte> medium) const = 0;

  // Layout-specific checks of a store that passed the shared size rules for block_size.
  virtual void check(std::span<const std::byte> medium, std::uint32_t block_size,
                     std::vector<Finding>& out) const = 0;

  // Writes the layout's metadata on a store `create` has just sized (and zeroed when
  // asked), durably through flusher. extents: the store's holes (zero_scan.h), which need no
  // zeroing. Error: a message.
  [[nodiscard]] virtual std::expected<void, std::string> format(
      std::span<std::byte> medium, std::uint32_t block_size, flush::Flusher& flusher,
      const bs::ExtentQuery& extents) const = 0;
};

// Every layout, in detection order (raw last).
[[nodiscard]] std::span<const Layout* const> all_layouts() noexcept;
// nullptr for an unknown name.
[[nodiscard]] const Layout* layout_named(std::string_view name) noexcept;
// The first layout whose detect() is true: raw when nothing else matches.
[[nodiscard]] const Layout& detect_layout(std::span<const std::byte> medium);
// "raw, ..." for help texts and error messages.
[[nodiscard]] std::string layout_names();

}  // namespace tgt_pmem::admin
