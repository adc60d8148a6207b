// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/tgt_abi/release.h"

#include <cctype>

namespace tgt_pmem::tgt_abi {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_suffix_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '+' ||
         c == '~' || c == '_' || c == '-';
}

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> parse_tgtd_version(std::string_view output) {
  const std::string_view line = trim(output);
  // Digits, then one or more ".digits" groups.
  std::size_t i = 0;
  int groups = 0;
  while (true) {
    const std::size_t start = i;
    while (i < line.size() && is_digit(line[i])) ++i;
    if (i == start) return std::nullopt;  // a group without digits
    ++groups;
    if (i + 1 < line.size() && line[i] == '.' && is_digit(line[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  if (groups < 2) return std::nullopt;
  for (std::size_t j = i; j < line.size(); ++j) {
    if (!is_suffix_char(line[j])) return std::nullopt;  // blanks, a second line, text
  }
  return std::string(line);
}

bool same_abi(std::string_view built_for, std::string_view running) noexcept {
  return !built_for.empty() && built_for == running;
}

std::optional<std::string> refusal(std::string_view module, std::string_view built_for,
                                   const ProbeResult& probe) {
  std::string head = std::string(module) + ": not registered: built for tgt " +
                     std::string(built_for) + ", ";
  const std::string advice =
      "; install the tgt-pmem built for this tgt, or rebuild tgt-pmem against its source "
      "(-DTGT_SOURCE_DIR)";
  if (!probe) {
    return head + "but this tgtd's release is unknown ('/proc/self/exe -V' " + probe.error() +
           ")" + advice;
  }
  const std::optional<std::string> running = parse_tgtd_version(*probe);
  if (!running) {
    std::string shown(trim(*probe).substr(0, 60));
    for (char& c : shown) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return head + "but this tgtd's release is unknown ('/proc/self/exe -V' printed '" +
           shown + "')" + advice;
  }
  if (same_abi(built_for, *running)) return std::nullopt;
  return head + "but this tgtd is tgt " + *running +
         " (its internal structures may differ)" + advice;
}

}  // namespace tgt_pmem::tgt_abi
