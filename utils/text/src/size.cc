// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/text/size.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <limits>

namespace tgt_pmem::text {

std::expected<std::uint64_t, std::string> parse_size(std::string_view text) {
  const std::string quoted = "size '" + std::string(text) + "'";
  if (text.empty()) return std::unexpected("empty size");
  std::uint64_t number = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  const auto [ptr, ec] = std::from_chars(first, last, number);
  if (ec == std::errc::result_out_of_range) return std::unexpected(quoted + " is too large");
  if (ec != std::errc() || ptr == first) return std::unexpected(quoted + " is not a number");
  std::string suffix(ptr, last);
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") {
    shift = 0;
  } else if (suffix == "k" || suffix == "kib") {
    shift = 10;
  } else if (suffix == "m" || suffix == "mib") {
    shift = 20;
  } else if (suffix == "g" || suffix == "gib") {
    shift = 30;
  } else if (suffix == "t" || suffix == "tib") {
    shift = 40;
  } else {
    return std::unexpected(quoted + " has an unknown suffix (use k, m, g, t: binary multiples)");
  }
  if (shift != 0 && number > (std::numeric_limits<std::uint64_t>::max() >> shift))
    return std::unexpected(quoted + " is too large");
  return number << shift;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  unsigned unit = 0;
  while (unit + 1 < std::size(kUnits) && (bytes >> (10 * (unit + 1))) != 0) ++unit;
  if (unit == 0) return std::to_string(bytes) + " B";
  const std::uint64_t one = std::uint64_t{1} << (10 * unit);
  if (bytes % one == 0) return std::to_string(bytes / one) + " " + kUnits[unit];
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", static_cast<double>(bytes) / static_cast<double>(one),
                kUnits[unit]);
  return buf;
}

}  // namespace tgt_pmem::text
