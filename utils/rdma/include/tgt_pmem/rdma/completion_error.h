// SPDX-License-Identifier: GPL-2.0-only
// Unsuccessful work completions (Completion::vendor_status, an enum ibv_wc_status) as
// std::error_code, so that code reporting them says what happened in words and callers can
// compare with portable conditions:
//   IBV_WC_REM_ACCESS_ERR -> std::errc::permission_denied ("the target refused the access")
//   IBV_WC_RETRY_EXC_ERR, IBV_WC_RNR_RETRY_EXC_ERR -> std::errc::timed_out
//   IBV_WC_WR_FLUSH_ERR -> std::errc::connection_aborted
// Header-only (no libibverbs needed): the values are those of enum ibv_wc_status, which is
// part of the verbs ABI (tests/unit/flush/remote_test.cc checks them against verbs.h).
#pragma once

#include <string>
#include <system_error>

namespace tgt_pmem::rdma {

namespace completion_detail {

class CompletionCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "rdma-completion"; }

  std::string message(int status) const override {
    switch (status) {
      case 0:
        return "success";
      case 1:  // IBV_WC_LOC_LEN_ERR
        return "local length error: a message did not fit the receive buffer";
      case 2:  // IBV_WC_LOC_QP_OP_ERR
        return "local QP operation error";
      case 4:  // IBV_WC_LOC_PROT_ERR
        return "local protection error: a local buffer is not registered as used";
      case 5:  // IBV_WC_WR_FLUSH_ERR
        return "work request flushed: the connection failed or was disconnected";
      case 7:  // IBV_WC_BAD_RESP_ERR
        return "bad response from the target";
      case 8:  // IBV_WC_LOC_ACCESS_ERR
        return "local access error";
      case 9:  // IBV_WC_REM_INV_REQ_ERR
        return "remote invalid request: the target cannot serve this operation";
      case 10:  // IBV_WC_REM_ACCESS_ERR
        return "remote access error: the target refused the access";
      case 11:  // IBV_WC_REM_OP_ERR
        return "remote operation error";
      case 12:  // IBV_WC_RETRY_EXC_ERR
        return "transport retries exceeded: the target does not answer";
      case 13:  // IBV_WC_RNR_RETRY_EXC_ERR
        return "receiver-not-ready retries exceeded: the target posts no receive";
      case 16:  // IBV_WC_REM_ABORT_ERR
        return "remote abort";
      case 19:  // IBV_WC_FATAL_ERR
        return "fatal device error";
      case 20:  // IBV_WC_RESP_TIMEOUT_ERR
        return "response timeout";
      default:
        return "work completion status " + std::to_string(status);
    }
  }

  std::error_condition default_error_condition(int status) const noexcept override {
    switch (status) {
      case 10:
        return std::errc::permission_denied;
      case 12:
      case 13:
      case 20:
        return std::errc::timed_out;
      case 5:
        return std::errc::connection_aborted;
      default:
        return {status, *this};
    }
  }
};

}  // namespace completion_detail

// The category of completion errors; one instance per program.
[[nodiscard]] inline const std::error_category& completion_category() noexcept {
  static const completion_detail::CompletionCategory category;
  return category;
}

// The error of an unsuccessful completion (vendor_status != 0).
[[nodiscard]] inline std::error_code completion_error(int vendor_status) noexcept {
  return {vendor_status, completion_category()};
}

}  // namespace tgt_pmem::rdma
