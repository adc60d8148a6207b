// SPDX-License-Identifier: GPL-2.0-only
// Read-after-write: an RDMA READ of the written range's last bytes, posted after the WRITEs
// on the same queue pair. Why its completion means "placed", and when "placed" means
// "durable": see remote.h.
#include <algorithm>
#include <array>
#include <new>

#include "remote_impl.h"

namespace tgt_pmem::flush::detail {
namespace {

// The READ fetches at most this much: a round trip costs the same for 1 or 8 bytes, and
// reading the range's own last bytes keeps the READ inside what the rkey covers and on the
// same path to memory as the WRITEs' data.
constexpr std::uint32_t kReadBytes = 8;

class ReadAfterWriteFlusher final : public RemoteFlusher {
 public:
  explicit ReadAfterWriteFlusher(rdma::Connection& connection) : connection_(connection) {}

  // Registration is a separate step: the buffer's address must not move after it.
  Status register_buffer() {
    auto mr = connection_.register_memory(sink_.data(), sink_.size(), rdma::kLocalWrite);
    if (!mr) return std::unexpected(mr.error());
    mr_ = std::move(*mr);
    return {};
  }

  RemoteMethod method() const noexcept override { return RemoteMethod::kReadAfterWrite; }

  Status post(std::uint64_t wr_id, rdma::RemoteBuffer written) override {
    if (written.length == 0)
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    const std::uint32_t n = std::min(written.length, kReadBytes);
    const rdma::RemoteBuffer last{written.addr + (written.length - n), written.rkey, n};
    // Several flushes may be outstanding at once: they all land in the one sink, whose
    // contents nobody looks at.
    const rdma::LocalBuffer sink{sink_.data(), n, mr_->lkey()};
    return connection_.post_rdma_read(wr_id, {&sink, 1}, last);
  }

  Status complete(const rdma::Completion& completion) const override {
    return completion_status(completion);
  }

 private:
  rdma::Connection& connection_;
  std::array<std::byte, kReadBytes> sink_{};
  std::unique_ptr<rdma::MemoryRegion> mr_;  // after sink_: deregistered before it goes
};

}  // namespace

RemoteFlusherResult make_read_after_write_flusher(rdma::Connection& connection) {
  if (connection.limits().rdma_read_depth == 0)
    return std::unexpected(make_error_code(RemoteFlushError::kNoRdmaRead));
  std::unique_ptr<ReadAfterWriteFlusher> f;
  try {
    f = std::make_unique<ReadAfterWriteFlusher>(connection);
  } catch (const std::bad_alloc&) {
    return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  }
  if (auto registered = f->register_buffer(); !registered)
    return std::unexpected(registered.error());
  return f;
}

}  // namespace tgt_pmem::flush::detail
