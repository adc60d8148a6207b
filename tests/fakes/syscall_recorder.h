// SPDX-License-Identifier: GPL-2.0-only
// msync(2) and fdatasync(2), interposed for the test executable that includes this header
// (in exactly one of its files): every call is recorded, and the test can make the next ones
// fail. The real call is made otherwise (dlsym RTLD_NEXT). Code linked statically into the
// executable (the flush library, the engine) calls these, so a test sees the system calls the
// production code really makes: checking the calls, not reading data back through the very
// page cache that msync is supposed to write out, is what proves a flush.
#pragma once

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tgt_pmem::testing {

struct SyscallRecord {
  enum Kind { kMsync, kFdatasync } kind;
  std::uintptr_t addr = 0;
  std::size_t len = 0;
  int flags = 0;
  int fd = -1;
  bool failed = false;
};

class SyscallRecorder {
 public:
  static SyscallRecorder& get() {
    static SyscallRecorder r;
    return r;
  }
  void clear() {
    std::lock_guard lock(mu_);
    calls_.clear();
    fail_next_ = 0;
    errno_ = EIO;
  }
  // The next n calls (of either kind) fail with err and do nothing.
  void fail_next(int n, int err = EIO) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
    errno_ = err;
  }
  std::vector<SyscallRecord> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // True if a successful msync(MS_SYNC) covered [addr, addr + len) whole.
  bool msynced(const void* addr, std::size_t len) {
    std::lock_guard lock(mu_);
    const auto lo = reinterpret_cast<std::uintptr_t>(addr);
    for (const auto& c : calls_)
      if (c.kind == SyscallRecord::kMsync && !c.failed && (c.flags & MS_SYNC) && c.addr <= lo &&
          c.addr + c.len >= lo + len)
        return true;
    return false;
  }

  // Called by the interposed functions: records; returns the errno to fail with, or 0.
  int enter(SyscallRecord r) {
    std::lock_guard lock(mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      r.failed = true;
      calls_.push_back(r);
      return errno_;
    }
    calls_.push_back(r);
    return 0;
  }

 private:
  std::mutex mu_;
  std::vector<SyscallRecord> calls_;
  int fail_next_ = 0;
  int errno_ = EIO;
};

}  // namespace tgt_pmem::testing

extern "C" int msync(void* addr, size_t len, int flags) {
  using Fn = int (*)(void*, size_t, int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "msync"));
  tgt_pmem::testing::SyscallRecord r{tgt_pmem::testing::SyscallRecord::kMsync};
  r.addr = reinterpret_cast<std::uintptr_t>(addr);
  r.len = len;
  r.flags = flags;
  if (const int e = tgt_pmem::testing::SyscallRecorder::get().enter(r)) {
    errno = e;
    return -1;
  }
  return real(addr, len, flags);
}

extern "C" int fdatasync(int fd) {
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fdatasync"));
  tgt_pmem::testing::SyscallRecord r{tgt_pmem::testing::SyscallRecord::kFdatasync};
  r.fd = fd;
  if (const int e = tgt_pmem::testing::SyscallRecorder::get().enter(r)) {
    errno = e;
    return -1;
  }
  return real(fd);
}
