// SPDX-License-Identifier: GPL-2.0-only
// rdma::listen() on the build host. Unit tests do not assume RDMA hardware (the guest e2e
// tests run the real data path over Soft-RoCE): what is tested here depends on whether the
// host has a device, and the other case is skipped.
#include <gtest/gtest.h>
#include <infiniband/verbs.h>
#include <poll.h>

#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::rdma {
namespace {

bool host_has_rdma_device() {
  int n = 0;
  if (ibv_device** list = ibv_get_device_list(&n); list != nullptr) ibv_free_device_list(list);
  return n > 0;
}

TEST(RdmaListen, FailsWithEnodevWithoutDevice) {
  if (host_has_rdma_device()) GTEST_SKIP() << "this host has an RDMA device";
  auto l = listen("127.0.0.1", 0);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error(), std::make_error_code(std::errc::no_such_device)) << l.error().message();
  // Again: librdmacm's failed initialisation must not leave it in a worse state.
  EXPECT_EQ(listen("0.0.0.0", 0).error(), std::make_error_code(std::errc::no_such_device));
}

TEST(RdmaListen, RefusesAnAddressThatIsNotNumeric) {
  // Checked before the device: EINVAL on every host.
  EXPECT_EQ(listen("rdma-target.example", 0).error(),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(listen("", 0).error(), std::make_error_code(std::errc::invalid_argument));
}

TEST(RdmaListen, ListensOnLoopbackWithADevice) {
  if (!host_has_rdma_device()) GTEST_SKIP() << "no RDMA device on this host";
  auto l = listen("127.0.0.1", 0);
  ASSERT_TRUE(l.has_value()) << l.error().message();
  EXPECT_NE((*l)->port(), 0);
  EXPECT_GE((*l)->event_fd(), 0);
  // Nothing is waiting, and asking does not block.
  auto e = (*l)->next_event();
  ASSERT_TRUE(e.has_value()) << e.error().message();
  EXPECT_FALSE(e->has_value());
  pollfd p{(*l)->event_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  // The port is taken now.
  auto again = listen("127.0.0.1", (*l)->port());
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), std::make_error_code(std::errc::address_in_use));
}

}  // namespace
}  // namespace tgt_pmem::rdma
