// SPDX-License-Identifier: GPL-2.0-only
// The runtime that hosts the RDMA services in tgtd (tgt_pmem/rdma_host/runtime.h), on the fake
// verbs and a fake event loop, with a minimal protocol. Each test names the attack or failure
// it defends against (issue 14).
#include "tgt_pmem/rdma_host/runtime.h"

#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "fake_loop.h"
#include "fake_rdma.h"

namespace tgt_pmem::rdma_host {
namespace {

using namespace std::chrono_literals;
using testing::FakeListener;
using testing::FakeLoop;
using testing::FakePeer;
using testing::FakeRequest;

// A link that only reaps its completions; the test says when it is admitted.
class TestLink final : public Link {
 public:
  explicit TestLink(std::unique_ptr<rdma::Connection> c) : conn_(std::move(c)) { conn_->user = this; }
  rdma::Connection& connection() const noexcept override { return *conn_; }
  Turn on_completions(std::size_t budget) override { return resume(budget); }
  Turn resume(std::size_t budget) override {
    ++turns;
    if (yield_turns > 0) {
      --yield_turns;
      return Turn::kYield;
    }
    rdma::Completion wcs[8];
    for (std::size_t taken = 0; taken < budget;) {
      auto n = conn_->poll(wcs);
      if (!n || *n == 0) break;
      taken += *n;
      for (std::size_t i = 0; i < *n; ++i)
        if (!runtime_completion(wcs[i])) ++own_completions;
    }
    return Turn::kIdle;
  }
  bool admitted() const noexcept override { return admitted_; }
  bool finished() const noexcept override { return disconnected; }
  void close(const std::string& why) override {
    closed_because = why;
    conn_->disconnect();
  }
  void hear() { heard(); }

  bool admitted_ = false;
  bool disconnected = false;
  int yield_turns = 0;
  int turns = 0;
  int own_completions = 0;
  std::string closed_because;

 private:
  std::unique_ptr<rdma::Connection> conn_;
};

class TestProtocol final : public Protocol {
 public:
  explicit TestProtocol(Runtime& r) : runtime_(r) {}
  ~TestProtocol() override {
    for (auto& [id, l] : links) runtime_.remove(*l);
  }
  Link* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) override {
    auto c = pending->accept({}, {});
    if (!c) return nullptr;
    auto l = std::make_unique<TestLink>(std::move(*c));
    TestLink* raw = l.get();
    runtime_.add(*raw);
    links[raw->id()] = std::move(l);
    return raw;
  }
  void refuse(rdma::PendingConnection& pending, const std::string& why) override {
    refusals.push_back(why);
    pending.reject({});
  }
  void on_disconnected(rdma::Connection& c) override {
    static_cast<TestLink*>(c.user)->disconnected = true;
  }
  void reap() override {
    ++reaps;
    for (auto it = links.begin(); it != links.end();) {
      if (it->second->finished()) {
        runtime_.remove(*it->second);
        it = links.erase(it);
      } else {
        ++it;
      }
    }
  }
  void close_all(const std::string& why) override {
    for (auto& [id, l] : links) l->close(why);
  }

  std::map<std::uint64_t, std::unique_ptr<TestLink>> links;
  std::vector<std::string> refusals;
  int reaps = 0;

 private:
  Runtime& runtime_;
};

class RdmaRuntime : public ::testing::Test {
 protected:
  explicit RdmaRuntime(Limits limits = small_limits()) : runtime(loop, "test", limits) {
    auto l = std::make_unique<FakeListener>();
    listener = l.get();
    EXPECT_TRUE(runtime.start(protocol, std::move(l)));
  }
  static Limits small_limits() {
    Limits l;
    l.max_connections = 6;
    l.max_connections_per_peer = 4;
    l.max_unadmitted = 5;
    l.max_unadmitted_per_peer = 2;
    l.handshake_timeout = 10s;
    l.idle_probe = 30s;
    return l;
  }
  FakePeer request(const std::string& address) {
    FakeRequest r;
    r.peer_address = address;
    FakePeer p = listener->connect_request({}, r);
    runtime.on_listener();
    return p;
  }
  FakeLoop loop;
  Runtime runtime;
  TestProtocol protocol{runtime};
  FakeListener* listener = nullptr;
};

// Attack: a peer opens connection after connection and never logs in, holding queue pairs
// and buffers. Only max_unadmitted_per_peer of them are accepted; others are still served.
TEST_F(RdmaRuntime, ConnectionsNotLoggedInAreCappedPerPeer) {
  EXPECT_TRUE(request("192.0.2.7:1000").accepted());
  EXPECT_TRUE(request("192.0.2.7:1001").accepted());
  FakePeer third = request("192.0.2.7:1002");
  EXPECT_FALSE(third.accepted());
  EXPECT_TRUE(third.rejected());
  ASSERT_EQ(protocol.refusals.size(), 1u);
  EXPECT_NE(protocol.refusals[0].find("not yet logged in from one address"), std::string::npos);
  EXPECT_TRUE(loop.logged("192.0.2.7:1002 refused"));
  EXPECT_TRUE(request("192.0.2.8:1000").accepted()) << "another address is not held up";
  EXPECT_EQ(runtime.counts().refused, 1u);
}

// Once logged in, a connection no longer counts against the handshake caps.
TEST_F(RdmaRuntime, AdmittedConnectionsFreeTheHandshakeCap) {
  EXPECT_TRUE(request("192.0.2.7:1000").accepted());
  EXPECT_TRUE(request("192.0.2.7:1001").accepted());
  for (auto& [id, l] : protocol.links) l->admitted_ = true;
  EXPECT_TRUE(request("192.0.2.7:1002").accepted());
  EXPECT_TRUE(request("192.0.2.7:1003").accepted());
  // ... but the per-peer cap on all connections holds (4).
  EXPECT_FALSE(request("192.0.2.7:1004").accepted());
  EXPECT_NE(protocol.refusals.back().find("connections from one address (4)"), std::string::npos);
}

TEST_F(RdmaRuntime, TotalCapsHoldAcrossPeers) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(request("192.0.2." + std::to_string(10 + i) + ":1").accepted());
  EXPECT_FALSE(request("192.0.2.99:1").accepted()) << "max_unadmitted (5)";
  for (auto& [id, l] : protocol.links) l->admitted_ = true;
  EXPECT_TRUE(request("192.0.2.99:1").accepted());
  EXPECT_FALSE(request("192.0.2.98:1").accepted()) << "max_connections (6)";
  EXPECT_NE(protocol.refusals.back().find("the connection limit (6)"), std::string::npos);
}

// Attack: connect and send nothing. The connection is closed after the handshake timeout.
TEST_F(RdmaRuntime, AConnectionThatNeverLogsInIsClosed) {
  FakePeer silent = request("192.0.2.7:1000");
  FakePeer good = request("192.0.2.8:1000");
  protocol.links.rbegin()->second->admitted_ = true;
  loop.advance(9s);
  runtime.on_tick();
  EXPECT_FALSE(silent.disconnect_called());
  loop.advance(2s);
  runtime.on_tick();
  EXPECT_TRUE(silent.disconnect_called());
  EXPECT_FALSE(good.disconnect_called()) << "a logged-in connection is not timed out";
  EXPECT_EQ(runtime.counts().handshake_timeouts, 1u);
  EXPECT_NE(protocol.links.begin()->second->closed_because.find("not logged in within 10 s"),
            std::string::npos);
}

// Failure: the peer's host crashed without a disconnect. A quiet connection is probed with a
// zero-length RDMA WRITE; when the transport gives up on it, the connection is closed (and
// its regions, and their pinned memory, with it).
TEST_F(RdmaRuntime, AVanishedPeerIsFoundByALivenessProbe) {
  FakePeer peer = request("192.0.2.7:1000");
  TestLink& link = *protocol.links.begin()->second;
  link.admitted_ = true;
  peer.set_auto_complete(true);
  loop.advance(29s);
  runtime.on_tick();
  EXPECT_EQ(runtime.counts().probes, 0u) << "not quiet long enough";
  loop.advance(2s);
  runtime.on_tick();
  EXPECT_EQ(runtime.counts().probes, 1u);
  runtime.on_link(link);  // the probe's completion: ok, the peer lives
  EXPECT_EQ(link.own_completions, 0) << "the probe's completion is the runtime's";
  EXPECT_FALSE(peer.disconnect_called());
  runtime.on_tick();
  EXPECT_EQ(runtime.counts().probes, 1u) << "heard from just now: no probe";
  // Now the peer is gone: the next probe fails after the transport's retries.
  peer.fail_next(rdma::WorkType::kRdmaWrite, IBV_WC_RETRY_EXC_ERR);
  loop.advance(31s);
  runtime.on_tick();
  EXPECT_EQ(runtime.counts().probes, 2u);
  runtime.on_link(link);
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_EQ(runtime.counts().dead_peers, 1u);
  EXPECT_NE(link.closed_because.find("liveness probe"), std::string::npos);
}

// A probe the transport never answers: the initiator chose the retry count and timeout in its
// connection request, and Soft-RoCE (6.12) takes a retry count of 7 as "retry for ever" (seen
// in the guest: a probe over a cut link stayed posted for 80 s, the connection and its region
// with it). After probe_timeout the peer is taken as gone.
TEST_F(RdmaRuntime, AProbeLeftUnansweredMeansThePeerIsGone) {
  FakePeer peer = request("192.0.2.7:1000");
  TestLink& link = *protocol.links.begin()->second;
  link.admitted_ = true;  // no auto-complete: the probe stays posted, as over a dead link
  loop.advance(31s);
  runtime.on_tick();
  ASSERT_EQ(runtime.counts().probes, 1u);
  loop.advance(29s);
  runtime.on_tick();
  EXPECT_FALSE(peer.disconnect_called()) << "the probe is not overdue yet";
  loop.advance(2s);
  runtime.on_tick();
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_TRUE(link.peer_gone());
  EXPECT_EQ(runtime.counts().dead_peers, 1u);
  EXPECT_NE(link.closed_because.find("within 30 s"), std::string::npos);
  loop.advance(60s);
  runtime.on_tick();
  EXPECT_EQ(runtime.counts().dead_peers, 1u) << "closed once";
  EXPECT_EQ(runtime.counts().probes, 1u) << "no probe of a closed link";
}

TEST_F(RdmaRuntime, APeerHeardFromIsNotProbed) {
  FakePeer peer = request("192.0.2.7:1000");
  TestLink& link = *protocol.links.begin()->second;
  link.admitted_ = true;
  for (int i = 0; i < 5; ++i) {
    loop.advance(20s);
    link.hear();  // a request every 20 s
    runtime.on_tick();
  }
  EXPECT_EQ(runtime.counts().probes, 0u);
}

// Attack: a peer keeps a queue pair busy so that one event handler never returns. A link
// that stops at its budget is called again through its eventfd, after tgtd's other events.
TEST_F(RdmaRuntime, ALinkThatYieldsIsResumedOnTheNextTurnOfTheLoop) {
  FakePeer peer = request("192.0.2.7:1000");
  TestLink& link = *protocol.links.begin()->second;
  link.yield_turns = 2;
  runtime.on_link(link);
  EXPECT_EQ(link.turns, 1);
  EXPECT_EQ(loop.run_ready(), 1u) << "its eventfd is readable: one more turn";
  EXPECT_EQ(link.turns, 2);
  EXPECT_EQ(loop.run_ready(), 1u);
  EXPECT_EQ(link.turns, 3);
  EXPECT_EQ(loop.run_ready(), 0u) << "idle: nothing more until its completion fd";
  EXPECT_EQ(runtime.counts().yields, 2u);
}

// tgt completes commands re-entrantly: a link must not be destroyed under a caller.
TEST_F(RdmaRuntime, FinishedLinksAreReapedOnlyOutsideEveryEntryPoint) {
  FakePeer peer = request("192.0.2.7:1000");
  const int before = protocol.reaps;
  {
    Runtime::Enter outer(runtime);
    {
      Runtime::Enter inner(runtime);
      protocol.links.begin()->second->disconnected = true;
    }
    EXPECT_EQ(protocol.reaps, before);
    EXPECT_EQ(protocol.links.size(), 1u);
  }
  EXPECT_EQ(protocol.reaps, before + 1);
  EXPECT_TRUE(protocol.links.empty());
  EXPECT_EQ(runtime.links(), 0u);
}

// Attack: a peer makes tgtd log line after line (refused logins, bad requests) to fill the
// disk and drown everything else. Lines about one peer are capped per minute; the rest are
// counted and said once.
TEST_F(RdmaRuntime, LogLinesAboutOnePeerAreRateLimited) {
  for (int i = 0; i < 100; ++i) runtime.log_peer("192.0.2.7", true, "line " + std::to_string(i));
  runtime.log_peer("192.0.2.8", true, "another peer");
  EXPECT_EQ(loop.logs.size(), 21u) << "20 about 192.0.2.7, 1 about 192.0.2.8";
  EXPECT_EQ(runtime.counts().log_lines_suppressed, 80u);
  loop.advance(61s);
  runtime.log_peer("192.0.2.7", true, "a new minute");
  EXPECT_TRUE(loop.logged("80 more messages about 192.0.2.7 were not logged"));
  EXPECT_TRUE(loop.logged("a new minute"));
}

// Peer-supplied names in log lines: a newline would forge a whole log line.
TEST(RdmaHostText, EscapeKeepsPeerTextOnOneLine) {
  EXPECT_EQ(escape("iqn.2024-01.org.example:client"), "iqn.2024-01.org.example:client");
  EXPECT_EQ(escape("evil\ntgtd: bs_pmem: opened /dev/dax0.0"),
            "evil\\x0atgtd: bs_pmem: opened /dev/dax0.0");
  EXPECT_EQ(escape(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape("back\\slash"), "back\\x5cslash");
  EXPECT_EQ(escape("\xff"), "\\xff");
  EXPECT_EQ(escape(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(RdmaHostText, HostOfStripsThePort) {
  EXPECT_EQ(host_of("192.0.2.7:34960"), "192.0.2.7");
  EXPECT_EQ(host_of("[2001:db8::1]:5"), "2001:db8::1");
  EXPECT_EQ(host_of("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(host_of("?"), "?");
}

// The two services used to map listen() errors apart (EADDRNOTAVAIL differently).
TEST(RdmaHostText, ListenErrorsAreClassifiedOnce) {
  EXPECT_EQ(classify_listen_error(std::make_error_code(std::errc::no_such_device)),
            ListenFailure::kNoDevice);
  EXPECT_EQ(classify_listen_error(std::make_error_code(std::errc::address_not_available)),
            ListenFailure::kNoDevice);
  EXPECT_EQ(classify_listen_error(std::make_error_code(std::errc::address_in_use)),
            ListenFailure::kAddressInUse);
  EXPECT_EQ(classify_listen_error(std::make_error_code(std::errc::io_error)), ListenFailure::kOther);
}

// An administrator sets the limits in tgtd's environment; a typo must not become a limit of
// 0 (no connections at all) silently.
TEST(RdmaHostLimits, ComeFromTheEnvironmentAndBadValuesAreReported) {
  ::setenv("TGTPMEM_RDMA_MAX_CONNECTIONS", "300", 1);
  ::setenv("TGTPMEM_RDMA_IDLE_PROBE_S", "0", 1);
  ::setenv("TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER", "eight", 1);
  ::setenv("TGTPMEM_RDMA_HANDSHAKE_TIMEOUT_MS", "5", 1);  // below the 100 ms floor
  std::vector<std::string> bad;
  const Limits l = limits_from_environment(bad);
  ::unsetenv("TGTPMEM_RDMA_MAX_CONNECTIONS");
  ::unsetenv("TGTPMEM_RDMA_IDLE_PROBE_S");
  ::unsetenv("TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER");
  ::unsetenv("TGTPMEM_RDMA_HANDSHAKE_TIMEOUT_MS");
  EXPECT_EQ(l.max_connections, 300u);
  EXPECT_EQ(l.idle_probe.count(), 0);
  EXPECT_EQ(l.max_unadmitted_per_peer, Limits{}.max_unadmitted_per_peer);
  EXPECT_EQ(l.handshake_timeout, Limits{}.handshake_timeout);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("TGTPMEM_RDMA_HANDSHAKE_TIMEOUT_MS=5"), std::string::npos);
  EXPECT_NE(bad[1].find("TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER=eight"), std::string::npos);
}

}  // namespace
}  // namespace tgt_pmem::rdma_host
