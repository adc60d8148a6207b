// SPDX-License-Identifier: GPL-2.0-only
#include "store.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "tgt_pmem/flush/select.h"

namespace tgt_pmem::admin {

std::string pmem2_message(int rc) {
  const char* m = pmem2_errormsg();
  return (m && *m) ? std::string(m) : "libpmem2 error " + std::to_string(rc);
}

void Mapping::ConfigDeleter::operator()(pmem2_config* c) const noexcept {
  pmem2_config_delete(&c);
}
void Mapping::MapDeleter::operator()(pmem2_map* m) const noexcept { pmem2_map_delete(&m); }
// Members die in reverse order: map, then config.
Mapping::~Mapping() = default;

std::string_view Mapping::granularity() const noexcept {
  switch (pmem2_map_get_store_granularity(map_.get())) {
    case PMEM2_GRANULARITY_BYTE: return "byte";
    case PMEM2_GRANULARITY_CACHE_LINE: return "cache-line";
    case PMEM2_GRANULARITY_PAGE: return "page";
  }
  return "unknown";
}

void Store::FdCloser::operator()(int* fd) const noexcept {
  if (*fd >= 0) ::close(*fd);
  delete fd;
}
void Store::SourceDeleter::operator()(pmem2_source* s) const noexcept {
  pmem2_source_delete(&s);
}
Store::~Store() = default;

std::expected<Store, Store::Error> Store::open(const std::string& path, Access access) {
  auto fail = [&](Stage stage, int errnum, const std::string& msg) {
    return std::unexpected(Error{stage, errnum, path + ": " + msg});
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT) return fail(Stage::kExists, e, "no such file or device");
    return fail(Stage::kExists, e, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return fail(Stage::kType, 0, "not a regular file or a devdax character device");

  Store s;
  s.path_ = path;
  s.access_ = access;
  const int fd = ::open(path.c_str(), (access == Access::kReadWrite ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return fail(Stage::kOpen, e,
                std::string("cannot open ") +
                    (access == Access::kReadWrite ? "for writing: " : "for reading: ") +
                    std::strerror(e));
  }
  s.fd_.reset(new int(fd));

  pmem2_source* src = nullptr;
  if (const int rc = pmem2_source_from_fd(&src, fd); rc != 0) {
    if (S_ISCHR(st.st_mode))
      return fail(Stage::kLibpmem2, 0, "a character device that is not devdax (" + pmem2_message(rc) + ")");
    return fail(Stage::kLibpmem2, 0, "not usable by libpmem2: " + pmem2_message(rc));
  }
  s.source_.reset(src);
  s.devdax_ = S_ISCHR(st.st_mode);  // libpmem2 accepts a character device only if devdax

  size_t size = 0;
  if (const int rc = pmem2_source_size(src, &size); rc != 0)
    return fail(Stage::kLibpmem2, 0, "cannot read its size: " + pmem2_message(rc));
  size_t align = 0;
  if (const int rc = pmem2_source_alignment(src, &align); rc != 0)
    return fail(Stage::kLibpmem2, 0, "cannot read its alignment: " + pmem2_message(rc));
  s.size_ = size;
  s.alignment_ = align;
  return s;
}

std::expected<Mapping, std::string> Store::map() const {
  if (size_ == 0) return std::unexpected(path_ + ": empty, nothing to map");
  if (size_ % alignment_ != 0)
    return std::unexpected(path_ + ": size is not a multiple of the mapping alignment");
  Mapping m;
  pmem2_config* cfg = nullptr;
  if (const int rc = pmem2_config_new(&cfg); rc != 0) return std::unexpected(pmem2_message(rc));
  m.config_.reset(cfg);
  // As the module: accept any granularity, then report the one the mapping really has.
  if (const int rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
      rc != 0)
    return std::unexpected(pmem2_message(rc));
  if (access_ == Access::kReadOnly) {
    if (const int rc = pmem2_config_set_protection(cfg, PMEM2_PROT_READ); rc != 0)
      return std::unexpected(pmem2_message(rc));
  }
  pmem2_map* map = nullptr;
  if (const int rc = pmem2_map_new(&map, cfg, source_.get()); rc != 0)
    return std::unexpected(path_ + ": cannot be mapped: " + pmem2_message(rc));
  m.map_.reset(map);
  m.data_ = static_cast<std::byte*>(pmem2_map_get_address(map));
  m.size_ = pmem2_map_get_size(map);
  // What bs_pmem does with durability=auto: libpmem2's word, unless PMEM2_FORCE_GRANULARITY
  // forced it (bs_pmem ignores the variable).
  m.method_ = flush::needed_method(map, *fd_, devdax_);
  return m;
}

std::expected<std::vector<BadBlock>, std::string> Store::bad_blocks() const {
  pmem2_badblock_context* ctx = nullptr;
  if (const int rc = pmem2_badblock_context_new(&ctx, source_.get()); rc != 0)
    return std::unexpected(pmem2_message(rc));
  std::vector<BadBlock> out;
  pmem2_badblock bb{};
  int rc = 0;
  while ((rc = pmem2_badblock_next(ctx, &bb)) == 0) out.push_back({bb.offset, bb.length});
  std::optional<std::string> error;
  if (rc != PMEM2_E_NO_BAD_BLOCK_FOUND) error = pmem2_message(rc);
  pmem2_badblock_context_delete(&ctx);
  if (error) return std::unexpected(*error);
  return out;
}

std::expected<std::optional<Store::Extent>, std::string> Store::data_extent(
    std::uint64_t offset) const {
  if (offset >= size_) return std::nullopt;
  if (devdax_) return Extent{offset, size_};
  const off_t data = ::lseek(*fd_, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) return std::nullopt;  // a hole up to the end
    return std::unexpected(path_ + ": lseek(SEEK_DATA): " + std::strerror(errno));
  }
  const off_t hole = ::lseek(*fd_, data, SEEK_HOLE);
  if (hole < 0) return std::unexpected(path_ + ": lseek(SEEK_HOLE): " + std::strerror(errno));
  const auto begin = std::min<std::uint64_t>(static_cast<std::uint64_t>(data), size_);
  const auto end = std::min<std::uint64_t>(static_cast<std::uint64_t>(hole), size_);
  if (begin >= end) return std::nullopt;
  return Extent{begin, end};
}

}  // namespace tgt_pmem::admin
