// SPDX-License-Identifier: GPL-2.0-only
#include "guarded.h"

#include <csetjmp>
#include <csignal>
#include <cstring>

namespace tgt_pmem::admin {

namespace {

thread_local sigjmp_buf* t_jump = nullptr;
thread_local const void* t_fault = nullptr;

void on_sigbus(int sig, siginfo_t* info, void*) {
  if (t_jump == nullptr) {  // not ours: die as we would have without the guard
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  t_fault = info->si_addr;
  siglongjmp(*t_jump, 1);
}

struct ScanJob {
  const unsigned char* p;
  std::size_t n;
  std::size_t found;  // index of the first non-zero byte, or n
};

void scan(void* arg) {
  auto* job = static_cast<ScanJob*>(arg);
  std::size_t i = 0;
  // Word at a time; the tail byte by byte.
  for (; i + sizeof(std::uint64_t) <= job->n; i += sizeof(std::uint64_t)) {
    std::uint64_t w;
    std::memcpy(&w, job->p + i, sizeof w);
    if (w != 0) break;
  }
  for (; i < job->n; ++i) {
    if (job->p[i] != 0) break;
  }
  job->found = i;
}

struct ZeroJob {
  std::byte* p;
  std::size_t n;
  flush::Flusher* flusher;
  int error;  // errno of the flusher, 0 if none
};

void zero(void* arg) {
  auto* job = static_cast<ZeroJob*>(arg);
  if (auto s = job->flusher->fill_and_flush(job->p, 0, job->n); !s) {
    job->error = s.error().value();
    return;
  }
  if (auto s = job->flusher->drain(); !s) job->error = s.error().value();
}

}  // namespace

std::optional<const void*> run_guarded(void (*fn)(void*), void* arg) {
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old);
  sigjmp_buf jump;
  std::optional<const void*> fault;
  if (sigsetjmp(jump, 1) == 0) {
    t_jump = &jump;
    fn(arg);
  } else {
    fault = t_fault;
  }
  t_jump = nullptr;
  sigaction(SIGBUS, &old, nullptr);
  return fault;
}

std::expected<std::optional<std::uint64_t>, std::string> find_nonzero(
    std::span<const std::byte> bytes, std::uint64_t begin, std::uint64_t end) {
  ScanJob job{reinterpret_cast<const unsigned char*>(bytes.data()) + begin, end - begin, 0};
  if (auto fault = run_guarded(scan, &job)) {
    const auto off = static_cast<std::uint64_t>(static_cast<const std::byte*>(*fault) - bytes.data());
    return std::unexpected("SIGBUS reading offset " + std::to_string(off) +
                           " (a bad block, or the file was truncated)");
  }
  if (job.found == job.n) return std::nullopt;
  return begin + job.found;
}

std::expected<void, std::string> zero_range(std::span<std::byte> bytes, std::uint64_t begin,
                                            std::uint64_t end, flush::Flusher& flusher) {
  ZeroJob job{bytes.data() + begin, end - begin, &flusher, 0};
  if (auto fault = run_guarded(zero, &job)) {
    const auto off = static_cast<std::uint64_t>(static_cast<const std::byte*>(*fault) - bytes.data());
    return std::unexpected("SIGBUS writing offset " + std::to_string(off) +
                           " (a bad block, or the file was truncated)");
  }
  if (job.error != 0)
    return std::unexpected(std::string("cannot make the zeros durable: ") + std::strerror(job.error));
  return {};
}

}  // namespace tgt_pmem::admin
