// SPDX-License-Identifier: GPL-2.0-only
#include "push_secret.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tgt_pmem::push::tool {
namespace {

// Closes the descriptor when the read is done, however it ends.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

std::expected<std::string, std::string> read_secret_file(const std::string& path) {
  // O_NONBLOCK: a FIFO must not hold the open until someone writes; it is refused below.
  // The checks are made on the descriptor read from, so the file cannot be swapped between
  // them and the read.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return std::unexpected(path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return std::unexpected(path + ": not a regular file");
  // As ssh for a private key: a secret that others may read is no longer secret, and one they
  // may write is theirs to choose.
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return std::unexpected(path + ": permissions " + octal_mode(st.st_mode) +
                           " are too open: group and others must have no access to a secret "
                           "(chmod 600 " + path + ")");
  // One byte more than a secret may have (plus its newline) tells "too long" apart.
  std::string s(kMaxSecretBytes + 3, '\0');
  std::size_t got = 0;
  while (got < s.size()) {
    const ssize_t n = ::read(fd.get(), s.data() + got, s.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(path + ": read error: " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  s.resize(got);
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
