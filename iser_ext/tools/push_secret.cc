// SPDX-License-Identifier: GPL-2.0-only
#include "push_secret.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace tgt_pmem::push::tool {

std::expected<std::string, std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  // One byte more than a secret may have (plus its newline) tells "too long" apart.
  std::string s;
  char c;
  while (s.size() <= kMaxSecretBytes + 2 && in.get(c)) s.push_back(c);
  if (in.bad()) return std::unexpected(path + ": read error");
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return std::unexpected(path + ": empty, no secret in it");
  if (s.find_first_of("\r\n") != std::string::npos)
    return std::unexpected(path + ": more than one line; the secret is the file's one line");
  if (s.size() > kMaxSecretBytes)
    return std::unexpected(path + ": longer than " + std::to_string(kMaxSecretBytes) + " bytes");
  return s;
}

}  // namespace tgt_pmem::push::tool
