// SPDX-License-Identifier: GPL-2.0-only
// Choosing a remote flusher, and the errors of that choice.
#include "tgt_pmem/flush/remote.h"

#include <string>

#include "remote_impl.h"
#include "tgt_pmem/rdma/completion_error.h"

// Set by CMakeLists.txt from a compile check of ibv_wr_flush in infiniband/verbs.h.
#ifndef TGTPMEM_HAVE_IBV_WR_FLUSH
#define TGTPMEM_HAVE_IBV_WR_FLUSH 0
#endif
#ifndef TGTPMEM_IBVERBS_VERSION
#define TGTPMEM_IBVERBS_VERSION "unknown"
#endif

namespace tgt_pmem::flush {
namespace {

class RemoteFlushCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "remote-flush"; }
  std::string message(int e) const override {
    switch (static_cast<RemoteFlushError>(e)) {
      case RemoteFlushError::kRdmaFlushNotBuilt:
        return "RDMA FLUSH is not available: tgt-pmem was built against "
               "libibverbs " TGTPMEM_IBVERBS_VERSION
               ", which has no ibv_wr_flush (rdma-core 45 or newer needed); use read-after-write";
      case RemoteFlushError::kRdmaFlushNotOffered:
        return "RDMA FLUSH is not available: this connection cannot post it";
      case RemoteFlushError::kNoRdmaRead:
        return "read-after-write is not available: the target allows this connection no RDMA READ";
    }
    return "remote flush error " + std::to_string(e);
  }
  std::error_condition default_error_condition(int) const noexcept override {
    return std::errc::not_supported;
  }
};

}  // namespace

std::string_view to_string(RemoteMethod method) noexcept {
  switch (method) {
    case RemoteMethod::kReadAfterWrite:
      return "read-after-write";
    case RemoteMethod::kRdmaFlush:
      return "rdma-flush";
  }
  return "unknown";
}

const std::error_category& remote_flush_category() noexcept {
  static const RemoteFlushCategory category;
  return category;
}

std::error_code make_error_code(RemoteFlushError e) noexcept {
  return {static_cast<int>(e), remote_flush_category()};
}

bool remote_method_built(RemoteMethod method) noexcept {
  return method == RemoteMethod::kReadAfterWrite || TGTPMEM_HAVE_IBV_WR_FLUSH != 0;
}

std::expected<std::unique_ptr<RemoteFlusher>, std::error_code> make_remote_flusher(
    RemoteMethod method, rdma::Connection& connection) {
  switch (method) {
    case RemoteMethod::kReadAfterWrite:
      return detail::make_read_after_write_flusher(connection);
    case RemoteMethod::kRdmaFlush:
      if (!remote_method_built(method))
        return std::unexpected(make_error_code(RemoteFlushError::kRdmaFlushNotBuilt));
      return detail::make_rdma_flush_flusher(connection);
  }
  return std::unexpected(std::make_error_code(std::errc::invalid_argument));
}

namespace detail {

Status completion_status(const rdma::Completion& completion) noexcept {
  if (completion.ok) return {};
  // A failed completion without a status would read as success: never report that.
  return std::unexpected(rdma::completion_error(
      completion.vendor_status != 0 ? completion.vendor_status : 21));  // IBV_WC_GENERAL_ERR
}

}  // namespace detail
}  // namespace tgt_pmem::flush
