// SPDX-License-Identifier: GPL-2.0-only
// The client's data path on one connection: the registered buffers (staging for RDMA
// WRITE/READ, one send and one receive buffer for messages), posting, and the one place that
// waits for completions, with a deadline. Private to the client library (push_client.cc
// speaks the protocol on top of it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "tgt_pmem/flush/remote.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::push::client_detail {

template <class T>
using Result = std::expected<T, std::error_code>;

class Transport {
 public:
  using IdleHook = std::function<void()>;

  // Registers the buffers with connection. Errors: the errno of register_memory.
  [[nodiscard]] static Result<std::unique_ptr<Transport>> make(
      std::unique_ptr<rdma::Connection> connection, std::size_t staging_bytes,
      std::chrono::milliseconds timeout, IdleHook idle);

  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  [[nodiscard]] rdma::Connection& connection() noexcept { return *connection_; }
  [[nodiscard]] std::span<std::byte> staging() noexcept { return staging_; }

  // ClientError::kBroken once an error broke the connection.
  [[nodiscard]] Result<void> usable() const;
  [[nodiscard]] bool broken() const noexcept { return static_cast<bool>(broken_); }
  // Breaks the connection for good (a bad reply): the QP goes to the error state.
  void break_with(std::error_code cause) noexcept;

  // --- Posting: nothing waits; wait() collects what was posted. ---------------------------
  // RDMA WRITE of staging()[from, from + dst.length) to dst.
  [[nodiscard]] Result<void> post_write(std::size_t from, rdma::RemoteBuffer dst);
  // RDMA READ of src into staging()[to, to + src.length).
  [[nodiscard]] Result<void> post_read(std::size_t to, rdma::RemoteBuffer src);
  // The remote flush of written with method (flush/remote.h), its flusher made on first use.
  // Read-after-write reads written (pass the range's tail); RDMA FLUSH flushes it.
  [[nodiscard]] Result<void> post_flush(flush::RemoteMethod method, rdma::RemoteBuffer written);
  // Whether RDMA FLUSH can be posted on this connection: ok, or flush::RemoteFlushError
  // kRdmaFlushNotBuilt / kRdmaFlushNotOffered.
  [[nodiscard]] Result<void> rdma_flush_available() const;
  // A request: a receive for its reply first (the protocol's rule), then the SEND.
  // Errors: EMSGSIZE for a message longer than kMaxMessageSize.
  [[nodiscard]] Result<void> post_request(std::span<const std::byte> message);

  // Waits until everything posted has completed, or the timeout. The first failure is
  // returned (the cause, not the flush errors it led to) and breaks the connection, as do a
  // timeout (ETIMEDOUT; the QP is moved to the error state so nothing lands in our buffers
  // later) and a failure of poll()/arm().
  [[nodiscard]] Result<void> wait();
  // wait() polls this long before it sleeps on the completion fd (ClientOptions::poll).
  void set_poll(std::chrono::microseconds poll) noexcept { poll_ = poll; }

  // The last message received (valid until the next post_request).
  [[nodiscard]] std::span<const std::byte> reply() const noexcept {
    return std::span<const std::byte>(recv_buf_).first(reply_len_);
  }

 private:
  enum class Kind : std::uint8_t { kWrite, kRead, kFlush, kRdmaFlush, kSend, kRecv };
  struct Pending {
    std::uint64_t wr_id;
    Kind kind;
  };

  Transport(std::unique_ptr<rdma::Connection> connection, std::size_t staging_bytes,
            std::chrono::milliseconds timeout, IdleHook idle);
  [[nodiscard]] Result<void> posted(Result<void> post, std::uint64_t wr_id, Kind kind);
  void take(const rdma::Completion& c);
  void fail(std::error_code cause) noexcept;

  // Creation order: the connection outlives the buffers' registrations and the flusher.
  std::unique_ptr<rdma::Connection> connection_;
  std::vector<std::byte> staging_;
  std::vector<std::byte> send_buf_;
  std::vector<std::byte> recv_buf_;
  std::unique_ptr<rdma::MemoryRegion> staging_mr_;
  std::unique_ptr<rdma::MemoryRegion> send_mr_;
  std::unique_ptr<rdma::MemoryRegion> recv_mr_;
  std::unique_ptr<flush::RemoteFlusher> flusher_;        // read-after-write
  std::unique_ptr<flush::RemoteFlusher> rdma_flusher_;  // RDMA FLUSH

  std::chrono::milliseconds timeout_;
  std::chrono::microseconds poll_{0};
  IdleHook idle_;
  std::uint64_t next_wr_id_ = 1;
  std::vector<Pending> pending_;
  std::error_code first_error_;  // of the work being waited for
  std::error_code broken_;
  std::size_t reply_len_ = 0;
};

}  // namespace tgt_pmem::push::client_detail
