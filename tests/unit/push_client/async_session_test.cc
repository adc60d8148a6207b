// SPDX-License-Identifier: GPL-2.0-only
// The loop-driven push client (iser_ext/async_client) against the REAL push-mode service,
// in-process over a Bridge (tests/fakes/push_bridge.h). Nothing here waits: the test plays
// the loop, turning the service and the session (turn()) until the callbacks have run.
// The durability bug each test catches is named at the test.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "async_session.h"
#include "push_service_fixture.h"
#include "tgt_pmem/push/client.h"

namespace tgt_pmem::push {
namespace {

using service_fixture::kInitiator;
using service_fixture::kIqn;
using service_fixture::kLunSize;
using testing::Bridge;
using testing::FakePeer;

class AsyncSessionTest : public service_fixture::ServiceFixture {
 protected:
  static AsyncSession::Options options() {
    AsyncSession::Options o;
    o.initiator_name = kInitiator;
    o.target_name = kIqn;
    o.lun = 1;
    o.timeout = std::chrono::milliseconds(2000);
    return o;
  }

  std::unique_ptr<AsyncSession> open(AsyncSession::Options o = options()) {
    FakePeer peer = listener.connect_request({});
    pump_service();
    peer.set_auto_complete(true);
    auto b = std::make_unique<Bridge>(peer);
    bridge = b.get();
    auto s = AsyncSession::make(std::move(b), o);
    EXPECT_TRUE(s.has_value());
    return s ? std::move(*s) : nullptr;
  }

  // One turn of the loop: the service, the bridge's deliveries, the session.
  void turn(AsyncSession& s, int turns = 8) {
    for (int i = 0; i < turns; ++i) {
      pump_service();
      bridge->pump();
      s.on_completions();
    }
  }

  // login + REGISTER of the whole LUN, read-write.
  Region ready(AsyncSession& s) {
    std::optional<std::error_code> in;
    EXPECT_FALSE(s.login([&](std::error_code ec, const ConnectReply& r) {
      in = ec;
      EXPECT_EQ(r.lun_size, kLunSize);
    }));
    Region region;
    std::optional<std::error_code> reg;
    EXPECT_FALSE(s.register_region(0, kLunSize, kRead | kWrite,
                                   [&](std::error_code ec, const Region& r) {
                                     reg = ec;
                                     region = r;
                                   }));
    turn(s);
    EXPECT_EQ(in, std::error_code());
    EXPECT_EQ(reg, std::error_code());
    return region;
  }

  bool persisted_covers(std::uint64_t off, std::uint64_t len) const {
    for (auto [o, l] : persisted)
      if (o <= off && off + len <= o + l) return true;
    return false;
  }

  Bridge* bridge = nullptr;
};

// Bug caught: a write reported durable when its RDMA WRITE completed but before the target
// made it durable (COMMIT answered). The callback checks the target's persist() saw the range.
TEST_F(AsyncSessionTest, AWriteIsDurableOnlyOnceTheCommitCoveringItWasAnswered) {
  auto s = open();
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const auto data = pattern(8192, 5);
  bool done = false;
  ASSERT_FALSE(s->write_durable(region, 3 * 4096, data, [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(persisted_covers(3 * 4096, data.size())) << "durable before the COMMIT";
    done = true;
  }));
  EXPECT_FALSE(done) << "a callback from inside the call that started it";
  turn(*s);
  EXPECT_TRUE(done);
  EXPECT_EQ(std::memcmp(lun_mem.data() + 3 * 4096, data.data(), data.size()), 0);
  EXPECT_FALSE(s->uses_rdma_flush(region));  // the plain Bridge cannot post RDMA FLUSH
  EXPECT_EQ(s->outstanding(), 0u);
}

// Writes posted while a COMMIT is outstanding share the next one: fewer round trips than
// writes, and still every one covered.
TEST_F(AsyncSessionTest, CommitsAreBatchedAndEveryWriteIsCovered) {
  auto s = open();
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const std::size_t sends_before = bridge->sends;
  std::vector<std::vector<std::byte>> data;
  int done = 0;
  for (int i = 0; i < 10; ++i) data.push_back(pattern(4096, i));
  for (int i = 0; i < 10; ++i)
    ASSERT_FALSE(s->write_durable(region, 4096u * (2 * i), data[i], [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      EXPECT_TRUE(persisted_covers(4096u * (2 * i), 4096)) << i;
      ++done;
    }));
  turn(*s);
  EXPECT_EQ(done, 10);
  const std::size_t commits = bridge->sends - sends_before;
  EXPECT_GE(commits, 1u);
  EXPECT_LT(commits, 10u) << "one COMMIT per write: no batching";
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(std::memcmp(lun_mem.data() + 4096 * (2 * i), data[i].data(), 4096), 0) << i;
}

// Bug caught: a write larger than the staging area cut wrongly (a piece lost, overlapped or
// reordered), or its COMMIT sent before its last piece was posted.
TEST_F(AsyncSessionTest, AWriteLargerThanStagingGoesInPieces) {
  auto o = options();
  o.piece_bytes = 4096;
  o.pieces = 2;
  auto s = open(o);
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const auto big = pattern(64 * 1024 + 512, 9);
  const auto small = pattern(4096, 1);
  int order = 0, big_at = 0, small_at = 0;
  ASSERT_FALSE(s->write_durable(region, 512, big, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    EXPECT_TRUE(persisted_covers(512, big.size()));
    big_at = ++order;
  }));
  ASSERT_FALSE(s->write_durable(region, 512 * 1024, small, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    small_at = ++order;
  }));
  turn(*s, 64);
  EXPECT_EQ(big_at, 1);
  EXPECT_EQ(small_at, 2);
  EXPECT_EQ(std::memcmp(lun_mem.data() + 512, big.data(), big.size()), 0);
  EXPECT_EQ(std::memcmp(lun_mem.data() + 512 * 1024, small.data(), small.size()), 0);
}

TEST_F(AsyncSessionTest, ChapAndRefusals) {
  host.chap = true;
  {
    auto o = options();
    o.chap_user = "alice";
    o.chap_secret = "s3cret-s3cret";
    auto s = open(o);
    ASSERT_TRUE(s);
    ready(*s);
  }
  for (auto [user, secret, want] :
       {std::tuple{"alice", "wrong-secret!", Status::kAuthFailed},
        std::tuple{"", "", Status::kChapRequired}}) {
    auto o = options();
    o.chap_user = user;
    o.chap_secret = secret;
    auto s = open(o);
    ASSERT_TRUE(s);
    std::optional<std::error_code> in;
    ASSERT_FALSE(s->login([&](std::error_code ec, const ConnectReply&) { in = ec; }));
    turn(*s);
    ASSERT_TRUE(in.has_value());
    EXPECT_EQ(target_status(*in), want) << in->message();
  }
  host.chap = false;
  host.admitted.clear();
  auto s = open();
  ASSERT_TRUE(s);
  std::optional<std::error_code> in;
  ASSERT_FALSE(s->login([&](std::error_code ec, const ConnectReply&) { in = ec; }));
  turn(*s);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(target_status(*in), Status::kNotAdmitted);
}

TEST_F(AsyncSessionTest, MirrorStateReadsAndSetsTheSecondarysGenerations) {
  MirrorGenerations stored{0x11, 0, 0x22, 0};
  std::vector<std::byte> mem(kLunSize);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> lun2_persisted;
  PushLun l = memory_lun(1, 2, mem, lun2_persisted);
  l.mirror_get = [&] { return PushLun::MirrorView{MirrorRole::kSecondary, stored}; };
  l.mirror_set = [&](const MirrorGenerations& g) {
    stored = g;
    return 0;
  };
  service.attach(std::move(l));
  auto o = options();
  o.lun = 2;
  auto s = open(o);
  ASSERT_TRUE(s);
  std::optional<MirrorStateReply> got, set;
  ASSERT_FALSE(s->login([](std::error_code ec, const ConnectReply&) { EXPECT_FALSE(ec); }));
  ASSERT_FALSE(s->mirror_state({}, [&](std::error_code ec, const MirrorStateReply& r) {
    EXPECT_FALSE(ec);
    got = r;
  }));
  MirrorState m;
  m.flags = kMirrorSet;
  m.generations = {0x33, 0, 0x11, 0x22};
  ASSERT_FALSE(s->mirror_state(m, [&](std::error_code ec, const MirrorStateReply& r) {
    EXPECT_FALSE(ec);
    set = r;
  }));
  turn(*s);
  ASSERT_TRUE(got && set);
  EXPECT_EQ(got->role, MirrorRole::kSecondary);
  EXPECT_EQ(got->generations, (MirrorGenerations{0x11, 0, 0x22, 0}));
  EXPECT_EQ(set->generations, m.generations);
  EXPECT_EQ(stored, m.generations);

  // The fixture's LUN 1 has no mirror metadata.
  auto plain = open();
  ASSERT_TRUE(plain);
  std::optional<std::error_code> refused;
  ASSERT_FALSE(plain->login([](std::error_code, const ConnectReply&) {}));
  ASSERT_FALSE(plain->mirror_state({}, [&](std::error_code ec, const MirrorStateReply&) {
    refused = ec;
  }));
  turn(*plain);
  ASSERT_TRUE(refused);
  EXPECT_EQ(target_status(*refused), Status::kUnsupported);
}

// Bug caught: a write whose secondary went away left hanging (the SCSI command never
// completes) or reported durable.
TEST_F(AsyncSessionTest, TheTargetGoingAwayFailsEveryOutstandingWriteOnce) {
  auto s = open();
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const auto data = pattern(4096, 2);
  int failed = 0, succeeded = 0;
  for (int i = 0; i < 3; ++i)
    ASSERT_FALSE(s->write_durable(region, 4096u * i, data, [&](std::error_code ec) {
      (ec ? failed : succeeded)++;
    }));
  service.close_all("the test closes the service");
  turn(*s);
  EXPECT_EQ(succeeded, 0);
  EXPECT_EQ(failed, 3);
  EXPECT_TRUE(s->broken());
  EXPECT_EQ(s->write_durable(region, 0, data, [](std::error_code) { ADD_FAILURE(); }),
            make_error_code(ClientError::kBroken));
  turn(*s);
  EXPECT_EQ(failed, 3);
}

// Bug caught: a secondary that died while the link was idle found only by the next write
// (which policy fail then answers after writing the primary alone).
TEST_F(AsyncSessionTest, AnIdleSessionNoticesItsTargetGoingAway) {
  auto s = open();
  ASSERT_TRUE(s);
  ready(*s);
  turn(*s);
  EXPECT_FALSE(s->broken());
  service.close_all("the target goes away");
  turn(*s);
  EXPECT_TRUE(s->broken()) << "nothing outstanding, and the loss went unnoticed";
}

// Bug caught: a target that stops answering (its process hung, the NIC still acks) stalls the
// mirror's writes for ever.
TEST_F(AsyncSessionTest, NoReplyWithinTheTimeoutBreaksTheSession) {
  auto s = open();
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const auto data = pattern(4096, 4);
  std::optional<std::error_code> result;
  ASSERT_FALSE(s->write_durable(region, 0, data, [&](std::error_code ec) { result = ec; }));
  s->on_completions();  // the WRITE and the COMMIT go out; the service is never turned
  s->check_timeouts(AsyncSession::Clock::now());
  EXPECT_FALSE(result.has_value());
  s->check_timeouts(AsyncSession::Clock::now() + std::chrono::seconds(3));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, std::errc::timed_out);
  EXPECT_TRUE(s->broken());
}

TEST_F(AsyncSessionTest, RefusesWhatItCannotDo) {
  auto s = open();
  ASSERT_TRUE(s);
  const Region region = ready(*s);
  const auto data = pattern(4096, 4);
  auto never = [](std::error_code) { ADD_FAILURE() << "called back for a refused write"; };
  EXPECT_EQ(s->write_durable(region, kLunSize - 512, data, never), std::errc::invalid_argument);
  EXPECT_EQ(s->write_durable(region, 0, {}, never), std::errc::invalid_argument);
  Region read_only = region;
  read_only.access = kRead;
  EXPECT_EQ(s->write_durable(read_only, 0, data, never), std::errc::invalid_argument);
  auto o = options();
  o.pieces = 0;
  EXPECT_FALSE(AsyncSession::make(std::make_unique<Bridge>(listener.connect_request({})), o));
  turn(*s);
}

}  // namespace
}  // namespace tgt_pmem::push
