// SPDX-License-Identifier: GPL-2.0-only
#include "transport.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <thread>
#include <utility>

#include "tgt_pmem/push/client.h"
#include "tgt_pmem/push/protocol.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push::client_detail {
namespace {

using Clock = std::chrono::steady_clock;

std::unexpected<std::error_code> fail_with(std::errc e) {
  return std::unexpected(std::make_error_code(e));
}

constexpr int kWrFlushErr = 5;     // IBV_WC_WR_FLUSH_ERR: a consequence, never the cause
constexpr int kWcGeneralErr = 21;  // IBV_WC_GENERAL_ERR: a failure that came without a status

bool is_flush_error(const std::error_code& ec) { return ec == rdma::completion_error(kWrFlushErr); }

}  // namespace

Transport::Transport(std::unique_ptr<rdma::Connection> connection, std::size_t staging_bytes,
                     std::chrono::milliseconds timeout, IdleHook idle)
    : connection_(std::move(connection)),
      staging_(staging_bytes),
      send_buf_(kMaxMessageSize),
      recv_buf_(kMaxMessageSize),
      timeout_(timeout),
      idle_(std::move(idle)) {}

Transport::~Transport() = default;

Result<std::unique_ptr<Transport>> Transport::make(std::unique_ptr<rdma::Connection> connection,
                                                   std::size_t staging_bytes,
                                                   std::chrono::milliseconds timeout,
                                                   IdleHook idle) {
  // One WRITE or READ moves at most what RemoteBuffer::length can say.
  if (!connection || staging_bytes == 0 || staging_bytes > UINT32_MAX)
    return fail_with(std::errc::invalid_argument);
  std::unique_ptr<Transport> t;
  try {
    t.reset(new Transport(std::move(connection), staging_bytes, timeout, std::move(idle)));
  } catch (const std::bad_alloc&) {
    return fail_with(std::errc::not_enough_memory);
  }
  rdma::Connection& c = *t->connection_;
  // Staging: the source of WRITEs and the target of READs (local write).
  auto staging = c.register_memory(t->staging_.data(), t->staging_.size(), rdma::kLocalWrite);
  if (!staging) return std::unexpected(staging.error());
  t->staging_mr_ = std::move(*staging);
  auto send = c.register_memory(t->send_buf_.data(), t->send_buf_.size(), 0);
  if (!send) return std::unexpected(send.error());
  t->send_mr_ = std::move(*send);
  auto recv = c.register_memory(t->recv_buf_.data(), t->recv_buf_.size(), rdma::kLocalWrite);
  if (!recv) return std::unexpected(recv.error());
  t->recv_mr_ = std::move(*recv);
  return t;
}

Result<void> Transport::usable() const {
  if (broken_) return std::unexpected(make_error_code(ClientError::kBroken));
  return {};
}

void Transport::fail(std::error_code cause) noexcept {
  if (!broken_) broken_ = cause;
  // The QP to the error state: outstanding work flushes, and nothing the target still sends
  // lands in our buffers after we gave up on them.
  connection_->disconnect();
}

void Transport::break_with(std::error_code cause) noexcept { fail(cause); }

Result<void> Transport::posted(Result<void> post, std::uint64_t wr_id, Kind kind) {
  if (!post) {
    // Nothing was queued; what was posted before still completes (wait() reaps it).
    return post;
  }
  try {
    pending_.push_back({wr_id, kind});
  } catch (const std::bad_alloc&) {
    fail(std::make_error_code(std::errc::not_enough_memory));  // a completion we cannot place
    return fail_with(std::errc::not_enough_memory);
  }
  return {};
}

Result<void> Transport::post_write(std::size_t from, rdma::RemoteBuffer dst) {
  if (auto u = usable(); !u) return u;
  if (from > staging_.size() || dst.length > staging_.size() - from)
    return fail_with(std::errc::invalid_argument);
  const rdma::LocalBuffer src{staging_.data() + from, dst.length, staging_mr_->lkey()};
  const std::uint64_t id = next_wr_id_++;
  return posted(connection_->post_rdma_write(id, {&src, 1}, dst), id, Kind::kWrite);
}

Result<void> Transport::post_read(std::size_t to, rdma::RemoteBuffer src) {
  if (auto u = usable(); !u) return u;
  if (to > staging_.size() || src.length > staging_.size() - to)
    return fail_with(std::errc::invalid_argument);
  const rdma::LocalBuffer dst{staging_.data() + to, src.length, staging_mr_->lkey()};
  const std::uint64_t id = next_wr_id_++;
  return posted(connection_->post_rdma_read(id, {&dst, 1}, src), id, Kind::kRead);
}

Result<void> Transport::rdma_flush_available() const {
  if (!flush::remote_method_built(flush::RemoteMethod::kRdmaFlush))
    return std::unexpected(make_error_code(flush::RemoteFlushError::kRdmaFlushNotBuilt));
  if (dynamic_cast<const rdma::FlushCapable*>(connection_.get()) == nullptr)
    return std::unexpected(make_error_code(flush::RemoteFlushError::kRdmaFlushNotOffered));
  return {};
}

Result<void> Transport::post_flush(flush::RemoteMethod method, rdma::RemoteBuffer written) {
  if (auto u = usable(); !u) return u;
  const bool rdma_flush = method == flush::RemoteMethod::kRdmaFlush;
  std::unique_ptr<flush::RemoteFlusher>& flusher = rdma_flush ? rdma_flusher_ : flusher_;
  if (!flusher) {
    auto f = flush::make_remote_flusher(method, *connection_);
    if (!f) return std::unexpected(f.error());
    flusher = std::move(*f);
  }
  const std::uint64_t id = next_wr_id_++;
  return posted(flusher->post(id, written), id, rdma_flush ? Kind::kRdmaFlush : Kind::kFlush);
}

Result<void> Transport::post_request(std::span<const std::byte> message) {
  if (auto u = usable(); !u) return u;
  if (message.empty() || message.size() > send_buf_.size())
    return fail_with(std::errc::message_size);
  reply_len_ = 0;
  const std::uint64_t recv_id = next_wr_id_++;
  const rdma::LocalBuffer rbuf{recv_buf_.data(), static_cast<std::uint32_t>(recv_buf_.size()),
                               recv_mr_->lkey()};
  if (auto r = posted(connection_->post_recv(recv_id, rbuf), recv_id, Kind::kRecv); !r) return r;
  std::memcpy(send_buf_.data(), message.data(), message.size());
  const std::uint64_t send_id = next_wr_id_++;
  const rdma::LocalBuffer sbuf{send_buf_.data(), static_cast<std::uint32_t>(message.size()),
                               send_mr_->lkey()};
  if (auto s = posted(connection_->post_send(send_id, sbuf), send_id, Kind::kSend); !s) {
    // The receive stays posted with no request to answer: the session is out of step.
    fail(s.error());
    return s;
  }
  return {};
}

void Transport::take(const rdma::Completion& c) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.wr_id == c.wr_id; });
  if (it == pending_.end()) return;  // of work abandoned earlier: nothing waits for it
  const Kind kind = it->kind;
  pending_.erase(it);
  Result<void> outcome;
  if (kind == Kind::kFlush && flusher_)
    outcome = flusher_->complete(c);
  else if (kind == Kind::kRdmaFlush && rdma_flusher_)
    outcome = rdma_flusher_->complete(c);
  else if (!c.ok)
    outcome = std::unexpected(
        rdma::completion_error(c.vendor_status != 0 ? c.vendor_status : kWcGeneralErr));
  if (!outcome) {
    // Keep the cause: once one request failed, the others complete with flush errors.
    if (!first_error_ || (is_flush_error(first_error_) && !is_flush_error(outcome.error())))
      first_error_ = outcome.error();
    return;
  }
  if (kind == Kind::kRecv) reply_len_ = std::min<std::size_t>(c.byte_len, recv_buf_.size());
}

Result<void> Transport::wait() {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + timeout_;
  const Clock::time_point spin_until = start + std::min<Clock::duration>(poll_, timeout_);
  std::array<rdma::Completion, 16> batch{};
  while (!pending_.empty()) {
    auto n = connection_->poll(batch);
    if (!n) {
      fail(n.error());
      break;
    }
    for (std::size_t i = 0; i < *n; ++i) take(batch[i]);
    if (pending_.empty() || *n != 0) continue;
    if (Clock::now() < spin_until) continue;  // ClientOptions::poll (0: spin_until is start)

    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      fail(std::make_error_code(std::errc::timed_out));
      break;
    }
    const int fd = connection_->completion_fd();
    if (fd >= 0) {
      // Readable when a completion (or, on an RDMA CM connection, a CM event such as the
      // target's disconnect) is waiting; arm() takes it, poll() above then reaps.
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
      if (r < 0 && errno != EINTR) {
        fail(std::error_code(errno, std::generic_category()));
        break;
      }
      if (r > 0)
        if (auto armed = connection_->arm(); !armed) {
          fail(armed.error());
          break;
        }
    } else if (idle_) {
      idle_();  // a test's peer: it answers here
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (broken_) {
    // Given up: what is still outstanding is the connection's business now (it flushes).
    pending_.clear();
    first_error_.clear();
    return std::unexpected(broken_);
  }
  if (first_error_) {
    const std::error_code cause = std::exchange(first_error_, {});
    fail(cause);
    return std::unexpected(cause);
  }
  return {};
}

}  // namespace tgt_pmem::push::client_detail
