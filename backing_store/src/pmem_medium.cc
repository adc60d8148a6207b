// SPDX-License-Identifier: GPL-2.0-only
#include "pmem_medium.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pmem_badblocks.h"
#include "zero_scan.h"
#include "tgt_pmem/flush/select.h"

namespace tgt_pmem::bs {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

std::string pmem2_text(int rc) {
  const char* m = pmem2_errormsg();
  return (m && *m) ? std::string(m) : ("libpmem2 error " + std::to_string(rc));
}

}  // namespace

void PmemMedium::FdCloser::operator()(int* fd) const noexcept {
  if (*fd >= 0) ::close(*fd);
  delete fd;
}
void PmemMedium::SourceDeleter::operator()(pmem2_source* s) const noexcept {
  pmem2_source_delete(&s);
}
void PmemMedium::ConfigDeleter::operator()(pmem2_config* c) const noexcept {
  pmem2_config_delete(&c);
}
void PmemMedium::MapDeleter::operator()(pmem2_map* m) const noexcept { pmem2_map_delete(&m); }

// Members die in reverse order of declaration: flusher, map, config, source, fd.
PmemMedium::~PmemMedium() = default;

std::expected<std::unique_ptr<PmemMedium>, PmemMedium::Error> PmemMedium::open(
    const std::string& path, std::uint64_t min_size, Durability durability) {
  auto fail = [&](OpenError code, std::string msg) {
    return std::unexpected(Error{code, path + ": " + std::move(msg)});
  };

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT)
      return fail(OpenError::kOpen,
                  "no such file or device (create it first, e.g. truncate -s 1G FILE)");
    return fail(OpenError::kOpen, "cannot stat: " + errno_text(e));
  }
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return fail(OpenError::kOpen, "not a regular file or a devdax character device");

  std::unique_ptr<PmemMedium> m(new PmemMedium());
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == EACCES || e == EROFS || e == EPERM)
      return fail(OpenError::kReadOnly,
                  "cannot be opened for writing (" + errno_text(e) +
                      "); bs_pmem serves writable backing stores only");
    return fail(OpenError::kOpen, "cannot open: " + errno_text(e));
  }
  m->fd_.reset(new int(fd));

  pmem2_source* src = nullptr;
  if (int rc = pmem2_source_from_fd(&src, fd); rc != 0)
    return fail(OpenError::kOpen, "not usable by libpmem2: " + pmem2_text(rc));
  m->source_.reset(src);

  // libpmem2 accepts a character device only if it is devdax (it checks sysfs).
  m->devdax_ = S_ISCHR(st.st_mode);

  size_t size = 0;
  if (int rc = pmem2_source_size(src, &size); rc != 0)
    return fail(OpenError::kOpen, "cannot read its size: " + pmem2_text(rc));
  size_t align = 0;
  if (int rc = pmem2_source_alignment(src, &align); rc != 0)
    return fail(OpenError::kOpen, pmem2_text(rc));
  if (size < min_size)
    return fail(OpenError::kSize, "size " + std::to_string(size) + " is below the minimum of " +
                                      std::to_string(min_size) + " bytes");
  if (size % align != 0)
    return fail(OpenError::kSize, "size " + std::to_string(size) +
                                      " is not a multiple of the mapping alignment " +
                                      std::to_string(align));

  pmem2_config* cfg = nullptr;
  if (int rc = pmem2_config_new(&cfg); rc != 0)
    return fail(OpenError::kNoMem, pmem2_text(rc));
  m->config_.reset(cfg);
  // Accept any granularity: the flusher is chosen from what the mapping really offers.
  if (int rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE); rc != 0)
    return fail(OpenError::kMap, pmem2_text(rc));

  pmem2_map* map = nullptr;
  if (int rc = pmem2_map_new(&map, cfg, src); rc != 0)
    return fail(OpenError::kMap, "cannot be mapped: " + pmem2_text(rc));
  m->map_.reset(map);
  m->data_ = static_cast<std::byte*>(pmem2_map_get_address(map));
  m->size_ = pmem2_map_get_size(map);
  // What the medium needs, and what the administrator asked for (bs_pmem(8), DURABILITY).
  const flush::Method needed = flush::needed_method(map, fd, m->devdax_);
  flush::Method method = needed;
  switch (durability) {
    case Durability::kAuto:
      break;
    case Durability::kCacheFlush:
      if (needed == flush::Method::kMsync)
        return fail(OpenError::kDurability,
                    "durability=cache-flush would weaken it: it is not persistent memory and "
                    "needs msync (durability=emulated treats a file as pmem knowingly, for "
                    "tests: not power-safe)");
      method = flush::Method::kCacheFlush;
      break;
    case Durability::kEmulated:
      if (needed != flush::Method::kMsync)
        return fail(OpenError::kDurability,
                    "durability=emulated is for plain files, and this is persistent memory "
                    "(durability " + std::string(flush::to_string(needed)) +
                        "): use durability=auto");
      method = flush::Method::kCacheFlush;
      m->emulated_ = true;
      break;
  }
  m->flusher_ = flush::make_flusher(method, m->devdax_ ? -1 : fd);
  m->set_flusher(*m->flusher_);
  // Known poison: reads of it fail, a write covering it clears it (media_access.h). A source
  // whose bad blocks cannot be read is served as if it had none: a read of poison then
  // faults, and the fault is caught and learnt instead.
  if (auto bad = read_bad_blocks(src)) m->bad_at_open_ = std::move(*bad);
  return m;
}

std::error_code PmemMedium::clear_bad_range(std::uint64_t offset, std::uint64_t len) noexcept {
  return clear_bad_block(source_.get(), offset, len);
}

std::expected<Medium::Dealloc, std::error_code> PmemMedium::deallocate(
    std::uint64_t offset, std::uint64_t len) noexcept {
  if (!devdax_ && punch_supported_.load(std::memory_order_relaxed)) {
    if (::fallocate(*fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(offset), static_cast<off_t>(len)) == 0)
      return Dealloc::kPunchedInFile;
    if (errno != EOPNOTSUPP) return std::unexpected(std::error_code(errno, std::generic_category()));
    punch_supported_.store(false, std::memory_order_relaxed);  // e.g. a filesystem without hole punching: zero instead
  }
  flusher().fill(data_ + offset, 0, len);
  return Dealloc::kZeroedInMemory;
}

std::expected<Medium::Extent, std::error_code> PmemMedium::extent_at(
    std::uint64_t offset) const noexcept {
  if (devdax_) return Extent{true, size_};
  return file_extent_at(*fd_, offset, size_);
}

}  // namespace tgt_pmem::bs
