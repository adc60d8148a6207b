// SPDX-License-Identifier: GPL-2.0-only
// A mirrored LUN's primary (mirror/primary.h over mirror/rdma_replica.h) against the REAL
// push-mode service of a secondary (iser_ext/src), in one process: the primary's connects
// run on their own threads (BackgroundConnect) and hand over Bridges (tests/fakes/
// push_bridge.h) into the service; the secondary's generations live in a real MetaStore as
// bs_pmem keeps them. The test plays tgtd's loop (turn()). Bugs each test catches are named.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <atomic>
#include <random>

#include "fake_loop.h"
#include "memory_medium.h"
#include "mirror/meta_format.h"
#include "mirror/meta_store.h"
#include "mirror/primary.h"
#include "mirror/rdma_replica.h"
#include "push_service_fixture.h"
#include "tgt_pmem/flush/recording.h"

namespace tgt_pmem::bs::mirror {
namespace {

using namespace std::chrono_literals;
using O = MirrorWriter::Outcome;
using S = MirrorWriter::State;
using P = MirrorWriter::Policy;
using push::service_fixture::kInitiator;
using push::service_fixture::kIqn;
using push::service_fixture::kLunSize;

constexpr std::uint32_t kShift = 16;  // 16 regions of 64 KiB

// The connections the test offers the primary's connects, and the bridges alive. Shared with
// the connect threads, which may outlive the fixture (an attempt abandoned at its end).
struct Offers {
  std::mutex mu;
  std::deque<std::unique_ptr<testing::Bridge>> ready;
  std::vector<testing::Bridge*> live;  // touched on the test's thread only while it runs
};

// A Bridge that keeps itself in `live` while it exists: the session that owns it may be
// destroyed (a lost link) while the test still turns the bridges.
class TrackedBridge final : public testing::Bridge {
 public:
  TrackedBridge(testing::FakePeer peer, std::shared_ptr<Offers> offers)
      : Bridge(std::move(peer)), offers_(std::move(offers)) {
    offers_->live.push_back(this);
  }
  ~TrackedBridge() override { std::erase(offers_->live, static_cast<testing::Bridge*>(this)); }

 private:
  std::shared_ptr<Offers> offers_;
};

class PrimaryAgainstService : public push::service_fixture::ServiceFixture {
 protected:
  PrimaryAgainstService()
      : pmeta_mem_(store_size_for(kLunSize, kShift)),
        smeta_mem_(store_size_for(kLunSize, kShift)),
        pmedium_(std::span<std::byte>(pmeta_mem_), pflusher_),
        smedium_(std::span<std::byte>(smeta_mem_), sflusher_),
        primary_mem_(kLunSize),
        secondary_mem_(kLunSize) {
    std::mt19937_64 rng(7);
    for (auto& b : primary_mem_) b = std::byte(rng() & 0xff);  // data the primary had
  }
  ~PrimaryAgainstService() override {
    if (replica_) replica_->stop();
    primary_.reset();
    replica_.reset();
  }

  // The secondary: LUN 2 of the service, with its mirror metadata (role secondary).
  void make_secondary(Generations g, Role role = Role::kSecondary,
                      std::uint64_t size = kLunSize) {
    auto s = MetaStore::format(smedium_, {role, g, kLunSize, kShift});
    ASSERT_TRUE(s) << s.error();
    smeta_ = std::move(*s);
    push::PushLun l = memory_lun(1, 2, std::span<std::byte>(secondary_mem_).first(size),
                                 secondary_persisted_);
    l.mirror_get = [this] {
      const Record r = smeta_->record();
      return push::PushLun::MirrorView{
          r.role == Role::kSecondary ? push::MirrorRole::kSecondary : push::MirrorRole::kPrimary,
          {r.generations.current, r.generations.bitmap, r.generations.history[0],
           r.generations.history[1]}};
    };
    l.mirror_set = [this](const push::MirrorGenerations& g) {
      const Record r = smeta_->record();
      if (r.role != Role::kSecondary) return -EPERM;
      return smeta_->update(r.role, {g.current, g.bitmap, {g.history0, g.history1}}) ? 0 : -EIO;
    };
    service.attach(std::move(l));
  }

  void make_primary(P policy, Generations g = {0x50, 0, {}}) {
    auto s = MetaStore::format(pmedium_, {Role::kPrimary, g, kLunSize, kShift});
    ASSERT_TRUE(s) << s.error();
    pmeta_ = std::move(*s);
    RdmaReplica::Config c;
    c.session.initiator_name = kInitiator;
    c.session.target_name = kIqn;
    c.session.lun = 2;
    c.session.timeout = 2s;
    c.session.piece_bytes = 64 * 1024;
    c.session.pieces = 4;
    c.peer = "192.0.2.1:5566";
    c.lun_size = kLunSize;
    c.retry_min = 1000ms;
    replica_ = std::make_unique<RdmaReplica>(
        loop, c,
        [offers = offers_]() -> rdma_host::BackgroundConnect::Result {
          std::lock_guard lock(offers->mu);
          if (offers->ready.empty())
            return std::unexpected(std::make_error_code(std::errc::connection_refused));
          auto b = std::move(offers->ready.front());
          offers->ready.pop_front();
          return std::unique_ptr<rdma::Connection>(std::move(b));
        },
        RdmaReplica::Events{
            [this](const Generations& g) {
              ++ups_;
              if (!primary_->on_secondary_up(g)) replica_->drop({EPERM, std::generic_category()}, "refused");
            },
            [this](std::error_code ec, const std::string& what) {
              ++downs_;
              primary_->on_secondary_down(ec, what);
            }});
    primary_ = std::make_unique<MirrorPrimary>(
        *pmeta_, *replica_, policy, std::span<const std::byte>(primary_mem_), "lun 1",
        [this](bool, const std::string& s) { logs_.push_back(s); });
  }

  // A connection the primary's next connect attempt gets (the service accepted it).
  void offer_connection() {
    testing::FakePeer peer = listener.connect_request({});
    pump_service();
    peer.set_auto_complete(true);
    auto b = std::make_unique<TrackedBridge>(peer, offers_);
    std::lock_guard lock(offers_->mu);
    offers_->ready.push_back(std::move(b));
  }

  // Turns the loop until pred holds (5 s at most: then the test fails, it does not hang).
  template <class Pred>
  bool turn_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      loop.run_ready();
      pump_service();
      for (std::size_t i = 0; i < offers_->live.size(); ++i) offers_->live[i]->pump();
      replica_->poll();
      replica_->tick();
      primary_->tick(loop.now());
      std::this_thread::sleep_for(100us);
    }
    return pred();
  }

  struct Result {
    bool done = false;
    O outcome = O::kLocalFailed;
  };
  // A SCSI write of the primary: the local half copies into the primary's memory.
  Result& write(std::uint64_t offset, std::size_t len, int seed) {
    auto& d = buffers_.emplace_back(len);
    for (std::size_t i = 0; i < len; ++i) d[i] = std::byte((i * 31 + seed) & 0xff);
    auto& r = results_.emplace_back();
    primary_->writer().submit(
        offset, d,
        [this, offset, &d](MirrorWriter::LocalDone done) {
          std::memcpy(primary_mem_.data() + offset, d.data(), d.size());
          done({});
        },
        [&r](O o, std::error_code) {
          r.done = true;
          r.outcome = o;
        });
    return r;
  }

  bool copies_equal() const { return primary_mem_ == secondary_mem_; }
  bool persisted_covers(std::uint64_t off, std::uint64_t len) const {
    for (auto [o, l] : secondary_persisted_)
      if (o <= off && off + len <= o + l) return true;
    return false;
  }
  bool logged(const std::string& part) const {
    for (const auto& l : logs_)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
  // Brings a fresh pair to synchronous: a full resync of the primary's data.
  void bring_up(P policy) {
    make_secondary({});  // blank
    make_primary(policy);
    offer_connection();
    replica_->start();
    ASSERT_TRUE(turn_until([&] {
      return replica_->available() && primary_->writer().state() == S::kSynchronous &&
             !primary_->writer().resync_progress().running;
    })) << "link " << to_string(replica_->link()) << ": " << replica_->last_failure();
  }

  std::vector<std::byte> pmeta_mem_, smeta_mem_;
  flush::RecordingFlusher pflusher_, sflusher_;
  testing::MemoryMedium pmedium_, smedium_;
  std::unique_ptr<MetaStore> pmeta_, smeta_;
  std::vector<std::byte> primary_mem_, secondary_mem_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> secondary_persisted_;
  std::shared_ptr<Offers> offers_ = std::make_shared<Offers>();
  std::unique_ptr<RdmaReplica> replica_;
  std::unique_ptr<MirrorPrimary> primary_;
  std::deque<std::vector<std::byte>> buffers_;
  std::deque<Result> results_;
  std::vector<std::string> logs_;
  int ups_ = 0, downs_ = 0;
};

// Bug caught: a new secondary that is not given the primary's data (or is given it without
// its generation recorded), or a write answered before the secondary made it durable.
TEST_F(PrimaryAgainstService, AFullResyncThenEveryWriteIsDurableOnBoth) {
  bring_up(P::kFail);
  EXPECT_TRUE(copies_equal()) << "the full resync left the copies different";
  EXPECT_EQ(smeta_->record().generations.current, pmeta_->record().generations.current);
  EXPECT_EQ(replica_->durability(), "commit");
  Result& r = write(3 * 65536 + 512, 8192, 1);
  ASSERT_TRUE(turn_until([&] { return r.done; }));
  EXPECT_EQ(r.outcome, O::kGood);
  EXPECT_TRUE(persisted_covers(3 * 65536 + 512, 8192)) << "GOOD before the secondary's COMMIT";
  EXPECT_TRUE(copies_equal());
}

// Bug caught: the secondary's push limits (1 GiB per REGISTER, 4 GiB per connection by
// default) refusing the primary's registration of the whole LUN: no LUN larger than them
// could be mirrored. Here the limits are a quarter of the LUN.
TEST_F(PrimaryAgainstService, TheSecondarysPushLimitsDoNotStopTheMirror) {
  push::SessionLimits l;
  l.max_register = kLunSize / 4;
  l.max_exposed = kLunSize / 4;
  l.register_per_second = kLunSize / 4;
  service.set_limits(l);
  service.exposure().max_per_initiator = kLunSize / 4;
  bring_up(P::kFail);
  EXPECT_TRUE(copies_equal());
  Result& r = write(5 * 65536, 4096, 2);
  ASSERT_TRUE(turn_until([&] { return r.done; }));
  EXPECT_EQ(r.outcome, O::kGood);
  EXPECT_TRUE(copies_equal());
}

// Bug caught: with policy degrade, a write acknowledged on the primary alone whose region is
// not resynchronised when the secondary comes back (the copies stay different), or a resync
// in the wrong direction.
TEST_F(PrimaryAgainstService, DegradeThenTheBitmapResyncMakesTheCopiesEqual) {
  bring_up(P::kDegrade);
  const Generations before = pmeta_->record().generations;
  service.close_all("the secondary's tgtd goes away");
  // An idle link's loss is found by the next write: its RDMA WRITE fails.
  Result& r = write(5 * 65536, 4096, 2);
  ASSERT_TRUE(turn_until([&] { return r.done; }));
  EXPECT_EQ(r.outcome, O::kGood);
  EXPECT_EQ(primary_->writer().state(), S::kDegraded);
  EXPECT_EQ(pmeta_->record().generations.bitmap, before.current) << "the generation did not move on";
  EXPECT_TRUE(pmeta_->bitmap().is_marked(5));
  EXPECT_FALSE(copies_equal());

  offer_connection();
  loop.advance(60s);  // past the backoff
  ASSERT_TRUE(turn_until([&] {
    return primary_->writer().state() == S::kSynchronous && !primary_->writer().resync_progress().running;
  })) << to_string(primary_->writer().state());
  EXPECT_TRUE(copies_equal()) << "the resync missed a region written while degraded";
  EXPECT_EQ(smeta_->record().generations.current, pmeta_->record().generations.current);
  EXPECT_EQ(pmeta_->record().generations.bitmap, 0u);
  EXPECT_TRUE(logged("resync from the bitmap")) << (logs_.empty() ? "" : logs_.back());
}

// Bug caught: policy fail acknowledging a write the secondary does not have.
TEST_F(PrimaryAgainstService, FailPolicyAcknowledgesNothingWhileTheSecondaryIsGone) {
  bring_up(P::kFail);
  service.close_all("the secondary's tgtd goes away");
  Result& inflight = write(0, 4096, 3);
  ASSERT_TRUE(turn_until([&] { return inflight.done; }));
  EXPECT_NE(inflight.outcome, O::kGood);
  Result& later = write(65536, 4096, 4);
  ASSERT_TRUE(turn_until([&] { return later.done; }));
  EXPECT_EQ(later.outcome, O::kNotReplicated);
  EXPECT_EQ(primary_->writer().state(), S::kStopped);
  EXPECT_TRUE(std::memcmp(primary_mem_.data() + 65536, buffers_.back().data(), 4096) != 0)
      << "policy fail wrote the primary alone";
}

// Bug caught: with policy fail, a secondary lost while the link was idle found only by the
// next write, which is then on the primary alone (refused, but written).
TEST_F(PrimaryAgainstService, FailPolicyKnowsAnIdleLossBeforeTheNextWrite) {
  bring_up(P::kFail);
  service.close_all("the secondary's tgtd goes away");
  ASSERT_TRUE(turn_until([&] { return !replica_->available(); }));
  EXPECT_EQ(downs_, 1);
  Result& r = write(2 * 65536, 4096, 5);
  ASSERT_TRUE(turn_until([&] { return r.done; }));
  EXPECT_EQ(r.outcome, O::kNotReplicated);
  EXPECT_NE(std::memcmp(primary_mem_.data() + 2 * 65536, buffers_.back().data(), 4096), 0)
      << "written on the primary alone";
}

// Bug caught: split brain (both copies written apart) merged, or resynchronised over.
TEST_F(PrimaryAgainstService, SplitBrainIsRefusedAndNothingIsCopied) {
  make_secondary({0x77, 0x60, {}});  // went on apart from generation 0x60
  make_primary(P::kDegrade, {0x88, 0x60, {}});
  offer_connection();
  replica_->start();
  ASSERT_TRUE(turn_until([&] { return logged("refused"); }));
  EXPECT_TRUE(logged("split brain")) << logs_.back();
  EXPECT_FALSE(replica_->available());
  EXPECT_TRUE(std::all_of(secondary_mem_.begin(), secondary_mem_.end(),
                          [](std::byte b) { return b == std::byte{0}; }))
      << "data copied over a split brain";
  EXPECT_EQ(smeta_->record().generations.current, 0x77u);
  // Retried later, logged once.
  offer_connection();
  loop.advance(60s);
  ASSERT_TRUE(turn_until([&] { return ups_ == 2 && !replica_->available(); }));
  EXPECT_EQ(std::count_if(logs_.begin(), logs_.end(),
                          [](const std::string& l) {
                            return l.find("the secondary is refused") != std::string::npos;
                          }),
            1);
}

TEST_F(PrimaryAgainstService, APeerThatIsNoSecondaryOrOfAnotherSizeIsNotUsed) {
  make_secondary({}, Role::kPrimary);
  make_primary(P::kDegrade);
  offer_connection();
  replica_->start();
  ASSERT_TRUE(turn_until([&] { return downs_ >= 1; }));
  EXPECT_EQ(ups_, 0);
  EXPECT_NE(replica_->last_failure().find("mirror primary itself"), std::string::npos)
      << replica_->last_failure();
  EXPECT_EQ(replica_->link(), RdmaReplica::Link::kWaiting);
}

TEST_F(PrimaryAgainstService, NoListenerMeansRetriesWithBackoffNotABlockedLoop) {
  make_secondary({});
  make_primary(P::kDegrade);
  replica_->start();  // no connection offered: the connect is refused
  ASSERT_TRUE(turn_until([&] { return downs_ == 1; }));
  EXPECT_EQ(replica_->last_error(), std::errc::connection_refused);
  // No new attempt before the backoff has passed.
  const auto until = std::chrono::steady_clock::now() + 50ms;
  while (std::chrono::steady_clock::now() < until) turn_until([] { return true; });
  EXPECT_EQ(downs_, 1);
  loop.advance(1500ms);
  offer_connection();
  ASSERT_TRUE(turn_until([&] { return replica_->available(); })) << replica_->last_failure();
}

}  // namespace
}  // namespace tgt_pmem::bs::mirror
