// SPDX-License-Identifier: GPL-2.0-only
// RDMA FLUSH (IBTA Memory Placement Extensions): the target's NIC makes the range
// persistent before it answers. Posted through rdma::FlushCapable, the capability a
// connection offers when its QP was made for it; make_remote_flusher() hands this flusher
// out only in a build whose libibverbs has ibv_wr_flush (see remote.h).
#include <new>

#include "remote_impl.h"

namespace tgt_pmem::flush::detail {
namespace {

class RdmaFlushFlusher final : public RemoteFlusher {
 public:
  explicit RdmaFlushFlusher(rdma::FlushCapable& connection) : connection_(connection) {}

  RemoteMethod method() const noexcept override { return RemoteMethod::kRdmaFlush; }

  Status post(std::uint64_t wr_id, rdma::RemoteBuffer written) override {
    if (written.length == 0)
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    return connection_.post_rdma_flush(wr_id, written);
  }

  Status complete(const rdma::Completion& completion) const override {
    return completion_status(completion);
  }

 private:
  rdma::FlushCapable& connection_;
};

}  // namespace

RemoteFlusherResult make_rdma_flush_flusher(rdma::Connection& connection) {
  auto* capable = dynamic_cast<rdma::FlushCapable*>(&connection);
  if (capable == nullptr)
    return std::unexpected(make_error_code(RemoteFlushError::kRdmaFlushNotOffered));
  try {
    return std::make_unique<RdmaFlushFlusher>(*capable);
  } catch (const std::bad_alloc&) {
    return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  }
}

}  // namespace tgt_pmem::flush::detail
