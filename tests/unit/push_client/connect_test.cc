// SPDX-License-Identifier: GPL-2.0-only
// rdma::connect() (utils/rdma/src/cm_connector.cc) and Client::connect() on the build host:
// without an RDMA device only the refusals are testable; the real handshake runs in the
// guest's end-to-end tests.
#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <chrono>

#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem {
namespace {

using namespace std::chrono_literals;

bool host_has_rdma_device() {
  int n = 0;
  if (ibv_device** list = ibv_get_device_list(&n); list != nullptr) ibv_free_device_list(list);
  return n > 0;
}

TEST(RdmaConnect, RefusesAnAddressThatIsNotNumeric) {
  EXPECT_EQ(rdma::connect("target.example", 5566, {}, {}, 100ms).error(),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(rdma::connect("", 5566, {}, {}, 100ms).error(),
            std::make_error_code(std::errc::invalid_argument));
}

TEST(RdmaConnect, RefusesEmptyQueues) {
  rdma::QueueLimits l;
  l.send_depth = 0;
  EXPECT_EQ(rdma::connect("192.0.2.1", 5566, {}, l, 100ms).error(),
            std::make_error_code(std::errc::invalid_argument));
}

TEST(RdmaConnect, FailsWithEnodevWithoutDevice) {
  if (host_has_rdma_device()) GTEST_SKIP() << "this host has an RDMA device";
  const auto start = std::chrono::steady_clock::now();
  auto c = rdma::connect("127.0.0.1", 5566, {}, {}, 2000ms);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), std::make_error_code(std::errc::no_such_device)) << c.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "no waiting for a missing device";
}

TEST(RdmaConnect, NobodyListeningIsRefusedOrUnreachable) {
  if (!host_has_rdma_device()) GTEST_SKIP() << "no RDMA device on this host";
  // Port 1 on loopback: nothing listens there.
  auto c = rdma::connect("127.0.0.1", 1, {}, {}, 3000ms);
  ASSERT_FALSE(c.has_value());
  EXPECT_TRUE(c.error() == std::errc::connection_refused || c.error() == std::errc::timed_out ||
              c.error() == std::errc::host_unreachable || c.error() == std::errc::no_such_device)
      << c.error().message();
}

TEST(PushClientConnect, PassesTheTransportErrorOn) {
  if (host_has_rdma_device()) GTEST_SKIP() << "this host has an RDMA device";
  push::ClientOptions o;
  o.address = "127.0.0.1";
  o.timeout = 500ms;
  auto c = push::Client::connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), std::errc::no_such_device);
  o.address = "not-an-address";
  EXPECT_EQ(push::Client::connect(o).error(), std::errc::invalid_argument);
}

}  // namespace
}  // namespace tgt_pmem
