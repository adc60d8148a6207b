// SPDX-License-Identifier: GPL-2.0-only
#include "media_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace tgt_pmem::bs {

namespace {

struct Frame {
  sigjmp_buf env;
  std::uintptr_t lo;
  std::uintptr_t hi;
  Frame* prev;
  // Written by the walk before each chunk and by the handler, read after siglongjmp.
  volatile std::size_t chunk_done;
  volatile std::uintptr_t fault_addr;
  volatile std::size_t fault_granule;
};

// Initial-exec TLS: the handler reads these with one %fs-relative load, no __tls_get_addr
// (which may allocate, and so is not async-signal-safe, in a dlopen()ed module such as
// bs_pmem.so). Two words of the static TLS surplus glibc keeps for dlopen()ed modules.
[[gnu::tls_model("initial-exec")]] constinit thread_local Frame* t_frame = nullptr;
[[gnu::tls_model("initial-exec")]] constinit thread_local bool t_unblocked = false;

struct sigaction g_previous;  // written once, before our handler can run
std::size_t g_page_size = 4096;

bool is_memory_fault(int code) {
  return code == BUS_ADRERR || code == BUS_OBJERR || code == BUS_MCEERR_AR;
}

// A SIGBUS that is not ours: do what would have happened without us.
void chain(int sig, siginfo_t* si, void* uctx) {
  const struct sigaction& p = g_previous;
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) {
      p.sa_sigaction(sig, si, uctx);
      return;
    }
  } else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) {
    p.sa_handler(sig);
    return;
  }
  // Default action (a fault cannot really be ignored: the kernel forces the default). Put
  // the previous disposition back; a fault then happens again on return and terminates the
  // process with the faulting context intact; a signal sent by kill(2) is raised again.
  ::sigaction(sig, &p, nullptr);
  if (si->si_code <= 0) ::raise(sig);
}

void on_sigbus(int sig, siginfo_t* si, void* uctx) {
  if (si->si_code > 0 && is_memory_fault(si->si_code)) {
    const auto addr = reinterpret_cast<std::uintptr_t>(si->si_addr);
    for (Frame* f = t_frame; f; f = f->prev) {
      if (addr < f->lo || addr >= f->hi) continue;
      std::size_t granule = g_page_size;
      if (si->si_code == BUS_MCEERR_AR) {
        const int lsb = std::clamp<int>(si->si_addr_lsb, 6, 30);
        granule = std::size_t{1} << lsb;
      }
      f->fault_addr = addr;
      f->fault_granule = granule;
      t_frame = f->prev;
      siglongjmp(f->env, 1);  // SA_NODEFER: SIGBUS was not blocked, the mask needs no restore
    }
  }
  chain(sig, si, uctx);
}

bool install() noexcept {
  const long ps = ::sysconf(_SC_PAGESIZE);
  if (ps > 0) g_page_size = static_cast<std::size_t>(ps);
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  // Read the previous disposition first: it must be complete before our handler can run.
  if (::sigaction(SIGBUS, nullptr, &g_previous) != 0) return false;
  return ::sigaction(SIGBUS, &sa, nullptr) == 0;
}

// The kernel terminates the process for a fault whose signal the thread blocks, whatever the
// handler; tgt's bs_thread workers block every signal.
void unblock_sigbus_once() noexcept {
  if (t_unblocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGBUS);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  t_unblocked = true;
}

}  // namespace

bool install_media_guard() noexcept {
  static const bool installed = install();
  return installed;
}

namespace {

std::size_t chunk_len(std::uintptr_t addr, std::size_t left, std::size_t chunk) {
  if (chunk == SIZE_MAX) return left;
  return std::min(left, chunk - (addr & (chunk - 1)));
}

// The part of the walk after sigsetjmp, out of line so that nothing it keeps in registers
// needs to survive the siglongjmp (-Wclobbered): only the frame's volatile fields do.
[[gnu::noinline]] bool run_steps(Frame& frame, std::byte* begin, std::size_t len,
                                 GuardedStep step, void* ctx, std::size_t chunk) noexcept {
  t_frame = &frame;
  // Compiler barrier: the frame is published before the first access it guards.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  bool completed = true;
  for (std::size_t done = 0; done < len;) {
    const std::size_t n = chunk_len(reinterpret_cast<std::uintptr_t>(begin + done), len - done, chunk);
    frame.chunk_done = done;
    if (!step(ctx, begin + done, n, done)) {
      completed = false;
      break;
    }
    done += n;
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_frame = frame.prev;
  return completed;
}

}  // namespace

GuardedWalk guarded_walk(std::byte* begin, std::size_t len, GuardedStep step, void* ctx,
                         std::size_t chunk) noexcept {
  if (len == 0) return {};
  if (!install_media_guard()) {
    // No handler: walk unguarded (a fault then behaves as it would without this module).
    for (std::size_t done = 0; done < len;) {
      const std::size_t n =
          chunk_len(reinterpret_cast<std::uintptr_t>(begin + done), len - done, chunk);
      if (!step(ctx, begin + done, n, done)) return {GuardedWalk::End::kStopped};
      done += n;
    }
    return {};
  }
  unblock_sigbus_once();

  Frame frame;
  frame.lo = reinterpret_cast<std::uintptr_t>(begin);
  frame.hi = frame.lo + len;
  frame.prev = t_frame;
  frame.chunk_done = 0;
  frame.fault_addr = 0;
  frame.fault_granule = 0;
  // savemask 0: no system call per walk; SA_NODEFER leaves the mask unchanged by a fault.
  if (sigsetjmp(frame.env, 0) == 0) {
    if (run_steps(frame, begin, len, step, ctx, chunk)) return {};
    return {GuardedWalk::End::kStopped};
  }
  // Here from the handler, which has already unlinked the frame.
  GuardedWalk r;
  const std::uintptr_t g = frame.fault_granule;
  const std::uintptr_t addr = frame.fault_addr;
  r.end = GuardedWalk::End::kFault;
  r.granule_begin = addr & ~(g - 1);
  r.granule_end = r.granule_begin + g;
  const std::size_t in_walk = r.granule_begin > frame.lo ? r.granule_begin - frame.lo : 0;
  const std::size_t chunk_done = frame.chunk_done;
  r.fault_offset = std::max(chunk_done, in_walk);
  return r;
}

}  // namespace tgt_pmem::bs
