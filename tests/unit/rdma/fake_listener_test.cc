// SPDX-License-Identifier: GPL-2.0-only
// The fake Listener and PendingConnection: the connection life cycle protocol tests drive.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "fake_rdma.h"

namespace tgt_pmem::testing {
namespace {

using rdma::EventType;
using rdma::ListenerEvent;
using rdma::QueueLimits;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

ListenerEvent next(FakeListener& l) {
  auto e = l.next_event();
  EXPECT_TRUE(e.has_value());
  EXPECT_TRUE(e->has_value());
  return std::move(**e);
}

bool idle(FakeListener& l) {
  auto e = l.next_event();
  return e.has_value() && !e->has_value();
}

TEST(FakeListener, RequestAcceptEstablishDisconnect) {
  FakeListener listener(4711);
  EXPECT_EQ(listener.port(), 4711);
  EXPECT_TRUE(idle(listener));
  FakeRequest req;
  req.peer_address = "192.0.2.9:1234";
  req.local_node_guid = 0x1122334455667788;
  req.responder_resources = 4;
  req.initiator_depth = 8;
  FakePeer peer = listener.connect_request(bytes({1, 2, 3}), req);

  ListenerEvent e = next(listener);
  ASSERT_EQ(e.type, EventType::kConnectRequest);
  ASSERT_NE(e.pending, nullptr);
  // As over RoCE: 56 bytes, what the peer sent and zeros.
  auto expected = bytes({1, 2, 3});
  expected.resize(56);
  EXPECT_EQ(
      std::vector<std::byte>(e.pending->private_data().begin(), e.pending->private_data().end()),
      expected);
  EXPECT_EQ(e.pending->peer_address(), "192.0.2.9:1234");
  EXPECT_EQ(e.pending->local_node_guid(), 0x1122334455667788u);
  EXPECT_EQ(e.pending->peer_responder_resources(), 4);
  EXPECT_EQ(e.pending->peer_initiator_depth(), 8);

  QueueLimits limits;
  limits.rdma_read_depth = 16;
  limits.responder_resources = 16;
  limits.send_depth = 32;
  auto conn = e.pending->accept(limits, bytes({9}));
  ASSERT_TRUE(conn.has_value());
  EXPECT_TRUE(peer.accepted());
  EXPECT_EQ(peer.reply_private_data(), bytes({9}));
  EXPECT_EQ(peer.requested_limits().rdma_read_depth, 16);
  // Negotiated: our RDMA READ depth by the peer's responder resources and vice versa.
  EXPECT_EQ((*conn)->limits().rdma_read_depth, 4);
  EXPECT_EQ((*conn)->limits().responder_resources, 8);
  EXPECT_EQ((*conn)->limits().send_depth, 32u);
  EXPECT_EQ((*conn)->peer_address(), "192.0.2.9:1234");
  e.pending.reset();
  EXPECT_FALSE(peer.rejected());

  ListenerEvent est = next(listener);
  EXPECT_EQ(est.type, EventType::kEstablished);
  EXPECT_EQ(est.connection, conn->get());
  EXPECT_TRUE(idle(listener));

  // Both sides disconnecting: reported once.
  peer.disconnect();
  (*conn)->disconnect();
  ListenerEvent d = next(listener);
  EXPECT_EQ(d.type, EventType::kDisconnected);
  EXPECT_EQ(d.connection, conn->get());
  EXPECT_TRUE(idle(listener));
  EXPECT_TRUE(peer.in_error());
}

TEST(FakeListener, PrivateDataRoomIsThatOfTheTransport) {
  FakeListener listener;
  EXPECT_THROW(listener.connect_request(std::vector<std::byte>(57)), std::invalid_argument);
  FakeRequest iwarp;
  iwarp.private_data_room = 0;
  listener.connect_request(std::vector<std::byte>(64), iwarp);
  EXPECT_EQ(next(listener).pending->private_data().size(), 64u);
  EXPECT_TRUE(idle(listener));
}

TEST(FakeListener, UnansweredRequestIsRejected) {
  FakeListener listener;
  FakePeer peer = listener.connect_request(bytes({1}));
  next(listener).pending.reset();
  EXPECT_TRUE(peer.rejected());
  EXPECT_FALSE(peer.accepted());
  EXPECT_TRUE(peer.reply_private_data().empty());
}

TEST(FakeListener, RejectCarriesPrivateData) {
  FakeListener listener;
  FakePeer peer = listener.connect_request(bytes({1}));
  auto e = next(listener);
  e.pending->reject(bytes({0xc2, 0}));
  EXPECT_TRUE(peer.rejected());
  EXPECT_EQ(peer.reply_private_data(), bytes({0xc2, 0}));
  // Answered once: a later accept is refused.
  EXPECT_FALSE(e.pending->accept({}, {}).has_value());
  EXPECT_TRUE(idle(listener));
}

TEST(FakeListener, FailedAcceptLeavesTheRequestToBeRejected) {
  FakeListener listener;
  FakePeer peer = listener.connect_request({});
  peer.fail_accept(std::make_error_code(std::errc::not_enough_memory));
  auto e = next(listener);
  EXPECT_EQ(e.pending->accept({}, {}).error(), std::make_error_code(std::errc::not_enough_memory));
  EXPECT_FALSE(peer.accepted());
  e.pending.reset();
  EXPECT_TRUE(peer.rejected());
  EXPECT_TRUE(idle(listener));
}

TEST(FakeListener, AcceptRefusesTooMuchPrivateData) {
  FakeListener listener;
  listener.connect_request({});
  auto e = next(listener);
  EXPECT_EQ(e.pending->accept({}, std::vector<std::byte>(197)).error(),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_TRUE(e.pending->accept({}, std::vector<std::byte>(196)).has_value());
}

TEST(FakeListener, EstablishCanBeHeldBack) {
  FakeListener listener;
  listener.set_auto_establish(false);
  FakePeer peer = listener.connect_request({});
  auto conn = next(listener).pending->accept({}, {});
  ASSERT_TRUE(conn.has_value());
  EXPECT_TRUE(idle(listener));
  peer.establish();
  peer.establish();  // reported once
  EXPECT_EQ(next(listener).type, EventType::kEstablished);
  EXPECT_TRUE(idle(listener));
}

TEST(FakeListener, NoEstablishedAfterDisconnected) {
  FakeListener listener;
  listener.set_auto_establish(false);
  FakePeer peer = listener.connect_request({});
  auto conn = next(listener).pending->accept({}, {});
  ASSERT_TRUE(conn.has_value());
  peer.disconnect();
  peer.establish();
  EXPECT_EQ(next(listener).type, EventType::kDisconnected);
  EXPECT_TRUE(idle(listener));
}

TEST(FakeListener, EventsOfADestroyedConnectionAreDropped) {
  FakeListener listener;
  FakePeer peer = listener.connect_request({});
  auto conn = next(listener).pending->accept({}, {});
  ASSERT_TRUE(conn.has_value());
  conn->reset();  // before kEstablished was read
  peer.disconnect();
  EXPECT_TRUE(idle(listener));
  EXPECT_TRUE(peer.connection_destroyed());
}

TEST(FakeListener, EventsComeInOrderAcrossConnections) {
  FakeListener listener;
  FakePeer a = listener.connect_request(bytes({'a'}));
  FakePeer b = listener.connect_request(bytes({'b'}));
  EXPECT_EQ(listener.queued_events(), 2u);
  auto ea = next(listener);
  auto eb = next(listener);
  EXPECT_EQ(ea.pending->private_data()[0], std::byte{'a'});
  EXPECT_EQ(eb.pending->private_data()[0], std::byte{'b'});
  auto cb = eb.pending->accept({}, {});
  ASSERT_TRUE(cb.has_value());
  ea.pending->reject({});
  EXPECT_TRUE(a.rejected());
  EXPECT_TRUE(b.accepted());
  EXPECT_EQ(next(listener).connection, cb->get());
}

TEST(FakeListener, EventErrorCanBeInjected) {
  FakeListener listener;
  listener.fail_next_event(std::make_error_code(std::errc::io_error));
  EXPECT_FALSE(listener.next_event().has_value());
  EXPECT_TRUE(idle(listener));
  EXPECT_EQ(listener.event_fd(), -1);
}

TEST(FakeListener, AcceptedConnectionCarriesData) {
  FakeListener listener;
  FakePeer peer = listener.connect_request({});
  auto conn = next(listener).pending->accept({}, {});
  ASSERT_TRUE(conn.has_value());
  std::array<std::byte, 8> buf{};
  auto mr = (*conn)->register_memory(buf.data(), buf.size(), rdma::kLocalWrite);
  ASSERT_TRUE(mr.has_value());
  ASSERT_TRUE((*conn)->post_recv(3, {buf.data(), 8, (*mr)->lkey()}).has_value());
  EXPECT_TRUE(peer.deliver(bytes({5, 6})));
  std::array<rdma::Completion, 2> out;
  ASSERT_EQ((*conn)->poll(out).value(), 1u);
  EXPECT_EQ(out[0].wr_id, 3u);
  EXPECT_EQ(out[0].byte_len, 2u);
}

TEST(FakeListener, AcceptOffersRdmaFlushWhereTheRequestSaysTheDeviceHasIt) {
  FakeListener listener;
  FakeRequest with_flush;
  with_flush.rdma_flush = true;
  FakePeer flushing_peer = listener.connect_request({}, with_flush);
  FakePeer plain_peer = listener.connect_request({});
  auto flushing = next(listener).pending->accept({}, {});
  auto plain = next(listener).pending->accept({}, {});
  ASSERT_TRUE(flushing.has_value());
  ASSERT_TRUE(plain.has_value());
  EXPECT_NE(dynamic_cast<rdma::FlushCapable*>(flushing->get()), nullptr);
  EXPECT_EQ(dynamic_cast<rdma::FlushCapable*>(plain->get()), nullptr);
  // Its events name the same object.
  EXPECT_EQ(next(listener).connection, flushing->get());
}

}  // namespace
}  // namespace tgt_pmem::testing
