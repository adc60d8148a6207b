// SPDX-License-Identifier: GPL-2.0-only
// The client's error categories (client.h): the target's Status values, and the library's
// own checks.
#include <string>

#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push {
namespace {

class StatusCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "push-status"; }
  std::string message(int value) const override {
    return "the target answered: " + std::string(to_string(static_cast<Status>(value)));
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<Status>(value)) {
      case Status::kNotAdmitted:
      case Status::kAuthFailed:
      case Status::kAccessDenied:
      case Status::kChapRequired:
        return std::errc::permission_denied;
      case Status::kNoSuchLun:
      case Status::kNoSuchHandle:
        return std::errc::no_such_device_or_address;
      case Status::kOutOfRange:
        return std::errc::invalid_argument;
      case Status::kIoError:
        return std::errc::io_error;
      default:
        return {value, *this};
    }
  }
};

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "push-client"; }
  std::string message(int value) const override {
    switch (static_cast<ClientError>(value)) {
      case ClientError::kOutsideRegion:
        return "the range is not inside the region";
      case ClientError::kNotReadable:
        return "the region was registered without read access";
      case ClientError::kNotWritable:
        return "the region was registered without write access";
      case ClientError::kBadReply:
        return "the target's reply does not follow the push protocol";
      case ClientError::kBroken:
        return "the connection failed earlier; connect again";
      case ClientError::kChapUnavailable:
        return "CHAP needs MD5, which this system's OpenSSL does not offer";
      case ClientError::kNotFlushable:
        return "the target did not register the region for RDMA FLUSH";
    }
    return "push client error " + std::to_string(value);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<ClientError>(value)) {
      case ClientError::kOutsideRegion:
        return std::errc::invalid_argument;
      case ClientError::kNotReadable:
      case ClientError::kNotWritable:
        return std::errc::permission_denied;
      case ClientError::kBadReply:
        return std::errc::protocol_error;
      case ClientError::kBroken:
        return std::errc::not_connected;
      case ClientError::kChapUnavailable:
      case ClientError::kNotFlushable:
        return std::errc::not_supported;
    }
    return {value, *this};
  }
};

}  // namespace

const std::error_category& status_category() noexcept {
  static const StatusCategory category;
  return category;
}

std::error_code status_error(Status s) noexcept { return {static_cast<int>(s), status_category()}; }

std::optional<Status> target_status(const std::error_code& ec) noexcept {
  if (ec.category() != status_category()) return std::nullopt;
  return static_cast<Status>(ec.value());
}

const std::error_category& client_category() noexcept {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(ClientError e) noexcept {
  return {static_cast<int>(e), client_category()};
}

std::string_view to_string(FlushMethod m) noexcept {
  switch (m) {
    case FlushMethod::kAuto:
      return "auto";
    case FlushMethod::kReadAfterWrite:
      return "read-after-write";
    case FlushMethod::kRdmaFlush:
      return "rdma-flush";
  }
  return "unknown";
}

}  // namespace tgt_pmem::push
