// SPDX-License-Identifier: GPL-2.0-only
// An outgoing RDMA connection made on a thread of its own (background_connect.h).
#include "tgt_pmem/rdma_host/background_connect.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace tgt_pmem::rdma_host {

// What the attempt's thread and the loop share. The eventfd is closed by whichever side is
// last: the loop once it took the result, or the thread when the loop abandoned it.
struct BackgroundConnect::Shared {
  std::mutex mutex;
  int efd = -1;
  bool abandoned = false;
  bool finished = false;
  std::optional<Result> result;
};

std::expected<std::unique_ptr<BackgroundConnect>, std::error_code> BackgroundConnect::start(
    Loop& loop, Work work, Done done) {
  auto shared = std::make_shared<Shared>();
  shared->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared->efd < 0) return std::unexpected(std::error_code(errno, std::generic_category()));
  std::unique_ptr<BackgroundConnect> self(new BackgroundConnect(loop, shared, std::move(done)));
  if (int rc = loop.watch(shared->efd, [p = self.get()] { p->on_ready(); }); rc < 0) {
    ::close(shared->efd);
    shared->efd = -1;
    return std::unexpected(std::error_code(-rc, std::generic_category()));
  }
  try {
    std::thread([shared, work = std::move(work)] {
      Result r = work();
      std::lock_guard lock(shared->mutex);
      shared->finished = true;
      if (shared->abandoned) {
        ::close(shared->efd);
        return;  // r, and the connection in it, go with this thread
      }
      shared->result = std::move(r);
      const std::uint64_t one = 1;
      (void)!::write(shared->efd, &one, sizeof one);
    }).detach();
  } catch (const std::system_error&) {
    loop.unwatch(shared->efd);
    ::close(shared->efd);
    shared->efd = -1;
    return std::unexpected(std::make_error_code(std::errc::resource_unavailable_try_again));
  }
  return self;
}

BackgroundConnect::BackgroundConnect(Loop& loop, std::shared_ptr<Shared> shared, Done done)
    : loop_(loop), shared_(std::move(shared)), done_(std::move(done)) {}

BackgroundConnect::~BackgroundConnect() {
  if (!shared_ || shared_->efd < 0) return;
  loop_.unwatch(shared_->efd);
  std::optional<Result> result;  // destroyed outside the lock
  std::lock_guard lock(shared_->mutex);
  if (shared_->finished) {
    ::close(shared_->efd);
    result = std::move(shared_->result);
  } else {
    shared_->abandoned = true;  // the thread closes the eventfd
  }
  shared_->efd = -1;
}

void BackgroundConnect::on_ready() {
  std::optional<Result> result;
  {
    std::lock_guard lock(shared_->mutex);
    if (!shared_->finished || !shared_->result) return;
    std::uint64_t n;
    (void)!::read(shared_->efd, &n, sizeof n);
    result = std::move(shared_->result);
    shared_->result.reset();
  }
  // Unwatched and closed before done runs: done may destroy this object.
  loop_.unwatch(shared_->efd);
  ::close(shared_->efd);
  shared_->efd = -1;
  Done done = std::move(done_);
  done(std::move(*result));
}

}  // namespace tgt_pmem::rdma_host
