// SPDX-License-Identifier: GPL-2.0-only
// The device-independent pieces of the real implementation (utils/rdma/src/verbs_util.h).
#include "verbs_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <infiniband/verbs.h>
#include <netinet/in.h>

#include <cstring>
#include <set>

namespace tgt_pmem::rdma::detail {
namespace {

TEST(VerbsAccess, MapsToIbvFlags) {
  EXPECT_EQ(to_ibv_access(0), 0u);
  EXPECT_EQ(to_ibv_access(kLocalWrite), unsigned{IBV_ACCESS_LOCAL_WRITE});
  EXPECT_EQ(to_ibv_access(kRemoteRead), unsigned{IBV_ACCESS_REMOTE_READ});
  // Verbs refuses remote write without local write.
  EXPECT_EQ(to_ibv_access(kRemoteWrite),
            unsigned{IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE});
  EXPECT_EQ(to_ibv_access(kLocalWrite | kRemoteRead | kRemoteWrite),
            unsigned{IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE});
#if TGTPMEM_HAVE_IBV_WR_FLUSH
  EXPECT_EQ(to_ibv_access(kRemoteFlush), unsigned{IBV_ACCESS_FLUSH_PERSISTENT});
  EXPECT_EQ(
      to_ibv_access(kRemoteWrite | kRemoteFlush),
      unsigned{IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_FLUSH_PERSISTENT});
#else
  // rdma-core < 45 has no flag for it: register_memory refuses kRemoteFlush (EOPNOTSUPP).
  EXPECT_EQ(to_ibv_access(kRemoteFlush), 0u);
#endif
}

TEST(VerbsAddress, ParsesAndFormatsIpv4) {
  auto a = parse_address("192.0.2.7", 4420);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->ss_family, AF_INET);
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&*a)), "192.0.2.7:4420");
}

TEST(VerbsAddress, ParsesAndFormatsIpv6) {
  auto a = parse_address("2001:db8::1", 5555);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->ss_family, AF_INET6);
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&*a)), "[2001:db8::1]:5555");
  auto any = parse_address("::", 0);
  ASSERT_TRUE(any.has_value());
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&*any)), "[::]:0");
}

TEST(VerbsAddress, RefusesNamesAndGarbage) {
  for (const char* bad : {"", "localhost", "1.2.3", "1.2.3.4:80", "[::1]", "::g"})
    EXPECT_EQ(parse_address(bad, 1).error(), std::make_error_code(std::errc::invalid_argument))
        << bad;
}

TEST(VerbsAddress, FormatsUnknownAsQuestionMark) {
  EXPECT_EQ(format_address(nullptr), "?");
  sockaddr_storage s{};
  s.ss_family = AF_UNIX;
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&s)), "?");
}

TEST(VerbsDepths, ClampedByPeerAndDevice) {
  QueueLimits limits;
  limits.rdma_read_depth = 16;
  limits.responder_resources = 32;
  Depths d = negotiate_depths(limits, /*peer_responder=*/8, /*peer_initiator=*/64, 128, 128);
  EXPECT_EQ(d.initiator_depth, 8);               // the peer serves 8 of our READs at a time
  EXPECT_EQ(d.responder_resources, 32);          // we serve at most what we offered
  d = negotiate_depths(limits, 255, 255, 4, 2);  // a small device
  EXPECT_EQ(d.initiator_depth, 4);
  EXPECT_EQ(d.responder_resources, 2);
  d = negotiate_depths(limits, 0, 0, 128, 128);  // a peer that serves no READs
  EXPECT_EQ(d.initiator_depth, 0);
  EXPECT_EQ(d.responder_resources, 0);
}

TEST(VerbsWorkSlots, RemembersIdAndTypeUntilReleased) {
  WorkSlots slots(3);
  const auto a = slots.acquire(100, WorkType::kRdmaRead);
  const auto b = slots.acquire(100, WorkType::kRecv);  // a caller may reuse wr_ids
  const auto c = slots.acquire(7, WorkType::kSend);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  EXPECT_EQ((std::set<std::int64_t>{a, b, c}).size(), 3u);
  EXPECT_EQ(slots.acquire(1, WorkType::kSend), -1);
  EXPECT_EQ(slots.in_use(), 3u);

  WorkSlots::Entry e;
  ASSERT_TRUE(slots.release(static_cast<std::uint64_t>(b), e));
  EXPECT_EQ(e.wr_id, 100u);
  EXPECT_EQ(e.type, WorkType::kRecv);
  EXPECT_FALSE(slots.release(static_cast<std::uint64_t>(b), e));  // twice
  EXPECT_FALSE(slots.release(99, e));                             // never handed out
  const auto d = slots.acquire(8, WorkType::kRdmaWrite);
  EXPECT_EQ(d, b);  // the freed slot is reused
  ASSERT_TRUE(slots.release(static_cast<std::uint64_t>(a), e));
  EXPECT_EQ(e.type, WorkType::kRdmaRead);
  EXPECT_EQ(slots.in_use(), 2u);
}

}  // namespace
}  // namespace tgt_pmem::rdma::detail
