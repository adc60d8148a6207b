// SPDX-License-Identifier: GPL-2.0-only
// The client library against the REAL push-mode service (iser_ext/src/push_*.cc), in one
// process, before the guest's end-to-end tests run them over Soft-RoCE. The service holds a
// fake connection (tests/fakes) as in its own tests; the client holds a Bridge, a Connection
// that carries the client's work to that fake's peer side: SEND -> deliver(), RDMA WRITE /
// READ -> peer_rdma_write() / peer_rdma_read() into the memory the service registered, and
// the service's SENDs back into the client's posted receives.
#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include "fake_loop.h"
#include "fake_rdma.h"
#include "push_bridge.h"
#include "push_service_fixture.h"
#include "push_bench.h"
#include "push_runner.h"
#include "push_service.h"
#include "tgt_pmem/flush/remote.h"
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push {
namespace {

using service_fixture::kInitiator;
using service_fixture::kIqn;
using service_fixture::kLunSize;
using testing::Bridge;
using testing::FakePeer;
using testing::FlushBridge;

class ClientAgainstService : public service_fixture::ServiceFixture {
 protected:
  // A client connected through a fresh bridge; bridge is where its connection lives.
  Result<Client> connect(Bridge*& bridge, ClientOptions o = options(),
                         bool flush_capable = false) {
    FakePeer peer = listener.connect_request({});
    pump_service();
    peer.set_auto_complete(true);
    std::unique_ptr<Bridge> b;
    if (flush_capable)
      b = std::make_unique<FlushBridge>(peer);
    else
      b = std::make_unique<Bridge>(peer);
    bridge = b.get();
    return Client::connect_over(std::move(b), o, [this, bridge] {
      pump_service();
      bridge->pump();
    });
  }

  static ClientOptions options() {
    ClientOptions o;
    o.initiator_name = kInitiator;
    o.target_name = kIqn;
    o.lun = 1;
    o.timeout = std::chrono::milliseconds(2000);
    return o;
  }
};

TEST_F(ClientAgainstService, ADurableWriteLandsInTheLun) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->lun_size(), kLunSize);
  EXPECT_EQ(c->block_size(), 512u);
  auto r = c->register_region(64 * 1024, 64 * 1024, kRead | kWrite);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->remote.addr, 64u * 1024);  // offset addressing: the LUN offset

  const auto data = pattern(8192, 3);
  ASSERT_TRUE(c->write_and_commit(*r, 4096, data));
  EXPECT_EQ(std::memcmp(lun_mem.data() + 64 * 1024 + 4096, data.data(), data.size()), 0);
  ASSERT_EQ(persisted.size(), 1u);
  EXPECT_EQ(persisted[0], std::make_pair(std::uint64_t{64 * 1024 + 4096}, std::uint64_t{8192}));

  std::vector<std::byte> back(8192);
  ASSERT_TRUE(c->read(*r, 4096, back));
  EXPECT_EQ(back, data);

  const auto more = pattern(512, 9);
  ASSERT_TRUE(c->write_and_flush(*r, 0, more));
  EXPECT_EQ(std::memcmp(lun_mem.data() + 64 * 1024, more.data(), more.size()), 0);
  EXPECT_EQ(persisted.size(), 1u) << "read-after-write needs no target CPU";
  EXPECT_GE(bridge->reads, 2u);

  ASSERT_TRUE(c->commit(*r));
  EXPECT_EQ(persisted.back(), std::make_pair(std::uint64_t{64 * 1024}, std::uint64_t{64 * 1024}));
  ASSERT_TRUE(c->unregister(*r));
  // The stale handle is refused by the service's (fake) device.
  auto stale = c->write(*r, 0, more);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
}

TEST_F(ClientAgainstService, TheServiceChecksWhatTheClientLeavesToIt) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(target_status(c->register_region(100, 4096, kWrite).error()), Status::kOutOfRange);
  EXPECT_EQ(target_status(c->register_region(0, 2 * kLunSize, kWrite).error()),
            Status::kOutOfRange);
  auto ro = c->register_region(0, 4096, kRead);
  ASSERT_TRUE(ro.has_value());
  EXPECT_EQ(target_status(c->commit(*ro).error()), Status::kAccessDenied);
  auto rw = c->register_region(4096, 4096, kRead | kWrite);
  ASSERT_TRUE(rw.has_value());
  const Range beyond{4000, 200};
  EXPECT_EQ(target_status(c->commit(*rw, {&beyond, 1}).error()), Status::kOutOfRange);
  Region unknown = *rw;
  unknown.handle = 999;
  EXPECT_EQ(target_status(c->unregister(unknown).error()), Status::kNoSuchHandle);
  EXPECT_FALSE(c->broken());
  // Beyond the region's end through its own rkey: the device refuses.
  auto w = c->write_raw(rw->remote, 4000, pattern(200, 1));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().message(), "remote access error: the target refused the access");
  EXPECT_TRUE(std::all_of(lun_mem.begin() + 8192, lun_mem.begin() + 8392,
                          [](std::byte b) { return b == std::byte{0}; }));
}

TEST_F(ClientAgainstService, AHandleIsWorthlessOnAnotherConnection) {
  Bridge* b1 = nullptr;
  Bridge* b2 = nullptr;
  auto c1 = connect(b1);
  auto c2 = connect(b2);
  ASSERT_TRUE(c1.has_value() && c2.has_value());
  auto r = c1->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  auto w = c2->write_raw(r->remote, 0, pattern(64, 5));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error(), rdma::completion_error(IBV_WC_REM_ACCESS_ERR));
  EXPECT_TRUE(std::all_of(lun_mem.begin(), lun_mem.begin() + 64,
                          [](std::byte b) { return b == std::byte{0}; }));
  EXPECT_TRUE(c1->write(*r, 0, pattern(64, 5))) << "the owner still can";
}

TEST_F(ClientAgainstService, ChapAndAdmission) {
  host.chap = true;
  Bridge* bridge = nullptr;
  ClientOptions o = options();
  EXPECT_EQ(target_status(connect(bridge, o).error()), Status::kChapRequired);
  o.chap_user = "alice";
  o.chap_secret = "wrong";
  EXPECT_EQ(target_status(connect(bridge, o).error()), Status::kAuthFailed);
  o.chap_secret = "s3cret-s3cret";
  auto c = connect(bridge, o);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  host.admitted.clear();
  EXPECT_EQ(target_status(connect(bridge, o).error()), Status::kNotAdmitted);
  // A target that does not exist is answered like one that does not admit the client: no
  // enumeration of targets by whoever reaches the port.
  o.target_name = "iqn.2024-01.org.tgt-pmem:nothing";
  EXPECT_EQ(target_status(connect(bridge, o).error()), Status::kNotAdmitted);
  host.admitted.insert(o.initiator_name);
  o.target_name = kIqn;
  o.lun = 9;
  EXPECT_EQ(target_status(connect(bridge, o).error()), Status::kNoSuchLun)
      << "an admitted client learns which LUNs exist";
}

TEST_F(ClientAgainstService, AServiceThatClosesFailsTheClientInsteadOfHanging) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge);
  ASSERT_TRUE(c.has_value());
  auto r = c->register_region(0, 4096, kRead | kWrite);
  ASSERT_TRUE(r.has_value());
  service.close_all("the test ends");
  auto commit = c->commit(*r);
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error(), rdma::completion_error(IBV_WC_WR_FLUSH_ERR))
      << commit.error().message();
  EXPECT_TRUE(c->broken());
}

TEST_F(ClientAgainstService, TheToolsStepsRunAgainstIt) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge);
  ASSERT_TRUE(c.has_value());
  std::vector<tool::Step> steps;
  for (const char* t :
       {"register:0:64k:rw", "write:h0:4k:pattern:7:8k", "commit:h0:4k:8k",
        "read:h0:4k:8k:verify-pattern:7", "raf:h0:4k:8k", "register:64k:4k:r",
        "commit:h1:expect=refused", "unregister:h0", "unregister:h0:expect=refused"}) {
    auto s = tool::parse_step(t);
    ASSERT_TRUE(s.has_value()) << s.error();
    steps.push_back(*s);
  }
  std::vector<std::string> lines;
  EXPECT_TRUE(tool::run_steps(*c, steps, [&](const std::string& l) { lines.push_back(l); }));
  for (const auto& l : lines) EXPECT_EQ(l.find("FAILED"), std::string::npos) << l;
  EXPECT_EQ(lines.size(), steps.size());
}

TEST_F(ClientAgainstService, TheBenchRunsAgainstIt) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge);
  ASSERT_TRUE(c.has_value());
  tool::BenchOptions o;
  o.count = 16;
  o.region = 64 * 1024;
  auto rows = tool::run_bench(*c, o);
  ASSERT_TRUE(rows.has_value()) << rows.error();
  EXPECT_EQ(persisted.size(), 16u);
}

// The service registers writable regions for RDMA FLUSH; a client whose connection can post
// it then makes its writes durable with FLUSH, which the service's registration allows.
TEST_F(ClientAgainstService, RdmaFlushOfAFlushableRegion) {
  Bridge* bridge = nullptr;
  auto c = connect(bridge, options(), true);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  auto r = c->register_region(0, 64 * 1024, kRead | kWrite);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->flushable);
  const auto data = pattern(8192, 5);
  ASSERT_TRUE(c->write_and_flush(*r, 4096, data));
  EXPECT_EQ(std::memcmp(lun_mem.data() + 4096, data.data(), data.size()), 0);
  EXPECT_TRUE(persisted.empty()) << "no target CPU involved";
  if (flush::remote_method_built(flush::RemoteMethod::kRdmaFlush)) {
    EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kRdmaFlush);
    EXPECT_EQ(bridge->flushes, 1u);
    EXPECT_EQ(bridge->reads, 0u);
  } else {
    EXPECT_EQ(c->flush_method(*r).value(), FlushMethod::kReadAfterWrite);
    EXPECT_EQ(bridge->flushes, 0u);
    EXPECT_EQ(bridge->reads, 1u);
  }
  EXPECT_FALSE(c->broken());
}

// Where the service's registration with FLUSH failed (rxe: memory that is not pmem), the
// region is not flushable: auto falls back to read-after-write, rdma-flush refuses.
TEST_F(ClientAgainstService, ARegionTheServiceCouldNotRegisterForFlush) {
  for (const FlushMethod m : {FlushMethod::kAuto, FlushMethod::kRdmaFlush}) {
    SCOPED_TRACE(std::string(to_string(m)));
    Bridge* bridge = nullptr;
    ClientOptions o = options();
    o.flush_method = m;
    auto c = connect(bridge, o, true);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    bridge->target().fail_next_registration(std::make_error_code(std::errc::invalid_argument));
    auto r = c->register_region(0, 4096, kRead | kWrite);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->flushable);
    auto w = c->write_and_flush(*r, 0, pattern(4096, 6));
    EXPECT_EQ(bridge->flushes, 0u);
    if (m == FlushMethod::kAuto) {
      EXPECT_TRUE(w.has_value()) << w.error().message();
      EXPECT_EQ(bridge->reads, 1u);
    } else {
      ASSERT_FALSE(w.has_value());
      EXPECT_EQ(w.error(), std::errc::not_supported) << w.error().message();
      EXPECT_EQ(bridge->reads, 0u);
    }
  }
}

}  // namespace
}  // namespace tgt_pmem::push
