// SPDX-License-Identifier: GPL-2.0-only
// push::completion_category() (client.h): the one rdma::completion_category() object the
// library's errors carry. Out of line so that an application linking libtgtpmem-push.so
// compares with the library's object, not with an inline copy of its own (error categories
// compare by address, and the shared library keeps its inline functions hidden).
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push {

const std::error_category& completion_category() noexcept { return rdma::completion_category(); }

}  // namespace tgt_pmem::push
