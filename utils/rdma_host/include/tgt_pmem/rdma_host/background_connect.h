// SPDX-License-Identifier: GPL-2.0-only
// An outgoing RDMA connection made without blocking tgtd's loop. rdma::connect() blocks for
// address and route resolution and the CM handshake (up to its timeout); a module inside tgtd
// that connects out (the mirror primary, issue 16) runs it here, on a thread of its own, and
// gets the result on the loop through an eventfd the loop watches.
//
// Lifetime: destroying a BackgroundConnect never blocks. An attempt still running is
// abandoned: its thread finishes alone and destroys the connection it made, and the callback
// is never called.
//
// Threading: start(), the callback and the destructor on the loop's thread; `work` on the
// attempt's own thread (it must not touch the loop's state). Typically `work` is a call of
// rdma::connect(); rdma_host itself stays on the verbs seam, so tests give any function.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <system_error>

#include "tgt_pmem/rdma/connection.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::rdma_host {

class BackgroundConnect {
 public:
  using Result = std::expected<std::unique_ptr<rdma::Connection>, std::error_code>;
  using Work = std::function<Result()>;
  using Done = std::function<void(Result)>;

  // Runs work on a new thread; done(its result) is called once, on the loop. Errors (nothing
  // started, done never called): the errno of eventfd(2), of the loop's watch, EAGAIN when no
  // thread can be made.
  [[nodiscard]] static std::expected<std::unique_ptr<BackgroundConnect>, std::error_code> start(
      Loop& loop, Work work, Done done);
  ~BackgroundConnect();
  BackgroundConnect(const BackgroundConnect&) = delete;
  BackgroundConnect& operator=(const BackgroundConnect&) = delete;

 private:
  struct Shared;
  BackgroundConnect(Loop& loop, std::shared_ptr<Shared> shared, Done done);
  void on_ready();

  Loop& loop_;
  std::shared_ptr<Shared> shared_;
  Done done_;
};

}  // namespace tgt_pmem::rdma_host
