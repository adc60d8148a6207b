// SPDX-License-Identifier: GPL-2.0-only
#include "real_mapping.h"

#include <libpmem2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "tgt_pmem/flush/select.h"

namespace tgt_pmem::crash {

RealMapping::RealMapping(std::uint64_t size, flush::Method method) : size_(size) {
  auto fail = [&](const std::string& what) {
    this->~RealMapping();
    throw std::runtime_error("crash explorer: " + what);
  };
  fd_ = ::memfd_create("tgtpmem-crash", MFD_CLOEXEC);
  if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("memfd");
  if (pmem2_source_from_fd(&src_, fd_) || pmem2_config_new(&cfg_) ||
      pmem2_config_set_required_store_granularity(cfg_, PMEM2_GRANULARITY_PAGE))
    fail(pmem2_errormsg());
  const int rc = pmem2_map_new(&map_, cfg_, src_);
  if (rc) fail(pmem2_errormsg());
  data_ = static_cast<std::byte*>(pmem2_map_get_address(map_));
  // The production flusher for the method: for the CPU methods, libpmem2's functions of that
  // granularity on this (page-granular) mapping, exactly as durability=emulated does.
  flusher_ = flush::make_flusher(method, fd_);
}

RealMapping::~RealMapping() {
  flusher_.reset();
  if (map_) pmem2_map_delete(&map_);
  if (cfg_) pmem2_config_delete(&cfg_);
  if (src_) pmem2_source_delete(&src_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace tgt_pmem::crash
