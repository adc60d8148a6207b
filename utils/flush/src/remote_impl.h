// SPDX-License-Identifier: GPL-2.0-only
// The remote flushers behind make_remote_flusher() (remote.cc), one file each. Declared here
// so that unit tests can make each on a fake connection, also the RDMA FLUSH one in a build
// that would not hand it out.
#pragma once

#include <memory>

#include "tgt_pmem/flush/remote.h"

namespace tgt_pmem::flush::detail {

using RemoteFlusherResult = std::expected<std::unique_ptr<RemoteFlusher>, std::error_code>;

// remote_read_after_write.cc. Errors: kNoRdmaRead, the errno of register_memory.
[[nodiscard]] RemoteFlusherResult make_read_after_write_flusher(rdma::Connection& connection);

// remote_rdma_flush.cc: posts through rdma::FlushCapable. Errors: kRdmaFlushNotOffered.
[[nodiscard]] RemoteFlusherResult make_rdma_flush_flusher(rdma::Connection& connection);

// The completion check both share.
[[nodiscard]] Status completion_status(const rdma::Completion& completion) noexcept;

}  // namespace tgt_pmem::flush::detail
