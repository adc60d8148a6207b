// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/status/run_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace tgt_pmem::status {

namespace fs = std::filesystem;

fs::path run_root() {
  const char* env = std::getenv("TGTPMEM_RUN_DIR");
  return (env && *env) ? fs::path(env) : fs::path("/run/tgt-pmem");
}

fs::path tgtd_dir(int control_port) {
  return run_root() / ("tgtd." + std::to_string(control_port));
}

std::error_code publish(const fs::path& dir, std::string_view name, std::string_view text,
                        bool durable) noexcept {
  try {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return ec;
    // The new text goes beside the file under a name no reader looks at (not *.json).
    const fs::path final_path = dir / name;
    const fs::path tmp = dir / ("." + std::string(name) + ".new");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return {errno, std::generic_category()};
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return {e, std::generic_category()};
      }
      done += static_cast<std::size_t>(n);
    }
    ::fchmod(fd, 0644);
    if (durable && ::fsync(fd) != 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return {e, std::generic_category()};
    }
    ::close(fd);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return {e, std::generic_category()};
    }
    if (durable) {
      const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
    }
    return {};
  } catch (...) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

void retract(const fs::path& dir, std::string_view name) noexcept {
  try {
    ::unlink((dir / name).c_str());
  } catch (...) {
  }
}

void sweep(const fs::path& dir, std::string_view prefix) noexcept {
  try {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string n = it->path().filename().string();
      if (n.starts_with(prefix) && n.ends_with(".json")) ::unlink(it->path().c_str());
    }
  } catch (...) {
  }
}

}  // namespace tgt_pmem::status
