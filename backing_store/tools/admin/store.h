// SPDX-License-Identifier: GPL-2.0-only
// A backing store as tgtpmem-admin sees it: a devdax character device or a file, inspected
// through libpmem2 exactly as the module opens it (same size, alignment and store
// granularity), but read-only unless a command must write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tgt_pmem/flush/flusher.h"

struct pmem2_config;
struct pmem2_map;
struct pmem2_source;

namespace tgt_pmem::admin {

enum class Access { kReadOnly, kReadWrite };

struct BadBlock {
  std::uint64_t offset;  // bytes from the start of the store
  std::uint64_t length;  // bytes
};

// A whole-store mapping. Must not outlive the Store it came from.
class Mapping {
 public:
  Mapping(Mapping&&) noexcept = default;
  Mapping& operator=(Mapping&&) noexcept = default;
  ~Mapping();

  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
  // "byte", "cache-line" or "page": what libpmem2 reports (PMEM2_FORCE_GRANULARITY, if set,
  // is what it reports; bs_pmem ignores the variable).
  [[nodiscard]] std::string_view granularity() const noexcept;
  // The durability method bs_pmem chooses for this medium with durability=auto.
  [[nodiscard]] flush::Method method() const noexcept { return method_; }
  [[nodiscard]] pmem2_map* raw() const noexcept { return map_.get(); }

 private:
  friend class Store;
  Mapping() = default;
  struct ConfigDeleter { void operator()(pmem2_config* c) const noexcept; };
  struct MapDeleter { void operator()(pmem2_map* m) const noexcept; };
  std::unique_ptr<pmem2_config, ConfigDeleter> config_;
  std::unique_ptr<pmem2_map, MapDeleter> map_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  flush::Method method_ = flush::Method::kMsync;
};

class Store {
 public:
  // Where open() stopped; each later stage depends on the earlier ones.
  enum class Stage {
    kExists,    // stat(2) failed: missing, or no permission on a directory
    kType,      // neither a regular file nor a character device
    kOpen,      // open(2) failed (for kReadWrite: read-only file or file system)
    kLibpmem2,  // libpmem2 refused it (e.g. a character device that is not devdax)
  };
  struct Error {
    Stage stage;
    int errnum;           // errno for kExists/kOpen, else 0
    std::string message;  // starts with the path
  };

  // Opens path; never creates or writes anything.
  [[nodiscard]] static std::expected<Store, Error> open(const std::string& path, Access access);

  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;
  ~Store();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool devdax() const noexcept { return devdax_; }
  // "devdax" or "file", the words of the module's "opened" log line.
  [[nodiscard]] std::string_view medium() const noexcept { return devdax_ ? "devdax" : "file"; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  // The mapping alignment: the page size for files, the device alignment (2 MiB) for devdax.
  [[nodiscard]] std::uint64_t alignment() const noexcept { return alignment_; }
  [[nodiscard]] int fd() const noexcept { return *fd_; }

  // Maps the whole store, read-only when opened kReadOnly. The size must be non-zero and a
  // multiple of alignment(). Error: libpmem2's message.
  [[nodiscard]] std::expected<Mapping, std::string> map() const;

  // Bad blocks libpmem2 knows of (from the pmem namespace, through ndctl). Error: libpmem2's
  // message, e.g. for a file that does not live on pmem at all.
  [[nodiscard]] std::expected<std::vector<BadBlock>, std::string> bad_blocks() const;

  // For a file: the first byte at or after offset that is not in a hole (SEEK_DATA), and the
  // end of that data run (SEEK_HOLE); nullopt when only a hole remains. devdax has no holes.
  struct Extent {
    std::uint64_t begin, end;
  };
  [[nodiscard]] std::expected<std::optional<Extent>, std::string> data_extent(
      std::uint64_t offset) const;

 private:
  Store() = default;
  struct FdCloser { void operator()(int* fd) const noexcept; };
  struct SourceDeleter { void operator()(pmem2_source* s) const noexcept; };
  std::string path_;
  std::unique_ptr<int, FdCloser> fd_;
  std::unique_ptr<pmem2_source, SourceDeleter> source_;
  Access access_ = Access::kReadOnly;
  bool devdax_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t alignment_ = 0;
};

// libpmem2's last error message, or "libpmem2 error RC".
[[nodiscard]] std::string pmem2_message(int rc);

}  // namespace tgt_pmem::admin
