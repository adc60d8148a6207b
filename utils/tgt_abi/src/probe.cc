// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/tgt_abi/probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace tgt_pmem::tgt_abi {
namespace {

constexpr std::size_t kMaxOutput = 4096;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Owns a descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The spawn attributes and file actions, destroyed whatever happens.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  bool attr_ok = false, actions_ok = false;
  ~SpawnSetup() {
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
    if (attr_ok) posix_spawnattr_destroy(&attr);
  }
};

// Waits for pid, whatever signals arrive. A tgtd that ignores SIGCHLD has its children reaped
// by the kernel: then waitpid fails with ECHILD once the child is gone, which is fine too.
int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

}  // namespace

ProbeResult tgtd_version(const char* exe, std::chrono::milliseconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(errno_text("pipe", errno));
  Fd read_end(fds[0]), write_end(fds[1]);

  SpawnSetup setup;
  if (posix_spawnattr_init(&setup.attr) != 0) return std::unexpected("posix_spawnattr_init failed");
  setup.attr_ok = true;
  if (posix_spawn_file_actions_init(&setup.actions) != 0) {
    return std::unexpected("posix_spawn_file_actions_init failed");
  }
  setup.actions_ok = true;
  // tgtd may block signals (signalfd) or catch them: the child starts as a fresh process.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  int rc = posix_spawnattr_setsigmask(&setup.attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&setup.attr, &all);
  if (rc == 0) rc = posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // Only the pipe as stdout: none of tgtd's sockets, epoll or lock descriptors.
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), 1);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&setup.actions, 2, "/dev/null", O_WRONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (rc != 0) return std::unexpected(errno_text("posix_spawn setup", rc));

  char* const argv[] = {const_cast<char*>(exe), const_cast<char*>("-V"), nullptr};
  pid_t pid = -1;
  rc = posix_spawn(&pid, exe, &setup.actions, &setup.attr, argv, environ);
  if (rc != 0) return std::unexpected(errno_text("cannot run", rc));
  write_end.reset();  // end of file once the child is gone

  std::string output;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;  // the deadline is checked above
    char buf[512];
    const ssize_t got = ::read(read_end.get(), buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (got == 0) break;  // end of file: the child closed its stdout (exited)
    output.append(buf, static_cast<std::size_t>(got));
    if (output.size() > kMaxOutput) break;  // not tgtd -V: stop reading, kill it below
  }
  read_end.reset();
  if (timed_out || output.size() > kMaxOutput) ::kill(pid, SIGKILL);
  const int status = reap(pid);
  if (timed_out) {
    return std::unexpected("timed out after " + std::to_string(timeout.count()) + " ms");
  }
  if (output.size() > kMaxOutput) return std::unexpected("printed more than 4 KiB");
  if (status >= 0) {
    if (WIFSIGNALED(status)) {
      return std::unexpected("was killed by signal " + std::to_string(WTERMSIG(status)));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      return std::unexpected("exited with status " + std::to_string(WEXITSTATUS(status)));
    }
  }
  return output;
}

}  // namespace tgt_pmem::tgt_abi
