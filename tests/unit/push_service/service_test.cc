// SPDX-License-Identifier: GPL-2.0-only
// The push-mode service (iser_ext/src/push_*.cc) on the fake verbs: the test plays the
// initiator with protocol messages and one-sided RDMA against the regions it registered.
#include <gtest/gtest.h>
#include <malloc.h>
#include <string.h>

#include <infiniband/verbs.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <vector>

#include "fake_loop.h"
#include "fake_rdma.h"
#include "push_service.h"
#include "tgt_pmem/push/protocol.h"

// What the heap still holds when it is given back: while a needle is set, every block freed
// through operator delete is searched for it (the whole block, malloc_usable_size). New and
// delete are replaced together, over malloc and free, so that the pair stays matched (also
// for the sanitizers' allocator); none is inlined, where g++ would take the malloc() and
// free() inside for a mismatch with new and delete expressions.
// Used by ChapSecretIsWipedBeforeItsMemoryIsFreed.
namespace heap_watch {
std::atomic<const char*> needle{nullptr};
std::atomic<std::size_t> needle_len{0};
std::atomic<int> freed_with_needle{0};

void note_free(void* p) noexcept {
  const char* n = needle.load();
  if (n == nullptr || p == nullptr) return;
  if (::memmem(p, ::malloc_usable_size(p), n, needle_len.load()) != nullptr) ++freed_with_needle;
}
}  // namespace heap_watch

__attribute__((noinline)) void* operator new(std::size_t n) {
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return std::malloc(n == 0 ? 1 : n);
}
__attribute__((noinline)) void operator delete(void* p) noexcept {
  heap_watch::note_free(p);
  std::free(p);
}
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept {
  heap_watch::note_free(p);
  std::free(p);
}
__attribute__((noinline)) void operator delete(void* p, const std::nothrow_t&) noexcept {
  heap_watch::note_free(p);
  std::free(p);
}

namespace tgt_pmem::push {
namespace {

constexpr std::size_t kBudget = 256;  // completions per turn, as the runtime gives

using testing::FakeListener;
using testing::FakePeer;

constexpr std::size_t kLunSize = 1 << 20;
const std::string kIqn = "iqn.2024-01.org.tgt-pmem:push";
const std::string kInitiator = "iqn.2024-01.org.tgt-pmem:client";

class FakeHost : public PushHost {
 public:
  std::set<std::string> admitted = {kInitiator};
  bool chap = false;
  std::string chap_user = "alice", chap_pass = "s3cret-s3cret";
  std::vector<std::string> logs;
  std::optional<std::string> target_name(int tid) override {
    if (tid == 1) return kIqn;
    return std::nullopt;
  }
  bool admits(int, const std::string& i, const std::string&) override {
    return admitted.contains(i);
  }
  bool chap_required(int) override { return chap; }
  std::optional<std::string> chap_secret(int, const std::string& user) override {
    if (user == chap_user) return chap_pass;
    return std::nullopt;
  }
  void log(bool, const std::string& m) override { logs.push_back(m); }
};

class PushService : public ::testing::Test {
 protected:
  PushService() {
    PushLun l;
    l.tid = 1;
    l.lun = 1;
    l.base = lun_mem.data();
    l.size = kLunSize;
    l.block_size = 512;
    l.persist = [this](std::uint64_t off, std::uint64_t len) {
      persisted.emplace_back(off, len);
      if (watching != nullptr) sent_at_persist = watching->sent().size();
      return persist_rc;
    };
    lun = service.attach(std::move(l));
  }

  FakePeer connect_peer(testing::FakeRequest request = {}) {
    FakePeer peer = listener.connect_request({}, request);
    pump_listener();
    peer.set_auto_complete(true);
    return peer;
  }
  // The listener's events, through the runtime (its caps included), as tgtd's loop runs them.
  void pump_listener() {
    runtime.on_listener();
    service.reap();
  }
  // tgtd's event loop with nothing else to do: the completion fd fired, then the session is
  // called back (resume) for as long as it gave the loop back while polling.
  void pump() {
    for (auto& [id, s] : service.sessions()) {
      for (auto p = s->on_completions(kBudget); p == Session::Polling::kYield; p = s->resume(kBudget)) ++yields;
    }
    service.reap();
  }
  // Sends msg, returns the one reply.
  std::vector<std::byte> request(FakePeer& peer, const std::vector<std::byte>& msg) {
    EXPECT_TRUE(peer.deliver(msg));
    pump();
    auto sent = peer.take_sent();
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? std::vector<std::byte>{} : sent.back();
  }
  ConnectReply connect(FakePeer& peer, const std::string& initiator = kInitiator,
                       const std::string& target = kIqn, std::uint64_t lun_number = 1) {
    auto r = parse_connect_reply(request(peer, encode(Connect{7, initiator, target, lun_number})));
    EXPECT_TRUE(r);
    return r ? *r : ConnectReply{};
  }
  RegisterReply reg(FakePeer& peer, std::uint64_t off, std::uint64_t len, std::uint8_t access) {
    auto r = parse_register_reply(request(peer, encode(Register{8, off, len, access})));
    EXPECT_TRUE(r);
    return r ? *r : RegisterReply{};
  }
  Status commit(FakePeer& peer, std::uint32_t handle, std::vector<Range> ranges = {}) {
    auto r = parse_simple_reply(MessageType::kCommitReply,
                                request(peer, encode(Commit{9, handle, std::move(ranges)})));
    EXPECT_TRUE(r);
    return r ? r->status : Status::kInternal;
  }
  Status unreg(FakePeer& peer, std::uint32_t handle) {
    auto r = parse_simple_reply(MessageType::kUnregisterReply,
                                request(peer, encode(Unregister{10, handle})));
    EXPECT_TRUE(r);
    return r ? r->status : Status::kInternal;
  }

  std::vector<std::byte> lun_mem = std::vector<std::byte>(kLunSize);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> persisted;
  int persist_rc = 0;
  std::size_t yields = 0;        // times a session gave pump() back while polling
  FakePeer* watching = nullptr;  // whose sent() to look at when persist runs
  std::size_t sent_at_persist = ~std::size_t{0};
  FakeHost host;
  testing::FakeLoop loop;
  rdma_host::Runtime runtime{loop, "push"};
  Service service{host, runtime};
  FakeListener& listener = start_runtime();
  PushLun* lun = nullptr;

 private:
  FakeListener& start_runtime() {
    auto l = std::make_unique<FakeListener>();
    FakeListener& ref = *l;
    EXPECT_TRUE(runtime.start(service, std::move(l)));
    return ref;
  }
};

std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte((i * 31 + seed) & 0xff);
  return v;
}

TEST_F(PushService, RegisterWriteCommitUnregister) {
  FakePeer peer = connect_peer();
  ConnectReply c = connect(peer);
  ASSERT_EQ(c.status, Status::kOk);
  EXPECT_EQ(c.lun_size, kLunSize);
  EXPECT_EQ(c.block_size, 512u);
  RegisterReply r = reg(peer, 64 * 1024, 64 * 1024, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  // Offset addressing: the region's RDMA address is its LUN offset, not tgtd's address of it
  // (issue 14: REGISTER_REPLY gave the peer a pointer into tgtd).
  EXPECT_EQ(r.addr, 64u * 1024);
  auto data = pattern(8192, 3);
  ASSERT_EQ(peer.peer_rdma_write(r.rkey, r.addr + 4096, data), IBV_WC_SUCCESS);
  EXPECT_EQ(std::memcmp(lun_mem.data() + 64 * 1024 + 4096, data.data(), data.size()), 0);
  EXPECT_TRUE(persisted.empty());
  watching = &peer;
  ASSERT_EQ(commit(peer, r.handle, {{4096, 8192}}), Status::kOk);
  ASSERT_EQ(persisted.size(), 1u);
  EXPECT_EQ(sent_at_persist, 0u);  // durable before the reply was even built
  EXPECT_EQ(persisted[0], std::make_pair(std::uint64_t{64 * 1024 + 4096}, std::uint64_t{8192}));
  auto back = peer.peer_rdma_read(r.rkey, r.addr + 4096, 8192);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
  ASSERT_EQ(unreg(peer, r.handle), Status::kOk);
  EXPECT_EQ(peer.peer_rdma_write(r.rkey, r.addr, data), IBV_WC_REM_ACCESS_ERR);
}

TEST_F(PushService, PollsForTheNextRequestOnlyAfterHandlingOne) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  lun->poll_us = 200000;  // long enough to tell apart from not polling at all
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  ASSERT_EQ(commit(peer, r.handle), Status::kOk);
  EXPECT_GE(Clock::now() - t0, std::chrono::microseconds(lun->poll_us))
      << "after a request, the connection is polled for poll_us before the loop gets back";
  // Woken with nothing new (a completion already reaped while polling): no polling.
  t0 = Clock::now();
  auto& session = *service.sessions().begin()->second;
  EXPECT_EQ(session.on_completions(kBudget), Session::Polling::kIdle);
  EXPECT_LT(Clock::now() - t0, std::chrono::microseconds(lun->poll_us / 2));
  // Off (the default): back to the event loop at once.
  lun->poll_us = 0;
  t0 = Clock::now();
  ASSERT_EQ(commit(peer, r.handle), Status::kOk);
  EXPECT_LT(Clock::now() - t0, std::chrono::microseconds(100000));
}

// The wait for the next request counts from the last one: a client that sends its requests
// less than poll_us apart is served by polling all along, however long it goes on.
TEST_F(PushService, PollingFollowsAClientThatKeepsSending) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  using Clock = std::chrono::steady_clock;
  // Margins wide enough for a loaded CI host (a sanitizer build beside other tests): the
  // client's gap is far inside the polling window, and a turn (one slice, 1 ms) far below it.
  const auto gap = std::chrono::milliseconds(50);
  lun->poll_us = 300000;  // > gap, < the 4 gaps the client spends
  constexpr std::size_t kRequests = 5;
  // The client: its next COMMIT `gap` after it saw the reply to the last one.
  Clock::time_point replied{};
  std::size_t delivered = 1;
  peer.on_poll([&] {
    if (delivered == kRequests || peer.sent().size() < delivered) return;
    const auto now = Clock::now();
    if (replied == Clock::time_point{}) replied = now;
    if (now - replied < gap) return;
    ASSERT_TRUE(peer.deliver(encode(Commit{static_cast<std::uint32_t>(20 + delivered), r.handle,
                                           {}})));
    ++delivered;
    replied = {};
  });
  ASSERT_TRUE(peer.deliver(encode(Commit{20, r.handle, {}})));
  const std::size_t arms = peer.arm_calls();
  auto& session = *service.sessions().begin()->second;
  const auto t0 = Clock::now();
  auto longest = Clock::duration::zero();
  std::size_t calls = 0;
  for (bool first = true;; first = false) {
    const auto t = Clock::now();
    const auto p = first ? session.on_completions(kBudget) : session.resume(kBudget);
    longest = std::max(longest, Clock::now() - t);
    ++calls;
    if (p != Session::Polling::kYield) break;
  }
  const auto took = Clock::now() - t0;
  peer.on_poll({});
  EXPECT_EQ(delivered, kRequests);
  ASSERT_EQ(peer.sent().size(), kRequests) << "every request answered within the one wake-up";
  for (const auto& reply : peer.sent()) {
    auto c = parse_simple_reply(MessageType::kCommitReply, reply);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->status, Status::kOk);
  }
  EXPECT_EQ(peer.arm_calls(), arms + 1) << "the completion fd was not needed again";
  EXPECT_GE(took, (kRequests - 1) * gap + std::chrono::microseconds(lun->poll_us));
  EXPECT_GT(calls, 10u) << "the event loop had its turns meanwhile";
  EXPECT_LT(longest, gap) << "a turn is bounded by the slice, not by the client";
}

// A client that never pauses still hands tgtd's event loop back, every Session::kPollSlice.
TEST_F(PushService, ABusyClientStillGivesTheEventLoopBack) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  lun->poll_us = 10000;
  std::uint32_t id = 100;
  peer.on_poll([&] {
    // Bounded, so that a session that never yields fails this test instead of hanging it.
    if (peer.posted_receives() > 0 && id < 1000000) {
      ASSERT_TRUE(peer.deliver(encode(Commit{++id, r.handle, {}})));
    }
  });
  ASSERT_TRUE(peer.deliver(encode(Commit{id, r.handle, {}})));
  auto& session = *service.sessions().begin()->second;
  using Clock = std::chrono::steady_clock;
  // A budget of completions that the slice runs out first (budget_bounds_a_turn: the other).
  constexpr std::size_t kUnbounded = std::size_t{1} << 40;
  for (int turn = 0; turn < 3; ++turn) {
    const std::size_t before = peer.sent().size();
    const auto t0 = Clock::now();
    const auto p = turn == 0 ? session.on_completions(kUnbounded) : session.resume(kUnbounded);
    const auto took = Clock::now() - t0;
    EXPECT_EQ(p, Session::Polling::kYield) << "turn " << turn;
    EXPECT_GE(took, Session::kPollSlice);
    // The slice, not poll_us, bounds a turn (with room for a slow machine).
    EXPECT_LT(took, std::chrono::microseconds(lun->poll_us));
    EXPECT_GT(peer.sent().size(), before) << "requests were served in turn " << turn;
  }
  // The client stops: polling ends poll_us after its last request.
  peer.on_poll({});
  auto p = session.resume(kBudget);
  while (p == Session::Polling::kYield) p = session.resume(kBudget);
  EXPECT_EQ(p, Session::Polling::kIdle);
  EXPECT_EQ(peer.take_sent().size(), std::size_t{id - 99});
}

// The runtime's budget of completions per turn bounds a turn too (issue 14: an event handler
// that served an unbounded stream starved tgtd's other connections and tgtadm).
TEST_F(PushService, TheCompletionBudgetBoundsATurn) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  lun->poll_us = 0;  // not polling: only the budget can end a turn early
  // A client that does not wait for its replies fills every receive at once.
  const std::size_t receives = peer.posted_receives();
  ASSERT_GE(receives, 3u);
  for (std::uint32_t i = 0; i < receives; ++i)
    ASSERT_TRUE(peer.deliver(encode(Commit{100 + i, r.handle, {}})));
  auto& session = *service.sessions().begin()->second;
  const std::size_t before = peer.sent().size();
  EXPECT_EQ(session.on_completions(2), Session::Polling::kYield);
  EXPECT_LE(peer.sent().size() - before, 2u) << "a turn handles at most its budget";
  auto p = session.resume(2);
  while (p == Session::Polling::kYield) p = session.resume(2);
  EXPECT_EQ(p, Session::Polling::kIdle);
  EXPECT_EQ(peer.sent().size() - before, receives) << "every request served, over several turns";
}

// Issue 14: push mode ignored the LUN's read-only state. REGISTER for writing is denied on a
// read-only LUN (tgtadm readonly=1, software write protect), anything on an offline one; a
// writable region registered before the LUN became read-only stops working at once.
TEST_F(PushService, AReadOnlyLunGrantsNoWriteAccessAndRevokesIt) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply w = reg(peer, 0, 4096, kWrite);
  RegisterReply rd = reg(peer, 4096, 4096, kRead);
  ASSERT_EQ(w.status, Status::kOk);
  ASSERT_EQ(rd.status, Status::kOk);
  service.set_access(lun, LunAccess::kRead);
  EXPECT_TRUE(host.logs.back().find("read-only") != std::string::npos) << host.logs.back();
  EXPECT_TRUE(peer.peer_rdma_read(rd.rkey, rd.addr, 512)) << "the read-only region still works";
  const std::vector<std::byte> bytes(512, std::byte{1});
  EXPECT_NE(peer.peer_rdma_write(w.rkey, w.addr, bytes), IBV_WC_SUCCESS)
      << "the writable region's rkey died with the write access";
  // That access broke the connection, as it breaks a real client's: a new one.
  FakePeer again = connect_peer();
  ASSERT_EQ(connect(again).status, Status::kOk);
  EXPECT_EQ(reg(again, 0, 4096, kRead | kWrite).status, Status::kAccessDenied);
  EXPECT_EQ(reg(again, 8192, 4096, kRead).status, Status::kOk) << "reading is still allowed";
}

TEST_F(PushService, AnOfflineLunGrantsNothing) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply rd = reg(peer, 0, 4096, kRead);
  ASSERT_EQ(rd.status, Status::kOk);
  service.set_access(lun, LunAccess::kNone);
  EXPECT_FALSE(peer.peer_rdma_read(rd.rkey, rd.addr, 512)) << "revoked";
  FakePeer again = connect_peer();
  ASSERT_EQ(connect(again).status, Status::kOk);
  EXPECT_EQ(reg(again, 0, 4096, kRead).status, Status::kAccessDenied);
  service.set_access(lun, LunAccess::kReadWrite);
  EXPECT_EQ(reg(again, 0, 4096, kRead | kWrite).status, Status::kOk) << "online again";
}

// Issue 14: COMMIT accepted 128 overlapping whole-region ranges, 128 times the writeback.
TEST_F(PushService, OverlappingCommitRangesAreRefused) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 65536, kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(commit(peer, r.handle, {{0, 65536}, {0, 65536}}), Status::kOutOfRange);
  EXPECT_EQ(commit(peer, r.handle, {{0, 8192}, {4096, 512}}), Status::kOutOfRange);
  EXPECT_TRUE(persisted.empty()) << "nothing persisted for a refused COMMIT";
  EXPECT_EQ(commit(peer, r.handle, {{8192, 512}, {0, 4096}}), Status::kOk) << "order is free";
}

// A large COMMIT is made durable in slices, one per turn of tgtd's loop; the reply comes only
// after the last slice, and no other request is taken meanwhile.
TEST_F(PushService, ALargeCommitIsMadeDurableInSlicesBeforeItsReply) {
  SessionLimits l;
  l.commit_slice = 16384;
  service.set_limits(l);
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 65536, 65536, kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  ASSERT_TRUE(peer.deliver(encode(Commit{50, r.handle, {}})));
  auto& session = *service.sessions().begin()->second;
  EXPECT_EQ(session.on_completions(kBudget), Session::Polling::kYield);
  EXPECT_EQ(persisted.size(), 1u) << "one slice per turn";
  EXPECT_TRUE(peer.take_sent().empty()) << "no reply before the whole range is durable";
  int turns = 1;
  auto p = Session::Polling::kYield;
  while (p == Session::Polling::kYield && turns < 10) {
    p = session.resume(kBudget);
    ++turns;
  }
  EXPECT_EQ(turns, 4);
  ASSERT_EQ(persisted.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(persisted[i], std::make_pair(std::uint64_t{65536 + 16384 * i}, std::uint64_t{16384}));
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  auto reply = parse_simple_reply(MessageType::kCommitReply, sent[0]);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, Status::kOk);
}

TEST_F(PushService, ARequestWhileACommitIsInProgressEndsTheConnection) {
  SessionLimits l;
  l.commit_slice = 4096;
  service.set_limits(l);
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 65536, kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  ASSERT_TRUE(peer.deliver(encode(Commit{50, r.handle, {}})));
  ASSERT_TRUE(peer.deliver(encode(Commit{51, r.handle, {}})));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
}

// Issue 14: REGISTER/UNREGISTER loops pinned and unpinned 4 GiB at a time on tgtd's thread.
TEST_F(PushService, RegistrationIsBoundedPerRequestAndPerSecond) {
  SessionLimits l;
  l.max_register = 16384;
  l.register_per_second = 65536;
  service.set_limits(l);
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  EXPECT_EQ(reg(peer, 0, 32768, kRead).status, Status::kLimitReached) << "over max_register";
  int granted = 0;
  for (int i = 0; i < 8; ++i) {
    RegisterReply r = reg(peer, 0, 16384, kRead);
    if (r.status != Status::kOk) {
      EXPECT_EQ(r.status, Status::kLimitReached);
      break;
    }
    ++granted;
    EXPECT_EQ(unreg(peer, r.handle), Status::kOk);
  }
  EXPECT_EQ(granted, 4) << "64 KiB a second, 16 KiB each";
}

TEST_F(PushService, BytesRegisteredAreCappedPerInitiatorAcrossConnections) {
  service.exposure().max_per_initiator = 8192;
  FakePeer a = connect_peer();
  FakePeer b = connect_peer();
  ASSERT_EQ(connect(a).status, Status::kOk);
  ASSERT_EQ(connect(b).status, Status::kOk);
  ASSERT_EQ(reg(a, 0, 4096, kRead).status, Status::kOk);
  RegisterReply second = reg(b, 4096, 4096, kRead);
  ASSERT_EQ(second.status, Status::kOk);
  EXPECT_EQ(reg(b, 8192, 512, kRead).status, Status::kLimitReached);
  EXPECT_EQ(unreg(b, second.handle), Status::kOk);
  EXPECT_EQ(reg(b, 8192, 512, kRead).status, Status::kOk) << "freed by the UNREGISTER";
}

// Peer-supplied names reach tgtd's log escaped: a newline in an initiator name would forge a
// log line of its own.
TEST_F(PushService, NamesInLogLinesCannotForgeLines) {
  FakePeer p = connect_peer();
  (void)connect(p, "iqn.evil\ntgtd: bs_pmem: opened /dev/dax0.0", kIqn, 1);
  bool seen = false;
  std::vector<std::string> all = host.logs;
  all.insert(all.end(), loop.logs.begin(), loop.logs.end());  // both are tgtd's log
  for (const auto& line : all) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    seen |= line.find("iqn.evil\\x0atgtd") != std::string::npos;
  }
  EXPECT_TRUE(seen);
}

TEST_F(PushService, RepeatedChapFailuresFromOneAddressAreThrottled) {
  host.chap = true;
  for (int i = 0; i < 5; ++i) {
    FakePeer p = connect_peer();
    auto c = connect(p);
    ASSERT_EQ(c.status, Status::kChapRequired);
    auto r = parse_connect_reply(
        request(p, encode(ChapResponse{8, host.chap_user, {}})));  // a wrong response
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, Status::kAuthFailed);
  }
  FakePeer sixth = listener.connect_request({}, {});
  runtime.on_listener();
  EXPECT_TRUE(sixth.rejected()) << "the sixth attempt in a minute is refused outright";
  loop.advance(std::chrono::seconds(61));
  FakePeer later = listener.connect_request({}, {});
  runtime.on_listener();
  EXPECT_TRUE(later.accepted());
}

TEST_F(PushService, CommitWithoutRangesCoversTheWholeRegion) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kWrite);
  ASSERT_EQ(commit(peer, r.handle), Status::kOk);
  ASSERT_EQ(persisted.size(), 1u);
  EXPECT_EQ(persisted[0], std::make_pair(std::uint64_t{0}, std::uint64_t{4096}));
}

TEST_F(PushService, FailedPersistIsReportedNotAcknowledged) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kWrite);
  persist_rc = -EIO;
  EXPECT_EQ(commit(peer, r.handle), Status::kIoError);
}

TEST_F(PushService, AccessOutsideTheRegionIsRefused) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  auto data = pattern(4096, 1);
  EXPECT_EQ(peer.peer_rdma_write(r.rkey, r.addr + 512, data), IBV_WC_REM_ACCESS_ERR);
  EXPECT_EQ(std::memcmp(lun_mem.data() + 4096, pattern(3584, 1).data(), 0), 0);
  EXPECT_TRUE(std::all_of(lun_mem.begin() + 4096, lun_mem.begin() + 8192,
                          [](std::byte b) { return b == std::byte{0}; }));
}

TEST_F(PushService, ReadOnlyHandleRefusesWritesAndCommit) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(peer.peer_rdma_write(r.rkey, r.addr, pattern(512, 2)), IBV_WC_REM_ACCESS_ERR);
}

TEST_F(PushService, CommitOfReadOnlyRegionIsDenied) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead);
  EXPECT_EQ(commit(peer, r.handle), Status::kAccessDenied);
  EXPECT_TRUE(persisted.empty());
}

TEST_F(PushService, HandleOfAnotherConnectionIsWorthless) {
  FakePeer a = connect_peer();
  ASSERT_EQ(connect(a).status, Status::kOk);
  RegisterReply r = reg(a, 0, 4096, kRead | kWrite);
  FakePeer b = connect_peer();
  ASSERT_EQ(connect(b).status, Status::kOk);
  // Handles name regions of their own connection only, by number ...
  EXPECT_EQ(commit(b, r.handle), Status::kNoSuchHandle);
  EXPECT_EQ(unreg(b, r.handle), Status::kNoSuchHandle);
  // ... and by rkey: the region lives in a's protection domain. The access error breaks b's
  // queue pair, as on a real fabric.
  EXPECT_EQ(b.peer_rdma_write(r.rkey, r.addr, pattern(512, 4)), IBV_WC_REM_ACCESS_ERR);
  EXPECT_TRUE(std::all_of(lun_mem.begin(), lun_mem.begin() + 512,
                          [](std::byte x) { return x == std::byte{0}; }));
  // a still works.
  EXPECT_EQ(a.peer_rdma_write(r.rkey, r.addr, pattern(512, 4)), IBV_WC_SUCCESS);
}

TEST_F(PushService, RangesAreCheckedAgainstTheLunAndBlockSize) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  EXPECT_EQ(reg(peer, 100, 4096, kWrite).status, Status::kOutOfRange);           // misaligned
  EXPECT_EQ(reg(peer, 0, 1000, kWrite).status, Status::kOutOfRange);             // length
  EXPECT_EQ(reg(peer, 0, 0, kWrite).status, Status::kOutOfRange);                // empty
  EXPECT_EQ(reg(peer, kLunSize - 512, 1024, kWrite).status, Status::kOutOfRange);  // past end
  EXPECT_EQ(reg(peer, ~0ull - 511, 1024, kWrite).status, Status::kOutOfRange);   // overflow
  RegisterReply r = reg(peer, 0, 4096, kWrite);
  EXPECT_EQ(commit(peer, r.handle, {{0, 8192}}), Status::kOutOfRange);
  EXPECT_TRUE(persisted.empty());
}

TEST_F(PushService, RegionLimitIsEnforced) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(reg(peer, i * 512, 512, kRead).status, Status::kOk);
  EXPECT_EQ(reg(peer, 0, 512, kRead).status, Status::kLimitReached);
}

TEST_F(PushService, UnknownLunAndAclRefusals) {
  FakePeer p1 = connect_peer();
  EXPECT_EQ(connect(p1, kInitiator, kIqn, 2).status, Status::kNoSuchLun);
  EXPECT_FALSE(p1.disconnect_called()) << "an admitted client may ask for another LUN";
  EXPECT_EQ(connect(p1, kInitiator, kIqn, 1).status, Status::kOk);
  FakePeer p2 = connect_peer();
  EXPECT_EQ(connect(p2, "iqn.2024-01.org.tgt-pmem:intruder").status, Status::kNotAdmitted);
  EXPECT_TRUE(p2.disconnect_called());
}

// Issue 14: CONNECT answered "no such LUN" before checking the ACL, so anyone on the fabric
// could list targets and LUNs. A client that is not admitted gets the same answer whether the
// target and LUN exist or not.
TEST_F(PushService, AClientNotAdmittedCannotTellWhichLunsExist) {
  std::vector<std::vector<std::byte>> replies;
  for (const auto& [target, lun_number] :
       std::vector<std::pair<std::string, std::uint64_t>>{{kIqn, 1}, {kIqn, 2}, {"iqn.other", 1}}) {
    FakePeer p = connect_peer();
    replies.push_back(request(p, encode(Connect{7, "iqn.2024-01.org.tgt-pmem:intruder", target,
                                                lun_number})));
    EXPECT_TRUE(p.disconnect_called());
  }
  ASSERT_EQ(replies.size(), 3u);
  auto r = parse_connect_reply(replies[0]);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::kNotAdmitted);
  EXPECT_EQ(replies[1], replies[0]);
  EXPECT_EQ(replies[2], replies[0]);
}

TEST_F(PushService, RequestsBeforeConnectEndTheConnection) {
  FakePeer peer = connect_peer();
  auto reply = request(peer, encode(Register{1, 0, 4096, kWrite}));
  auto h = parse_header(reply);
  ASSERT_TRUE(h);
  EXPECT_TRUE(peer.disconnect_called());
}

TEST_F(PushService, ChapRequiredBlocksRegistrationUntilAnswered) {
  host.chap = true;
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kChapRequired);
  auto reply = request(peer, encode(Register{1, 0, 512, kRead}));
  ASSERT_TRUE(parse_header(reply));
  EXPECT_TRUE(peer.disconnect_called());  // REGISTER before CHAP: not allowed
}

TEST_F(PushService, ChapWithTheRightSecretConnects) {
  host.chap = true;
  FakePeer peer = connect_peer();
  ConnectReply c = connect(peer);
  ASSERT_EQ(c.status, Status::kChapRequired);
  ChapResponse resp{11, host.chap_user, chap_response(c.chap_id, host.chap_pass, c.chap_challenge)};
  auto r = parse_connect_reply(request(peer, encode(resp)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::kOk);
  EXPECT_EQ(reg(peer, 0, 512, kRead).status, Status::kOk);
}

TEST_F(PushService, ChapWithAWrongSecretIsRefused) {
  host.chap = true;
  FakePeer peer = connect_peer();
  ConnectReply c = connect(peer);
  ASSERT_EQ(c.status, Status::kChapRequired);
  ChapResponse resp{11, host.chap_user, chap_response(c.chap_id, "wrong-secret!", c.chap_challenge)};
  auto r = parse_connect_reply(request(peer, encode(resp)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::kAuthFailed);
  EXPECT_TRUE(peer.disconnect_called());
}

// Catches: the copy of a CHAP secret that the session gets from the host (PushHost::
// chap_secret's std::string) given back to the heap with the secret still in it, where the
// next allocation, a core dump or a heap disclosure finds it. The secret is longer than
// std::string's in-object buffer (15 bytes) so that it lives on the heap; a shorter one is
// wiped the same way but in a stack frame, which a test cannot inspect once it is gone. The
// expected response the session computes is on the stack too: this test does not see it.
TEST_F(PushService, ChapSecretIsWipedBeforeItsMemoryIsFreed) {
  host.chap = true;
  host.chap_pass = "a-chap-secret-longer-than-the-sso-buffer";
  for (const bool right : {true, false}) {
    FakePeer peer = connect_peer();
    ConnectReply c = connect(peer);
    ASSERT_EQ(c.status, Status::kChapRequired);
    const auto msg = encode(ChapResponse{
        11, host.chap_user,
        chap_response(c.chap_id, right ? host.chap_pass : "wrong-secret!", c.chap_challenge)});
    heap_watch::freed_with_needle = 0;
    heap_watch::needle_len = host.chap_pass.size();
    heap_watch::needle = host.chap_pass.c_str();
    auto reply = request(peer, msg);
    heap_watch::needle = nullptr;
    auto r = parse_connect_reply(reply);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, right ? Status::kOk : Status::kAuthFailed);
    EXPECT_EQ(heap_watch::freed_with_needle.load(), 0)
        << "the secret was freed unwiped (" << (right ? "right" : "wrong") << " response)";
  }
}

TEST_F(PushService, DisconnectDeregistersEverything) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  ASSERT_EQ(r.status, Status::kOk);
  peer.disconnect();
  pump_listener();
  EXPECT_TRUE(service.sessions().empty());
  EXPECT_TRUE(peer.connection_destroyed());
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
}

TEST_F(PushService, LunRemovalInvalidatesItsRegionsAtOnce) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  service.detach(lun);
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_NE(peer.peer_rdma_write(r.rkey, r.addr, pattern(512, 5)), IBV_WC_SUCCESS);
  EXPECT_EQ(peer.live_regions(), 2u);  // only the session's own message buffers remain
}

// --- RDMA FLUSH: writable regions are registered for it where the registration allows ------

// The service's own receive and send buffers are registered too: the region's registration
// is the last one.
unsigned last_registration_access(const FakePeer& peer) {
  const auto access = peer.registration_access();
  return access.empty() ? 0 : access.back();
}

TEST_F(PushService, WritableRegionsAreOfferedForRdmaFlush) {
  // A connection whose device offers FLUSH, and a plain one: the target's side is the same
  // (FLUSH is the requester's operation; the responder needs only the registration).
  for (const bool flush_capable : {true, false}) {
    SCOPED_TRACE(flush_capable ? "FlushCapable connection" : "plain connection");
    FakePeer peer = connect_peer(testing::FakeRequest{.rdma_flush = flush_capable});
    ASSERT_EQ(connect(peer).status, Status::kOk);
    RegisterReply r = reg(peer, 0, 8192, kRead | kWrite);
    ASSERT_EQ(r.status, Status::kOk);
    EXPECT_EQ(r.flags, std::uint32_t{kRegionFlushable});
    EXPECT_NE(last_registration_access(peer) & rdma::kRemoteFlush, 0u);
    ASSERT_EQ(peer.peer_rdma_write(r.rkey, r.addr, pattern(4096, 1)), IBV_WC_SUCCESS);
    EXPECT_EQ(peer.peer_rdma_flush(r.rkey, r.addr, 4096), IBV_WC_SUCCESS);
    RegisterReply w = reg(peer, 8192, 4096, kWrite);
    EXPECT_EQ(w.flags, std::uint32_t{kRegionFlushable});
    EXPECT_EQ(peer.peer_rdma_flush(w.rkey, w.addr, 4096), IBV_WC_SUCCESS);
  }
}

TEST_F(PushService, ReadOnlyRegionsAreNotFlushable) {
  FakePeer peer = connect_peer(testing::FakeRequest{.rdma_flush = true});
  ASSERT_EQ(connect(peer).status, Status::kOk);
  RegisterReply r = reg(peer, 0, 4096, kRead);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.flags, 0u);
  EXPECT_EQ(last_registration_access(peer) & rdma::kRemoteFlush, 0u);
  EXPECT_EQ(peer.peer_rdma_flush(r.rkey, r.addr, 4096), IBV_WC_REM_ACCESS_ERR);
}

// A build without RDMA FLUSH (EOPNOTSUPP) or a device that cannot flush that memory (rxe:
// EINVAL for pages that are not pmem): registered again without it, and said so.
TEST_F(PushService, ARegistrationRefusingFlushIsMadeWithoutIt) {
  for (const std::errc refusal : {std::errc::operation_not_supported, std::errc::invalid_argument}) {
    SCOPED_TRACE(std::make_error_code(refusal).message());
    FakePeer peer = connect_peer();
    ASSERT_EQ(connect(peer).status, Status::kOk);
    const std::size_t before = peer.registrations();
    peer.fail_next_registration(std::make_error_code(refusal));
    RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
    ASSERT_EQ(r.status, Status::kOk);
    EXPECT_EQ(r.flags, 0u);
    EXPECT_EQ(peer.registrations(), before + 1);
    EXPECT_EQ(last_registration_access(peer) & rdma::kRemoteFlush, 0u);
    EXPECT_NE(last_registration_access(peer) & rdma::kRemoteWrite, 0u);
    // The region works as before; only FLUSH is not allowed on it.
    const auto data = pattern(4096, 2);
    ASSERT_EQ(peer.peer_rdma_write(r.rkey, r.addr, data), IBV_WC_SUCCESS);
    EXPECT_EQ(std::memcmp(lun_mem.data(), data.data(), data.size()), 0);
    ASSERT_EQ(commit(peer, r.handle), Status::kOk);
    EXPECT_EQ(peer.peer_rdma_flush(r.rkey, r.addr, 4096), IBV_WC_REM_ACCESS_ERR);
  }
}

TEST_F(PushService, ARegistrationFailingBothWaysIsRefusedAsBefore) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  peer.fail_next_registration(std::make_error_code(std::errc::operation_not_supported), 2);
  RegisterReply r = reg(peer, 0, 4096, kRead | kWrite);
  EXPECT_EQ(r.status, Status::kUnsupported);
  EXPECT_EQ(r.flags, 0u);
  peer.fail_next_registration(std::make_error_code(std::errc::not_enough_memory), 2);
  EXPECT_EQ(reg(peer, 0, 4096, kWrite).status, Status::kInternal);
  // A read-only region asks once, without FLUSH.
  peer.fail_next_registration(std::make_error_code(std::errc::operation_not_supported));
  EXPECT_EQ(reg(peer, 0, 4096, kRead).status, Status::kUnsupported);
  RegisterReply ok = reg(peer, 0, 4096, kRead | kWrite);
  EXPECT_EQ(ok.status, Status::kOk);
  EXPECT_EQ(ok.flags, std::uint32_t{kRegionFlushable});
}

// Issue 14: a crashed push client kept its regions pinned forever. The liveness probe finds
// the vanished peer; its session must then go at once, regions and all, without waiting for
// RDMA CM's DISCONNECTED, which a peer that is gone never answers (its DREQ retries take a
// minute or more). Before: the session stayed, its region registered, until DISCONNECTED.
TEST_F(PushService, AVanishedPeersSessionAndRegionsGoWhenTheProbeFails) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  ASSERT_EQ(reg(peer, 0, 64 * 1024, kRead | kWrite).status, Status::kOk);
  ASSERT_EQ(peer.live_regions(), 3u);  // receives, sends, the region
  peer.fail_next(rdma::WorkType::kRdmaWrite, IBV_WC_RETRY_EXC_ERR);
  loop.advance(std::chrono::seconds(31));
  runtime.on_tick();  // quiet for 30 s: probed
  ASSERT_EQ(runtime.counts().probes, 1u);
  runtime.on_link(*service.sessions().begin()->second);  // the probe failed
  EXPECT_EQ(runtime.counts().dead_peers, 1u);
  EXPECT_TRUE(service.sessions().empty()) << "the session waited for a DISCONNECTED";
  EXPECT_EQ(peer.live_regions(), 0u);
  EXPECT_TRUE(peer.connection_destroyed());
  EXPECT_EQ(service.exposure().total, 0u);
}

// MIRROR_STATE (issue 16): a LUN without mirror metadata says so; one with it answers its
// role and generations; a set reaches the LUN's metadata only on a writable secondary, and
// its reply says what was recorded. Bugs these catch: a primary's generations overwritten by
// a peer (split brain made silently), a set on a read-only LUN, a failed record reported ok.
TEST_F(PushService, MirrorStateReadsAndSetsOnlyAWritableSecondary) {
  FakePeer peer = connect_peer();
  ASSERT_EQ(connect(peer).status, Status::kOk);
  auto ask = [&](MirrorState m) {
    auto r = parse_mirror_state_reply(request(peer, encode(m)));
    EXPECT_TRUE(r);
    return r ? *r : MirrorStateReply{};
  };
  EXPECT_EQ(ask(MirrorState{30, 0, {}}).status, Status::kUnsupported) << "not a mirror";

  PushLun::MirrorView view{MirrorRole::kSecondary, MirrorGenerations{0xa, 0, 0, 0}};
  int set_rc = 0;
  std::vector<MirrorGenerations> recorded;
  lun->mirror_get = [&] { return view; };
  lun->mirror_set = [&](const MirrorGenerations& g) {
    if (view.role != MirrorRole::kSecondary) return -EPERM;
    if (set_rc != 0) return set_rc;
    recorded.push_back(g);
    view.generations = g;
    return 0;
  };
  MirrorStateReply r = ask(MirrorState{31, 0, {}});
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.request_id, 31u);
  EXPECT_EQ(r.role, MirrorRole::kSecondary);
  EXPECT_EQ(r.generations.current, 0xau);

  const MirrorGenerations next{0xb, 0, 0xa, 0};
  r = ask(MirrorState{32, kMirrorSet, next});
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.generations, next);
  ASSERT_EQ(recorded.size(), 1u);

  set_rc = -EIO;
  r = ask(MirrorState{33, kMirrorSet, MirrorGenerations{0xc, 0, 0xb, 0xa}});
  EXPECT_EQ(r.status, Status::kIoError) << "not durable: never ok";
  EXPECT_FALSE(host.logs.empty());
  set_rc = 0;

  lun->access = LunAccess::kRead;
  r = ask(MirrorState{34, kMirrorSet, MirrorGenerations{0xd, 0, 0, 0}});
  EXPECT_EQ(r.status, Status::kAccessDenied) << "read-only";
  lun->access = LunAccess::kReadWrite;

  view.role = MirrorRole::kPrimary;
  r = ask(MirrorState{35, kMirrorSet, MirrorGenerations{0xe, 0, 0, 0}});
  EXPECT_EQ(r.status, Status::kAccessDenied) << "a primary's generations are its own";
  EXPECT_EQ(r.generations, next);
  EXPECT_EQ(recorded.size(), 1u);
}

// A secondary LUN's mirror primary (a session that asked MIRROR_STATE of it) registers the
// whole LUN in one region, whatever the limits for other clients. Bug caught: no LUN over
// max_register (1 GiB by default) could be mirrored at all (the handshake's REGISTER was
// refused), while ordinary clients keep every limit.
TEST_F(PushService, TheMirrorPrimaryRegistersTheWholeLunBeyondTheLimits) {
  SessionLimits l;
  l.max_register = 16384;
  l.max_exposed = 16384;
  l.register_per_second = 16384;
  service.set_limits(l);
  service.exposure().max_per_initiator = 16384;
  lun->mirror_get = [] {
    return PushLun::MirrorView{MirrorRole::kSecondary, MirrorGenerations{0xa, 0, 0, 0}};
  };
  FakePeer plain = connect_peer();
  ASSERT_EQ(connect(plain).status, Status::kOk);
  EXPECT_EQ(reg(plain, 0, kLunSize, kRead | kWrite).status, Status::kLimitReached)
      << "a client that is no mirror primary keeps the limits";

  FakePeer primary = connect_peer();
  ASSERT_EQ(connect(primary).status, Status::kOk);
  auto st = parse_mirror_state_reply(request(primary, encode(MirrorState{50, 0, {}})));
  ASSERT_TRUE(st);
  ASSERT_EQ(st->role, MirrorRole::kSecondary);
  EXPECT_EQ(reg(primary, 0, kLunSize - 512, kRead | kWrite).status, Status::kLimitReached)
      << "only the whole LUN, in one region";
  RegisterReply whole = reg(primary, 0, kLunSize, kRead | kWrite);
  ASSERT_EQ(whole.status, Status::kOk);
  EXPECT_EQ(primary.peer_rdma_write(whole.rkey, whole.addr + kLunSize - 512, pattern(512, 9)),
            IBV_WC_SUCCESS);
  EXPECT_EQ(reg(primary, 0, kLunSize, kRead | kWrite).status, Status::kLimitReached)
      << "once per connection";
}

// A primary that reconnected after a cut link left its old connection behind (no disconnect
// reached the secondary), pinning the whole LUN. Bug caught: every cut pinning the LUN once
// more until a liveness probe or the LUN's removal happened to end the old one.
TEST_F(PushService, ANewMirrorPrimaryRetiresTheOldOneAndItsRegionAtOnce) {
  lun->mirror_get = [] {
    return PushLun::MirrorView{MirrorRole::kSecondary, MirrorGenerations{0xa, 0, 0, 0}};
  };
  auto become_primary = [&](FakePeer& p) {
    ASSERT_EQ(connect(p).status, Status::kOk);
    ASSERT_TRUE(parse_mirror_state_reply(request(p, encode(MirrorState{51, 0, {}}))));
  };
  FakePeer old_one = connect_peer();
  become_primary(old_one);
  RegisterReply old_region = reg(old_one, 0, kLunSize, kRead | kWrite);
  ASSERT_EQ(old_region.status, Status::kOk);
  FakePeer other = connect_peer();  // a plain client of the same LUN: left alone
  ASSERT_EQ(connect(other).status, Status::kOk);
  RegisterReply other_region = reg(other, 0, 4096, kRead | kWrite);
  ASSERT_EQ(other_region.status, Status::kOk);

  FakePeer new_one = connect_peer();
  become_primary(new_one);
  EXPECT_TRUE(old_one.disconnect_called());
  EXPECT_NE(old_one.peer_rdma_write(old_region.rkey, old_region.addr, pattern(512, 3)),
            IBV_WC_SUCCESS)
      << "the old primary's region must be gone at once";
  EXPECT_FALSE(other.disconnect_called());
  EXPECT_EQ(other.peer_rdma_write(other_region.rkey, other_region.addr, pattern(512, 4)),
            IBV_WC_SUCCESS);
  RegisterReply fresh = reg(new_one, 0, kLunSize, kRead | kWrite);
  EXPECT_EQ(fresh.status, Status::kOk);
  EXPECT_FALSE(new_one.disconnect_called());
}

TEST_F(PushService, MirrorStateBeforeConnectEndsTheSession) {
  FakePeer peer = connect_peer();
  auto reply = request(peer, encode(MirrorState{40, 0, {}}));
  auto r = parse_simple_reply(MessageType::kCommitReply, reply);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::kBadRequest);
}

}  // namespace
}  // namespace tgt_pmem::push
