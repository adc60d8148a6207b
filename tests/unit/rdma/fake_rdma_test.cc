// SPDX-License-Identifier: GPL-2.0-only
// The fake Connection's semantics. Protocol tests rely on every one of these: if the fake
// drifts from real RC verbs, fix the fake and this file together.
#include "fake_rdma.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

namespace tgt_pmem::testing {
namespace {

using rdma::Completion;
using rdma::kLocalWrite;
using rdma::kRemoteRead;
using rdma::kRemoteWrite;
using rdma::LocalBuffer;
using rdma::QueueLimits;
using rdma::RemoteBuffer;
using rdma::WorkType;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
  return out;
}

// A connection with one registered local buffer, as most tests need.
class FakeRdma : public ::testing::Test {
 protected:
  void SetUp() override {
    QueueLimits limits;
    limits.send_depth = 4;
    limits.recv_depth = 2;
    limits.max_sge = 3;
    conn = peer.connect(limits);
    auto r = conn->register_memory(buf.data(), buf.size(), kLocalWrite);
    ASSERT_TRUE(r.has_value());
    mr = std::move(*r);
  }
  void TearDown() override {
    mr.reset();
    conn.reset();
    EXPECT_EQ(peer.regions_live_at_close(), 0u);
  }

  LocalBuffer local(std::size_t offset, std::uint32_t len) const {
    return {mr->data() + offset, len, mr->lkey()};
  }

  std::vector<Completion> poll_all() {
    std::vector<Completion> out;
    std::array<Completion, 3> batch;  // smaller than some queues: exercises repeated polls
    for (;;) {
      auto n = conn->poll(batch);
      EXPECT_TRUE(n.has_value());
      if (!n || *n == 0) return out;
      out.insert(out.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }

  FakePeer peer;
  std::unique_ptr<FakeConnection> conn;
  std::array<std::byte, 4096> buf{};
  std::unique_ptr<rdma::MemoryRegion> mr;
};

TEST_F(FakeRdma, RegistrationsHaveDistinctKeysAndAreTracked) {
  std::array<std::byte, 64> other{};
  auto r2 = conn->register_memory(other.data(), other.size(), kRemoteRead);
  ASSERT_TRUE(r2.has_value());
  const std::vector<std::uint32_t> keys{mr->lkey(), mr->rkey(), (*r2)->lkey(), (*r2)->rkey()};
  for (std::size_t i = 0; i < keys.size(); ++i)
    for (std::size_t j = i + 1; j < keys.size(); ++j) EXPECT_NE(keys[i], keys[j]);
  EXPECT_EQ((*r2)->data(), other.data());
  EXPECT_EQ((*r2)->size(), other.size());
  EXPECT_EQ(peer.live_regions(), 2u);
  EXPECT_EQ(peer.registrations(), 2u);
  r2->reset();
  EXPECT_EQ(peer.live_regions(), 1u);
}

TEST_F(FakeRdma, RegistrationOfNothingIsInvalid) {
  EXPECT_EQ(conn->register_memory(nullptr, 8, kLocalWrite).error(),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(conn->register_memory(buf.data(), 0, kLocalWrite).error(),
            std::make_error_code(std::errc::invalid_argument));
}

TEST_F(FakeRdma, RegistrationFailureCanBeInjectedOnce) {
  peer.fail_next_registration(std::make_error_code(std::errc::not_enough_memory));
  EXPECT_EQ(conn->register_memory(buf.data(), 8, kLocalWrite).error(),
            std::make_error_code(std::errc::not_enough_memory));
  EXPECT_TRUE(conn->register_memory(buf.data(), 8, kLocalWrite).has_value());
}

TEST_F(FakeRdma, RegionsAliveAtCloseAreCounted) {
  FakePeer p;
  auto c = p.connect();
  auto r = c->register_memory(buf.data(), 16, kLocalWrite);
  ASSERT_TRUE(r.has_value());
  c.reset();
  EXPECT_TRUE(p.connection_destroyed());
  EXPECT_EQ(p.regions_live_at_close(), 1u);
  r->reset();  // still safe after the connection: the fake's state outlives it
  EXPECT_EQ(p.live_regions(), 0u);
}

TEST_F(FakeRdma, DeliverCompletesTheOldestReceive) {
  ASSERT_TRUE(conn->post_recv(10, local(0, 64)).has_value());
  ASSERT_TRUE(conn->post_recv(11, local(64, 64)).has_value());
  EXPECT_EQ(peer.posted_receives(), 2u);
  ASSERT_TRUE(peer.deliver(bytes({1, 2, 3})));
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].wr_id, 10u);
  EXPECT_EQ(c[0].type, WorkType::kRecv);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_SUCCESS);
  EXPECT_EQ(c[0].byte_len, 3u);
  EXPECT_EQ(buf[2], std::byte{3});
  EXPECT_EQ(peer.posted_receives(), 1u);
}

TEST_F(FakeRdma, DeliverWithoutReceiveChangesNothing) {
  EXPECT_FALSE(peer.deliver(bytes({1})));
  EXPECT_FALSE(peer.in_error());
  EXPECT_TRUE(poll_all().empty());
}

TEST_F(FakeRdma, DeliverTooLongFailsWithLengthErrorAndFlushes) {
  ASSERT_TRUE(conn->post_recv(1, local(0, 2)).has_value());
  ASSERT_TRUE(conn->post_recv(2, local(2, 2)).has_value());
  EXPECT_FALSE(peer.deliver(bytes({1, 2, 3})));
  EXPECT_TRUE(peer.in_error());
  auto c = poll_all();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].wr_id, 1u);
  EXPECT_FALSE(c[0].ok);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_LOC_LEN_ERR);
  EXPECT_EQ(c[0].type, WorkType::kRecv);
  EXPECT_EQ(c[1].wr_id, 2u);
  EXPECT_EQ(c[1].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_EQ(c[1].type, WorkType::kRecv);
}

TEST_F(FakeRdma, ReceiveNeedsRegisteredWritableMemory) {
  std::array<std::byte, 16> unregistered{};
  ASSERT_TRUE(conn->post_recv(1, {unregistered.data(), 16, mr->lkey()}).has_value());
  EXPECT_FALSE(peer.deliver(bytes({1})));
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_LOC_PROT_ERR);

  FakePeer p;
  auto c2 = p.connect();
  auto ro = c2->register_memory(buf.data(), 16, kRemoteRead);  // no local write
  ASSERT_TRUE(ro.has_value());
  ASSERT_TRUE(c2->post_recv(1, {buf.data(), 16, (*ro)->lkey()}).has_value());
  EXPECT_FALSE(p.deliver(bytes({1})));
  EXPECT_TRUE(p.in_error());
}

TEST_F(FakeRdma, SendIsCopiedAtPostAndCompletesWhenTheTestSays) {
  std::memcpy(buf.data(), "abcd", 4);
  ASSERT_TRUE(conn->post_send(7, local(0, 4)).has_value());
  buf[0] = std::byte{'X'};  // after posting: what was sent stays
  ASSERT_EQ(peer.sent().size(), 1u);
  EXPECT_EQ(peer.sent()[0], bytes({'a', 'b', 'c', 'd'}));
  EXPECT_TRUE(poll_all().empty());
  EXPECT_EQ(peer.pending_work(), 1u);
  EXPECT_EQ(peer.complete_all(), 1u);
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].wr_id, 7u);
  EXPECT_EQ(c[0].type, WorkType::kSend);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(peer.take_sent().size(), 1u);
  EXPECT_TRUE(peer.sent().empty());
}

TEST_F(FakeRdma, AutoCompleteRunsWorkWhenPosted) {
  ASSERT_TRUE(conn->post_send(1, local(0, 4)).has_value());
  peer.set_auto_complete(true);  // pending work runs now
  EXPECT_EQ(peer.queued_completions(), 1u);
  ASSERT_TRUE(conn->post_send(2, local(0, 4)).has_value());
  auto c = poll_all();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].wr_id, 1u);
  EXPECT_EQ(c[1].wr_id, 2u);
}

TEST_F(FakeRdma, WorkRunsInPostingOrder) {
  const RemoteBuffer dst = peer.add_region(8);
  std::memcpy(buf.data(), "12345678", 8);
  ASSERT_TRUE(conn->post_rdma_write(1, std::array{local(0, 8)}, dst).has_value());
  ASSERT_TRUE(conn->post_send(2, local(0, 1)).has_value());
  EXPECT_TRUE(peer.complete_next());
  EXPECT_EQ(peer.region(dst.rkey)[7], std::byte{'8'});
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].wr_id, 1u);
  EXPECT_TRUE(peer.complete_next());
  EXPECT_FALSE(peer.complete_next());
  EXPECT_EQ(poll_all().at(0).wr_id, 2u);
}

TEST_F(FakeRdma, RdmaWriteGathersIntoThePeerRegion) {
  const RemoteBuffer dst = peer.add_region(10);
  const auto data = pattern(10, 3);
  std::memcpy(buf.data(), data.data(), 4);
  std::memcpy(buf.data() + 100, data.data() + 4, 6);
  ASSERT_TRUE(conn->post_rdma_write(5, std::array{local(0, 4), local(100, 6)}, dst).has_value());
  peer.complete_all();
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, WorkType::kRdmaWrite);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(c[0].byte_len, 0u);
  auto r = peer.region(dst.rkey);
  EXPECT_EQ(std::vector<std::byte>(r.begin(), r.end()), data);
}

TEST_F(FakeRdma, RdmaReadScattersFromThePeerRegionAtAnOffset) {
  const auto data = pattern(32, 9);
  RemoteBuffer src = peer.add_region(data, kRemoteRead);
  src.addr += 8;
  src.length = 12;
  ASSERT_TRUE(conn->post_rdma_read(6, std::array{local(0, 5), local(200, 7)}, src).has_value());
  peer.complete_all();
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, WorkType::kRdmaRead);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(0, std::memcmp(buf.data(), data.data() + 8, 5));
  EXPECT_EQ(0, std::memcmp(buf.data() + 200, data.data() + 13, 7));
}

TEST_F(FakeRdma, BadRkeyFailsThenEverythingFlushes) {
  const RemoteBuffer good = peer.add_region(16);
  RemoteBuffer bad = good;
  bad.rkey ^= 0x5a5a;
  ASSERT_TRUE(conn->post_recv(1, local(0, 16)).has_value());
  ASSERT_TRUE(conn->post_rdma_write(2, std::array{local(0, 16)}, bad).has_value());
  ASSERT_TRUE(conn->post_rdma_read(3, std::array{local(0, 16)}, good).has_value());
  peer.complete_all();
  ASSERT_TRUE(conn->post_send(4, local(0, 1)).has_value());  // posted in error: flushed
  auto c = poll_all();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].wr_id, 2u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(c[0].type, WorkType::kRdmaWrite);
  // The rest flush, each still reporting what it was.
  EXPECT_EQ(c[1].wr_id, 3u);
  EXPECT_EQ(c[1].type, WorkType::kRdmaRead);
  EXPECT_EQ(c[1].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_EQ(c[2].wr_id, 1u);
  EXPECT_EQ(c[2].type, WorkType::kRecv);
  EXPECT_EQ(c[2].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_EQ(c[3].wr_id, 4u);
  EXPECT_EQ(c[3].type, WorkType::kSend);
  EXPECT_EQ(c[3].vendor_status, IBV_WC_WR_FLUSH_ERR);
  for (const auto& x : c) EXPECT_FALSE(x.ok);
  EXPECT_TRUE(peer.sent().empty());  // the send posted in error never left
}

TEST(FakeRdmaRemote, BoundsAndRightsAreChecked) {
  struct Case {
    const char* what;
    bool read;
    RemoteBuffer (*remote)(RemoteBuffer ro, RemoteBuffer wo);
  };
  const Case cases[] = {
      {"write to read-only", false, [](RemoteBuffer ro, RemoteBuffer) { return ro; }},
      {"read from write-only", true, [](RemoteBuffer, RemoteBuffer wo) { return wo; }},
      {"one past the end", true,
       [](RemoteBuffer ro, RemoteBuffer) {
         return RemoteBuffer{ro.addr + 1, ro.rkey, 16};
       }},
      {"one before the start", true,
       [](RemoteBuffer ro, RemoteBuffer) {
         return RemoteBuffer{ro.addr - 1, ro.rkey, 2};
       }},
      {"another region's rkey", true,
       [](RemoteBuffer ro, RemoteBuffer wo) {
         return RemoteBuffer{ro.addr, wo.rkey, 16};
       }},
  };
  std::array<std::byte, 16> buf{};
  for (const Case& k : cases) {
    FakePeer p;
    auto c = p.connect();
    auto m = c->register_memory(buf.data(), buf.size(), kLocalWrite);
    ASSERT_TRUE(m.has_value());
    const RemoteBuffer remote =
        k.remote(p.add_region(16, kRemoteRead), p.add_region(16, kRemoteWrite));
    const LocalBuffer l{(*m)->data(), remote.length, (*m)->lkey()};
    ASSERT_TRUE((k.read ? c->post_rdma_read(1, std::array{l}, remote)
                        : c->post_rdma_write(1, std::array{l}, remote))
                    .has_value());
    p.complete_all();
    std::array<Completion, 2> out;
    ASSERT_EQ(c->poll(out).value(), 1u) << k.what;
    EXPECT_EQ(out[0].vendor_status, IBV_WC_REM_ACCESS_ERR) << k.what;
    EXPECT_TRUE(p.in_error()) << k.what;
  }
}

TEST_F(FakeRdma, RemovedRegionIsRefused) {
  const RemoteBuffer dst = peer.add_region(4);
  peer.remove_region(dst.rkey);
  EXPECT_TRUE(peer.region(dst.rkey).empty());
  ASSERT_TRUE(conn->post_rdma_write(1, std::array{local(0, 4)}, dst).has_value());
  peer.complete_all();
  EXPECT_EQ(poll_all().at(0).vendor_status, IBV_WC_REM_ACCESS_ERR);
}

TEST_F(FakeRdma, LocalBuffersOfRdmaAreChecked) {
  const RemoteBuffer remote = peer.add_region(8);
  LocalBuffer wrong_key = local(0, 8);
  wrong_key.lkey = mr->rkey();  // an rkey is not an lkey
  ASSERT_TRUE(conn->post_rdma_write(1, std::array{wrong_key}, remote).has_value());
  peer.complete_all();
  EXPECT_EQ(poll_all().at(0).vendor_status, IBV_WC_LOC_PROT_ERR);
}

TEST_F(FakeRdma, LengthsMustSumAndSgesAreLimited) {
  const RemoteBuffer remote = peer.add_region(8);
  EXPECT_EQ(conn->post_rdma_read(1, std::array{local(0, 4)}, remote).error(),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(conn->post_rdma_write(1, std::array{local(0, 2), local(2, 2), local(4, 2), local(6, 2)},
                                  remote)
                .error(),
            std::make_error_code(std::errc::invalid_argument));  // 4 > max_sge 3
  EXPECT_EQ(peer.pending_work(), 0u);
}

TEST_F(FakeRdma, QueueSlotsAreFreedByPoll) {
  for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(conn->post_send(i, local(0, 1)).has_value());
  EXPECT_EQ(conn->post_send(9, local(0, 1)).error(),
            std::make_error_code(std::errc::not_enough_memory));
  peer.complete_all();
  // Completed but not polled: still occupying the queue.
  EXPECT_EQ(conn->post_send(9, local(0, 1)).error(),
            std::make_error_code(std::errc::not_enough_memory));
  std::array<Completion, 1> one;
  ASSERT_EQ(conn->poll(one).value(), 1u);
  EXPECT_TRUE(conn->post_send(9, local(0, 1)).has_value());

  ASSERT_TRUE(conn->post_recv(1, local(0, 8)).has_value());
  ASSERT_TRUE(conn->post_recv(2, local(8, 8)).has_value());
  EXPECT_EQ(conn->post_recv(3, local(16, 8)).error(),
            std::make_error_code(std::errc::not_enough_memory));
}

TEST_F(FakeRdma, InjectedFailuresHitTheNextRequestsOfThatType) {
  const RemoteBuffer remote = peer.add_region(8);
  peer.fail_next(WorkType::kRdmaRead, IBV_WC_RETRY_EXC_ERR);
  ASSERT_TRUE(conn->post_send(1, local(0, 1)).has_value());
  ASSERT_TRUE(conn->post_rdma_read(2, std::array{local(0, 8)}, remote).has_value());
  peer.complete_all();
  auto c = poll_all();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(c[1].type, WorkType::kRdmaRead);
  EXPECT_EQ(c[1].vendor_status, IBV_WC_RETRY_EXC_ERR);
  EXPECT_TRUE(peer.in_error());
}

TEST_F(FakeRdma, InjectedReceiveFailureHitsTheNextDelivery) {
  peer.fail_next(WorkType::kRecv, IBV_WC_LOC_QP_OP_ERR);
  ASSERT_TRUE(conn->post_recv(1, local(0, 8)).has_value());
  EXPECT_FALSE(peer.deliver(bytes({1})));
  EXPECT_EQ(poll_all().at(0).vendor_status, IBV_WC_LOC_QP_OP_ERR);
}

TEST_F(FakeRdma, PostAndPollFailuresCanBeInjected) {
  peer.fail_next_post(std::make_error_code(std::errc::io_error));
  EXPECT_EQ(conn->post_recv(1, local(0, 8)).error(), std::make_error_code(std::errc::io_error));
  EXPECT_EQ(peer.posted_receives(), 0u);
  ASSERT_TRUE(conn->post_recv(1, local(0, 8)).has_value());
  peer.fail_next_poll(std::make_error_code(std::errc::io_error));
  std::array<Completion, 1> one;
  EXPECT_FALSE(conn->poll(one).has_value());
  EXPECT_EQ(conn->poll(one).value(), 0u);
}

TEST_F(FakeRdma, DisconnectIsRecordedAndFlushes) {
  ASSERT_TRUE(conn->post_recv(1, local(0, 8)).has_value());
  EXPECT_FALSE(peer.disconnect_called());
  conn->disconnect();
  conn->disconnect();
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_TRUE(peer.in_error());
  auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_WR_FLUSH_ERR);
}

TEST_F(FakeRdma, ArmIsCountedAndThereIsNoDescriptor) {
  EXPECT_EQ(conn->completion_fd(), -1);
  ASSERT_TRUE(conn->arm().has_value());
  EXPECT_EQ(peer.arm_calls(), 1u);
}

TEST_F(FakeRdma, PeerWritesAndReadsRegisteredMemory) {
  std::array<std::byte, 32> target{};
  auto r = conn->register_memory(target.data(), target.size(), kRemoteWrite | kRemoteRead);
  ASSERT_TRUE(r.has_value());
  const auto addr = reinterpret_cast<std::uint64_t>(target.data());
  EXPECT_EQ(peer.peer_rdma_write((*r)->rkey(), addr + 4, bytes({9, 8, 7})), IBV_WC_SUCCESS);
  EXPECT_EQ(target[5], std::byte{8});
  auto back = peer.peer_rdma_read((*r)->rkey(), addr + 4, 3);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, bytes({9, 8, 7}));
  EXPECT_FALSE(peer.in_error());
}

TEST_F(FakeRdma, PeersAddressARegionRegisteredAtAnIovaFromThatIova) {
  std::array<std::byte, 32> target{};
  auto r = conn->register_memory_at(target.data(), target.size(), kRemoteWrite | kRemoteRead,
                                    4096);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(peer.peer_rdma_write((*r)->rkey(), 4096 + 4, bytes({9, 8, 7})), IBV_WC_SUCCESS);
  EXPECT_EQ(target[5], std::byte{8});
  auto back = peer.peer_rdma_read((*r)->rkey(), 4096 + 4, 3);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, bytes({9, 8, 7}));
  // Past the end from the iova, and the process address, are outside it.
  EXPECT_EQ(peer.peer_rdma_write((*r)->rkey(), 4096 + 30, bytes({1, 2, 3})), IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(target[30], std::byte{0});
}

TEST_F(FakeRdma, AProcessAddressIsNoAddressOfARegionAtAnIova) {
  std::array<std::byte, 32> target{};
  auto r = conn->register_memory_at(target.data(), target.size(), kRemoteWrite, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(peer.peer_rdma_write((*r)->rkey(), reinterpret_cast<std::uint64_t>(target.data()),
                                 bytes({1})),
            IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(target[0], std::byte{0});
}

TEST_F(FakeRdma, PeerAccessViolationsFailAndBreakTheQp) {
  std::array<std::byte, 32> target{};
  auto ro = conn->register_memory(target.data(), target.size(), kRemoteRead);
  ASSERT_TRUE(ro.has_value());
  const auto addr = reinterpret_cast<std::uint64_t>(target.data());
  // No remote write right; and the lkey is not an rkey.
  EXPECT_EQ(peer.peer_rdma_write((*ro)->rkey(), addr, bytes({1})), IBV_WC_REM_ACCESS_ERR);
  EXPECT_TRUE(peer.in_error());
  EXPECT_EQ(target[0], std::byte{0});
  // Once broken, the peer gets no answer at all.
  EXPECT_EQ(peer.peer_rdma_read((*ro)->rkey(), addr, 1).error(), IBV_WC_RETRY_EXC_ERR);

  FakePeer p;
  auto c = p.connect();
  auto m = c->register_memory(target.data(), target.size(), kRemoteWrite);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(p.peer_rdma_write((*m)->lkey(), addr, bytes({1})), IBV_WC_REM_ACCESS_ERR);
  FakePeer q;
  auto c2 = q.connect();
  auto m2 = c2->register_memory(target.data(), target.size(), kRemoteWrite);
  ASSERT_TRUE(m2.has_value());
  EXPECT_EQ(q.peer_rdma_write((*m2)->rkey(), addr + 30, bytes({1, 2, 3})),
            IBV_WC_REM_ACCESS_ERR);  // out of bounds
}

TEST_F(FakeRdma, RkeysAreValidOnTheirConnectionOnly) {
  std::array<std::byte, 16> target{};
  auto r = conn->register_memory(target.data(), target.size(), kRemoteWrite);
  ASSERT_TRUE(r.has_value());
  FakePeer other;
  auto c2 = other.connect();
  EXPECT_EQ(other.peer_rdma_write((*r)->rkey(), reinterpret_cast<std::uint64_t>(target.data()),
                                  bytes({1})),
            IBV_WC_REM_ACCESS_ERR);
}

TEST_F(FakeRdma, PeerAccessAfterTheConnectionIsGoneGetsNoAnswer) {
  FakePeer p;
  auto c = p.connect();
  c.reset();
  EXPECT_EQ(p.peer_rdma_write(1, 1, bytes({1})), IBV_WC_RETRY_EXC_ERR);
}

TEST_F(FakeRdma, ConnectionKnowsItsPeerAndLimits) {
  EXPECT_EQ(conn->limits().send_depth, 4u);
  EXPECT_EQ(conn->limits().max_sge, 3u);
  EXPECT_FALSE(conn->peer_address().empty());
  FakePeer same = conn->peer();
  EXPECT_TRUE(same.deliver(bytes({})) == false);  // same state: no receive posted
  ASSERT_TRUE(conn->post_recv(1, local(0, 4)).has_value());
  EXPECT_EQ(same.posted_receives(), 1u);
}

// RDMA FLUSH, on a connection made to offer it: a kRdmaWrite-type request that runs in
// order, moves nothing, and needs kRemoteFlush on the peer's region.
TEST(FakeRdmaFlush, OnlyFlushCapableConnectionsOfferIt) {
  FakePeer plain_peer;
  auto plain = plain_peer.connect();
  EXPECT_EQ(dynamic_cast<rdma::FlushCapable*>(plain.get()), nullptr);
  FakePeer peer;
  auto conn = peer.connect_flush_capable();
  rdma::Connection* as_connection = conn.get();
  EXPECT_NE(dynamic_cast<rdma::FlushCapable*>(as_connection), nullptr);
}

TEST(FakeRdmaFlush, RunsInOrderAfterTheWritesAndNeedsFlushAccess) {
  FakePeer peer;
  QueueLimits limits;
  limits.send_depth = 4;
  auto conn = peer.connect_flush_capable(limits);
  std::array<std::byte, 64> buf{};
  auto mr = conn->register_memory(buf.data(), buf.size(), kLocalWrite);
  ASSERT_TRUE(mr.has_value());
  const RemoteBuffer durable = peer.add_region(4096, kRemoteWrite | rdma::kRemoteFlush);
  const RemoteBuffer volatile_only = peer.add_region(4096, kRemoteWrite | kRemoteRead);
  buf.fill(std::byte{0x5a});
  const LocalBuffer src{buf.data(), 64, (*mr)->lkey()};

  ASSERT_TRUE(conn->post_rdma_write(1, {&src, 1}, {durable.addr + 64, durable.rkey, 64}));
  ASSERT_TRUE(conn->post_rdma_flush(2, {durable.addr + 64, durable.rkey, 64}));
  EXPECT_EQ(conn->post_rdma_flush(3, {durable.addr, durable.rkey, 0}).error(),
            std::errc::invalid_argument);
  EXPECT_EQ(peer.pending_work(), 2u);
  EXPECT_EQ(peer.complete_all(), 2u);
  std::array<Completion, 4> c{};
  ASSERT_EQ(conn->poll(c).value_or(0), 2u);
  EXPECT_EQ(c[0].wr_id, 1u);
  EXPECT_EQ(c[1].wr_id, 2u);
  EXPECT_EQ(c[1].type, WorkType::kRdmaWrite);
  EXPECT_TRUE(c[1].ok);
  EXPECT_EQ(peer.region(durable.rkey)[64], std::byte{0x5a}) << "the WRITE, not the FLUSH, moved it";

  // Out of bounds, or a region without kRemoteFlush: REM_ACCESS_ERR, and the QP breaks.
  ASSERT_TRUE(conn->post_rdma_flush(4, {durable.addr + 4000, durable.rkey, 200}));
  ASSERT_TRUE(conn->post_rdma_flush(5, {volatile_only.addr, volatile_only.rkey, 64}));
  peer.complete_all();
  ASSERT_EQ(conn->poll(c).value_or(0), 2u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(c[1].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_TRUE(peer.in_error());

  FakePeer other;
  auto conn2 = other.connect_flush_capable(limits);
  const RemoteBuffer r2 = other.add_region(4096, kRemoteRead);
  ASSERT_TRUE(conn2->post_rdma_flush(1, {r2.addr, r2.rkey, 8}));
  other.complete_all();
  ASSERT_EQ(conn2->poll(c).value_or(0), 1u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_REM_ACCESS_ERR) << "remote read is not flush access";
}

TEST(FakeRdmaFlush, TakesASendQueueSlotAndSharesInjectedFaults) {
  FakePeer peer;
  QueueLimits limits;
  limits.send_depth = 1;
  auto conn = peer.connect_flush_capable(limits);
  const RemoteBuffer r = peer.add_region(4096, rdma::kRemoteFlush);
  ASSERT_TRUE(conn->post_rdma_flush(1, r));
  EXPECT_EQ(conn->post_rdma_flush(2, r).error(), std::errc::not_enough_memory);
  peer.complete_all();
  std::array<Completion, 2> c{};
  ASSERT_EQ(conn->poll(c).value_or(0), 1u);
  EXPECT_TRUE(c[0].ok);
  peer.fail_next_post(std::make_error_code(std::errc::io_error));
  EXPECT_EQ(conn->post_rdma_flush(3, r).error(), std::errc::io_error);
  peer.fail_next(WorkType::kRdmaWrite, IBV_WC_RETRY_EXC_ERR);
  ASSERT_TRUE(conn->post_rdma_flush(4, r));
  peer.complete_all();
  ASSERT_EQ(conn->poll(c).value_or(0), 1u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_RETRY_EXC_ERR);
}

// --- post_chain: several send-queue requests in one post, some unsignalled -----------------

// WRITE, WRITE (unsignalled) then SEND (signalled): run in order, one post, one completion;
// the unsignalled requests keep their slots until that completion is polled.
TEST_F(FakeRdma, ChainRunsInOrderAndOnlyTheSignalledOneCompletes) {
  const auto a = peer.add_region(16);
  const auto b = peer.add_region(16);
  std::memcpy(buf.data(), "0123456789abcdefSRP_RSP", 23);
  const LocalBuffer l1 = local(0, 16), l2 = local(0, 16), l3 = local(16, 7);
  const rdma::SendWork chain[] = {{1, WorkType::kRdmaWrite, {&l1, 1}, a, false},
                                  {2, WorkType::kRdmaWrite, {&l2, 1}, b, false},
                                  {3, WorkType::kSend, {&l3, 1}, {}, true}};
  ASSERT_TRUE(conn->post_chain(chain));
  ASSERT_EQ(peer.send_posts().size(), 1u);
  ASSERT_EQ(peer.send_posts()[0].size(), 3u);
  EXPECT_FALSE(peer.send_posts()[0][0].signaled);
  EXPECT_TRUE(peer.send_posts()[0][2].signaled);
  EXPECT_EQ(peer.send_slots_held(), 3u);
  EXPECT_EQ(peer.complete_all(), 3u);
  EXPECT_EQ(std::memcmp(peer.region(a.rkey).data(), "0123456789abcdef", 16), 0);
  EXPECT_EQ(std::memcmp(peer.region(b.rkey).data(), "0123456789abcdef", 16), 0);
  EXPECT_EQ(peer.send_slots_held(), 3u);  // ran, but nothing polled yet
  const auto c = poll_all();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].wr_id, 3u);
  EXPECT_TRUE(c[0].ok);
  EXPECT_EQ(peer.send_slots_held(), 0u);
}

// The slots of unsignalled requests count against send_depth (4 here) until a later
// completion is polled.
TEST_F(FakeRdma, UnsignalledRequestsHoldTheirSlotsUntilALaterCompletion) {
  const auto a = peer.add_region(8);
  const LocalBuffer l = local(0, 8);
  const rdma::SendWork three[] = {{1, WorkType::kRdmaWrite, {&l, 1}, a, false},
                                  {2, WorkType::kRdmaWrite, {&l, 1}, a, false},
                                  {3, WorkType::kRdmaWrite, {&l, 1}, a, true}};
  ASSERT_TRUE(conn->post_chain(three));
  // Room for one more, not two: all or nothing.
  const rdma::SendWork two[] = {{4, WorkType::kRdmaWrite, {&l, 1}, a, false},
                                {5, WorkType::kRdmaWrite, {&l, 1}, a, true}};
  auto full = conn->post_chain(two);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), std::errc::not_enough_memory);
  EXPECT_EQ(peer.send_posts().size(), 1u);
  peer.complete_all();
  EXPECT_FALSE(conn->post_chain(two));  // ran, not polled: still taken
  EXPECT_EQ(poll_all().size(), 1u);
  EXPECT_TRUE(conn->post_chain(two));
}

// A failing unsignalled request reports its error; everything after it flushes, the
// signalled SEND included; every slot comes back.
TEST_F(FakeRdma, FailedUnsignalledRequestReportsAndTheRestFlush) {
  const auto a = peer.add_region(8);
  const LocalBuffer l = local(0, 8);
  peer.fail_next(WorkType::kRdmaWrite, IBV_WC_REM_ACCESS_ERR);
  const rdma::SendWork chain[] = {{1, WorkType::kRdmaWrite, {&l, 1}, a, false},
                                  {2, WorkType::kRdmaWrite, {&l, 1}, a, false},
                                  {3, WorkType::kSend, {&l, 1}, {}, true}};
  ASSERT_TRUE(conn->post_chain(chain));
  peer.complete_all();
  const auto c = poll_all();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].wr_id, 1u);
  EXPECT_EQ(c[0].vendor_status, IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(c[1].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_EQ(c[2].wr_id, 3u);
  EXPECT_EQ(c[2].vendor_status, IBV_WC_WR_FLUSH_ERR);
  EXPECT_EQ(peer.send_slots_held(), 0u);
}

TEST_F(FakeRdma, ChainThatCannotReturnItsSlotsOrFailsToPostPostsNothing) {
  const auto a = peer.add_region(8);
  const LocalBuffer l = local(0, 8);
  const rdma::SendWork open_end[] = {{1, WorkType::kRdmaWrite, {&l, 1}, a, true},
                                     {2, WorkType::kRdmaWrite, {&l, 1}, a, false}};
  auto r = conn->post_chain(open_end);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  EXPECT_FALSE(conn->post_chain({}));
  peer.fail_next_post(std::make_error_code(std::errc::io_error));
  const rdma::SendWork ok[] = {{1, WorkType::kRdmaWrite, {&l, 1}, a, false},
                               {2, WorkType::kSend, {&l, 1}, {}, true}};
  r = conn->post_chain(ok);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::io_error);
  EXPECT_TRUE(peer.send_posts().empty());
  EXPECT_EQ(peer.send_slots_held(), 0u);
  EXPECT_TRUE(conn->post_chain(ok));
}

}  // namespace
}  // namespace tgt_pmem::testing
