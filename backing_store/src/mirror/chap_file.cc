// SPDX-License-Identifier: GPL-2.0-only
// bsopts mirror_chap=FILE (chap_file.h).
#include "mirror/chap_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tgt_pmem::bs::mirror {

std::expected<ChapCredentials, std::string> read_chap_file(const std::string& path) {
  const std::string name = "mirror_chap=" + path + ": ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::unexpected(name + std::strerror(errno));
  struct stat st {};
  std::string text;
  bool ok = ::fstat(fd, &st) == 0;
  const int saved = errno;
  if (ok && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 && st.st_size <= 1024) {
    text.resize(static_cast<std::size_t>(st.st_size));
    ok = ::read(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  ::close(fd);
  if (!ok) return std::unexpected(name + std::strerror(saved ? saved : EIO));
  if (!S_ISREG(st.st_mode)) return std::unexpected(name + "not a regular file");
  if ((st.st_mode & 077) != 0)
    return std::unexpected(name + "readable by others than its owner (chmod 600 it)");
  if (st.st_size > 1024) return std::unexpected(name + "too large for a user and a secret");
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size() && lines.size() < 3) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    at = nl + 1;
  }
  if (lines.size() != 2 || lines[0].empty() || lines[1].empty())
    return std::unexpected(name + "expected two lines: the CHAP user, then the secret");
  if (lines[0].size() > 255 || lines[1].size() > 255)
    return std::unexpected(name + "a line is longer than 255 bytes");
  return ChapCredentials{lines[0], lines[1]};
}

}  // namespace tgt_pmem::bs::mirror
