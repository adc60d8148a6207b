// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/select.h"

#include <libpmem2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "cpu_flusher.h"
#include "fdatasync_flusher.h"
#include "msync_flusher.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace tgt_pmem::flush {

namespace {

constexpr const char* kForceVar = "PMEM2_FORCE_GRANULARITY";

struct CpuTables {
  CpuFunctions cache_line{};
  CpuFunctions byte{};
  bool ok = false;
};

// libpmem2 hands out its CPU functions per mapping, by that mapping's granularity. They are
// pure instruction sequences over addresses (no state of the mapping), so one small mapping of
// each granularity, made here and kept, gives them for every mapping of the process.
CpuFunctions functions_of(const char* granularity) {
  CpuFunctions fns{};
  const int fd = ::memfd_create("tgtpmem-flush-fns", MFD_CLOEXEC);
  if (fd < 0) return fns;
  pmem2_source* src = nullptr;
  pmem2_config* cfg = nullptr;
  pmem2_map* map = nullptr;
  const long page = ::sysconf(_SC_PAGESIZE);
  if (::ftruncate(fd, page) == 0 && pmem2_source_from_fd(&src, fd) == 0 &&
      pmem2_config_new(&cfg) == 0 &&
      pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) == 0) {
    const char* old = std::getenv(kForceVar);
    const std::string saved = old ? old : "";
    ::setenv(kForceVar, granularity, 1);
    if (pmem2_map_new(&map, cfg, src) == 0)
      fns = {pmem2_get_flush_fn(map), pmem2_get_drain_fn(map), pmem2_get_memcpy_fn(map),
             pmem2_get_memset_fn(map)};
    if (old)
      ::setenv(kForceVar, saved.c_str(), 1);
    else
      ::unsetenv(kForceVar);
  }
  // The map stays (its functions are static anyway); source and config are not needed.
  if (cfg) pmem2_config_delete(&cfg);
  if (src) pmem2_source_delete(&src);
  ::close(fd);
  return fns;
}

const CpuTables& tables() {
  static CpuTables t;
  static std::once_flag once;
  std::call_once(once, [] {
    t.cache_line = functions_of("CACHE_LINE");
    t.byte = functions_of("BYTE");
    t.ok = t.cache_line.flush && t.cache_line.drain && t.cache_line.memcpy &&
           t.cache_line.memset && t.byte.flush && t.byte.drain && t.byte.memcpy &&
           t.byte.memset;
  });
  return t;
}

bool maps_with_map_sync(int fd) {
  const long page = ::sysconf(_SC_PAGESIZE);
  void* p = ::mmap(nullptr, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE,
                   MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
  if (p == MAP_FAILED) return false;
  ::munmap(p, static_cast<std::size_t>(page));
  return true;
}

}  // namespace

std::optional<std::string> prepare_process() {
  static std::once_flag once;
  std::optional<std::string> forced;
  std::call_once(once, [&] {
    if (const char* v = std::getenv(kForceVar)) {
      forced = v;
      ::unsetenv(kForceVar);
    }
    (void)tables();
  });
  return forced;
}

Method needed_method(pmem2_map* map, int fd, bool devdax) noexcept {
  if (std::getenv(kForceVar)) {
    if (devdax) return Method::kCacheFlush;
    return fd >= 0 && maps_with_map_sync(fd) ? Method::kCacheFlush : Method::kMsync;
  }
  switch (pmem2_map_get_store_granularity(map)) {
    case PMEM2_GRANULARITY_BYTE:
      return Method::kFenceOnly;
    case PMEM2_GRANULARITY_CACHE_LINE:
      return Method::kCacheFlush;
    case PMEM2_GRANULARITY_PAGE:
      break;
  }
  return Method::kMsync;
}

std::unique_ptr<Flusher> make_flusher(Method method, int fd) {
  switch (method) {
    case Method::kMsync:
      return std::make_unique<MsyncFlusher>(fd);
    case Method::kCacheFlush:
    case Method::kFenceOnly: {
      const CpuTables& t = tables();
      if (!t.ok) throw std::runtime_error("libpmem2 gave no CPU flush functions");
      return std::make_unique<CpuFlusher>(method == Method::kCacheFlush ? t.cache_line : t.byte,
                                          fd, method);
    }
    case Method::kFdatasync:
    case Method::kSimulated:
      break;
  }
  throw std::invalid_argument("make_flusher: not a method for a mapping");
}

std::unique_ptr<Flusher> make_fdatasync_flusher(int fd) {
  return std::make_unique<FdatasyncFlusher>(fd);
}

}  // namespace tgt_pmem::flush
