// SPDX-License-Identifier: GPL-2.0-only
// An application of libtgtpmem-push, as a user would write it: one include, one library.
// package_test.sh and package_rpm_test.sh compile it with
//   g++ -std=c++2b $(pkg-config --cflags tgtpmem-push) -o app app.cc $(pkg-config --libs tgtpmem-push)
// against the installed packages only; CTest (push_client_library) links it to the build
// tree's shared library. It needs no target and no RDMA device: connect() must fail cleanly
// and say why (no device: ENODEV; with one, nothing listens on the port), and the error
// categories, Status values and protocol functions the header declares must come from the
// library. Prints one line per check; exit status 0 only if all passed.
#include <tgt_pmem/push/client.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace push = tgt_pmem::push;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s - %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

bool host_has_rdma_device() {
  std::error_code ec;
  return std::filesystem::exists("/sys/class/infiniband", ec) &&
         !std::filesystem::is_empty("/sys/class/infiniband", ec);
}

}  // namespace

int main(int argc, char** argv) {
  push::ClientOptions options;
  options.address = "127.0.0.1";
  options.port = argc > 1 ? static_cast<std::uint16_t>(std::atoi(argv[1])) : 5566;
  options.initiator_name = "iqn.2026-11.org.example:app";
  options.target_name = "iqn.2026-11.org.example:pmem";
  options.lun = 1;
  options.timeout = std::chrono::milliseconds(500);

  // --- connect() without a target ------------------------------------------------------------
  auto client = push::Client::connect(options);
  check(!client.has_value(), "connect to 127.0.0.1:" + std::to_string(options.port) + " fails");
  if (!client.has_value()) {
    const std::error_code ec = client.error();
    std::printf("     connect: %s (%s %d)\n", ec.message().c_str(), ec.category().name(), ec.value());
    if (host_has_rdma_device()) {
      check(ec == std::errc::connection_refused || ec == std::errc::timed_out ||
                ec == std::errc::host_unreachable || ec == std::errc::no_such_device,
            "with an RDMA device: refused, unreachable or timed out");
    } else {
      check(ec == std::errc::no_such_device, "without an RDMA device: ENODEV");
    }
    check(!ec.message().empty(), "the error says why");
  }
  options.address = "target.example";
  auto named = push::Client::connect(options);
  check(!named.has_value() && named.error() == std::errc::invalid_argument,
        "a non-numeric address: EINVAL");

  // --- the error categories ------------------------------------------------------------------
  const std::error_code refused = push::status_error(push::Status::kNoSuchLun);
  check(refused.category() == push::status_category() &&
            push::target_status(refused) == push::Status::kNoSuchLun &&
            refused == std::errc::no_such_device_or_address,
        "status_error(kNoSuchLun): " + refused.message());
  check(refused.message() == "the target answered: " +
                                 std::string(push::to_string(push::Status::kNoSuchLun)),
        "to_string(Status) from the library");
  check(!push::target_status(std::make_error_code(std::errc::io_error)).has_value(),
        "target_status of another category: none");
  const std::error_code broken = push::ClientError::kBroken;
  check(broken.category() == push::client_category() && broken == std::errc::not_connected,
        "ClientError::kBroken: " + broken.message());
  const std::error_code access(10, push::completion_category());  // IBV_WC_REM_ACCESS_ERR
  check(std::string(push::completion_category().name()) == "rdma-completion" &&
            access == std::errc::permission_denied,
        "completion_category(): " + access.message());

  // --- the protocol functions ----------------------------------------------------------------
  push::Connect message;
  message.request_id = 7;
  message.initiator_name = "iqn.2026-11.org.example:app";
  message.target_name = "iqn.2026-11.org.example:pmem";
  message.lun = 3;
  const auto bytes = push::encode(message);
  const auto header = push::parse_header(bytes);
  const auto parsed = push::parse_connect(bytes);
  check(header.has_value() && header->type == push::MessageType::kConnect &&
            parsed.has_value() && *parsed == message,
        "encode(Connect) / parse_connect: " + std::to_string(bytes.size()) + " bytes");

  if (failures != 0) {
    std::printf("push_client_app: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("push_client_app: all checks passed\n");
  return 0;
}
