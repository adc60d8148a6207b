// SPDX-License-Identifier: GPL-2.0-only
// The production medium: a devdax device, a file on fsdax, or a plain file, mapped whole with
// libpmem2. Owns the fd, the libpmem2 source/config/map and the flusher, declared in creation
// order so that they are destroyed in reverse.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "medium.h"
#include "options.h"

struct pmem2_map;
struct pmem2_source;
struct pmem2_config;

namespace tgt_pmem::bs {

class PmemMedium final : public Medium {
 public:
  enum class OpenError { kOpen, kReadOnly, kSize, kMap, kNoMem, kDurability };
  struct Error {
    OpenError code;
    std::string message;
  };

  // Opens path read-write and maps it. Never writes to it. The size must be at least
  // min_size and a multiple of the mapping alignment (the page size; 2 MiB on devdax).
  // durability (options.h): kDurability if the choice does not fit the medium (cache-flush
  // on a plain file, emulated on pmem).
  [[nodiscard]] static std::expected<std::unique_ptr<PmemMedium>, Error> open(
      const std::string& path, std::uint64_t min_size, Durability durability = Durability::kAuto);

  ~PmemMedium() override;
  PmemMedium(const PmemMedium&) = delete;
  PmemMedium& operator=(const PmemMedium&) = delete;

  std::byte* data() noexcept override { return data_; }
  std::uint64_t size() const noexcept override { return size_; }
  [[nodiscard]] int fd() const noexcept { return *fd_; }
  std::string_view kind() const noexcept override { return devdax_ ? "devdax" : "file"; }
  // A plain file treated as pmem (durability=emulated): not power-safe.
  [[nodiscard]] bool emulated() const noexcept { return emulated_; }
  std::expected<Dealloc, std::error_code> deallocate(std::uint64_t offset,
                                                     std::uint64_t len) noexcept override;
  std::expected<Extent, std::error_code> extent_at(std::uint64_t offset) const noexcept override;
  // libpmem2's bad blocks, read once at open (pmem_badblocks.h); none for a plain file.
  std::vector<ByteRange> bad_ranges_at_open() const override { return bad_at_open_; }
  std::error_code clear_bad_range(std::uint64_t offset, std::uint64_t len) noexcept override;

 private:
  PmemMedium() = default;

  struct FdCloser { void operator()(int* fd) const noexcept; };
  struct SourceDeleter { void operator()(pmem2_source* s) const noexcept; };
  struct ConfigDeleter { void operator()(pmem2_config* c) const noexcept; };
  struct MapDeleter { void operator()(pmem2_map* m) const noexcept; };

  std::unique_ptr<int, FdCloser> fd_;
  std::unique_ptr<pmem2_source, SourceDeleter> source_;
  std::unique_ptr<pmem2_config, ConfigDeleter> config_;
  std::unique_ptr<pmem2_map, MapDeleter> map_;
  std::unique_ptr<flush::Flusher> flusher_;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  bool devdax_ = false;
  bool emulated_ = false;
  std::atomic<bool> punch_supported_{true};
  std::vector<ByteRange> bad_at_open_;
};

}  // namespace tgt_pmem::bs
