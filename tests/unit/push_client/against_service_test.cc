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
#include "push_bench.h"
#include "push_runner.h"
#include "push_service.h"
#include "tgt_pmem/flush/remote.h"
#include "tgt_pmem/push/client.h"
#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push {
namespace {

constexpr std::size_t kBudget = 256;  // completions per turn, as the runtime gives

using tgt_pmem::testing::FakeListener;
using tgt_pmem::testing::FakePeer;

constexpr std::size_t kLunSize = 1 << 20;
const std::string kIqn = "iqn.2024-01.org.tgt-pmem:push";
const std::string kInitiator = "iqn.2024-01.org.tgt-pmem:client";

// Not final: FlushBridge is one that also carries RDMA FLUSH.
class Bridge : public rdma::Connection {
 public:
  explicit Bridge(FakePeer target) : target_(std::move(target)) { limits_.max_sge = 1; }
  ~Bridge() override { target_.disconnect(); }

  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory(void* addr, std::size_t len,
                                                                    unsigned access) override {
    const std::uint32_t key = next_key_++;
    regions_[key] = {static_cast<std::byte*>(addr), len, access};
    return std::make_unique<Mr>(*this, key);
  }
  // The client exposes none of its memory to the target.
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> register_memory_at(void*, std::size_t,
                                                                       unsigned,
                                                                       std::uint64_t) override {
    return std::unexpected(std::make_error_code(std::errc::operation_not_supported));
  }

  rdma::Status post_recv(std::uint64_t wr_id, rdma::LocalBuffer buf) override {
    if (error_)
      complete(wr_id, rdma::WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
    else
      recvs_.push_back({wr_id, buf});
    return {};
  }

  rdma::Status post_send(std::uint64_t wr_id, rdma::LocalBuffer buf) override {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kSend);
    if (!local_ok(buf, false)) return failed(wr_id, rdma::WorkType::kSend, IBV_WC_LOC_PROT_ERR);
    // The service keeps receives posted; none posted would be RNR retries for ever.
    if (!target_.deliver({buf.addr, buf.length}))
      return failed(wr_id, rdma::WorkType::kSend, IBV_WC_RNR_RETRY_EXC_ERR);
    complete(wr_id, rdma::WorkType::kSend, IBV_WC_SUCCESS);
    return {};
  }

  rdma::Status post_rdma_write(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> src,
                               rdma::RemoteBuffer dst) override {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaWrite);
    if (src.size() != 1 || !local_ok(src[0], false))
      return failed(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_LOC_PROT_ERR);
    const int status = target_.peer_rdma_write(dst.rkey, dst.addr, {src[0].addr, src[0].length});
    if (status != IBV_WC_SUCCESS) return failed(wr_id, rdma::WorkType::kRdmaWrite, status);
    complete(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_SUCCESS);
    return {};
  }

  rdma::Status post_rdma_read(std::uint64_t wr_id, std::span<const rdma::LocalBuffer> dst,
                              rdma::RemoteBuffer src) override {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaRead);
    if (dst.size() != 1 || !local_ok(dst[0], true))
      return failed(wr_id, rdma::WorkType::kRdmaRead, IBV_WC_LOC_PROT_ERR);
    auto bytes = target_.peer_rdma_read(src.rkey, src.addr, src.length);
    if (!bytes) return failed(wr_id, rdma::WorkType::kRdmaRead, bytes.error());
    std::memcpy(dst[0].addr, bytes->data(), bytes->size());
    complete(wr_id, rdma::WorkType::kRdmaRead, IBV_WC_SUCCESS);
    ++reads;
    return {};
  }

  // Each request as its own post does it (the bridge runs work at once); an unsignalled
  // one that succeeded leaves no completion.
  rdma::Status post_chain(std::span<const rdma::SendWork> chain) override {
    if (chain.empty() || !chain.back().signaled)
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    for (const rdma::SendWork& w : chain) {
      const std::size_t before = completions_.size();
      rdma::Status s;
      if (w.type == rdma::WorkType::kSend && w.local.size() == 1)
        s = post_send(w.wr_id, w.local[0]);
      else if (w.type == rdma::WorkType::kRdmaWrite)
        s = post_rdma_write(w.wr_id, w.local, w.remote);
      else if (w.type == rdma::WorkType::kRdmaRead)
        s = post_rdma_read(w.wr_id, w.local, w.remote);
      else
        return std::unexpected(std::make_error_code(std::errc::invalid_argument));
      if (!s) return s;
      if (!w.signaled && completions_.size() > before && completions_.back().ok)
        completions_.pop_back();
    }
    return {};
  }

  rdma::Result<std::size_t> poll(std::span<rdma::Completion> out) override {
    std::size_t n = 0;
    while (n < out.size() && !completions_.empty()) {
      out[n++] = completions_.front();
      completions_.pop_front();
    }
    return n;
  }
  int completion_fd() const noexcept override { return -1; }
  rdma::Status arm() override { return {}; }
  void disconnect() noexcept override {
    enter_error();
    target_.disconnect();
  }
  const rdma::QueueLimits& limits() const noexcept override { return limits_; }
  std::string peer_address() const override { return "192.0.2.1:5566"; }

  // The service's replies into our receives (the client's idle hook calls this).
  void pump() {
    for (auto& msg : target_.take_sent()) {
      if (error_ || recvs_.empty()) {
        ADD_FAILURE() << "the service sent with no receive posted";
        continue;
      }
      const Recv r = recvs_.front();
      recvs_.pop_front();
      if (msg.size() > r.buf.length || !local_ok(r.buf, true)) {
        failed(r.wr_id, rdma::WorkType::kRecv, IBV_WC_LOC_LEN_ERR);
        continue;
      }
      std::memcpy(r.buf.addr, msg.data(), msg.size());
      complete(r.wr_id, rdma::WorkType::kRecv, IBV_WC_SUCCESS,
               static_cast<std::uint32_t>(msg.size()));
    }
    notice_disconnect();
  }

  // RDMA FLUSH -> peer_rdma_flush() of the memory the service registered (FlushBridge).
  rdma::Status flush(std::uint64_t wr_id, rdma::RemoteBuffer dst) {
    notice_disconnect();
    if (error_) return flushed(wr_id, rdma::WorkType::kRdmaWrite);
    const int status = target_.peer_rdma_flush(dst.rkey, dst.addr, dst.length);
    if (status != IBV_WC_SUCCESS) return failed(wr_id, rdma::WorkType::kRdmaWrite, status);
    complete(wr_id, rdma::WorkType::kRdmaWrite, IBV_WC_SUCCESS);
    ++flushes;
    return {};
  }

  std::size_t reads = 0;
  std::size_t flushes = 0;
  std::size_t live_regions() const { return regions_.size(); }
  FakePeer& target() { return target_; }

 private:
  struct Local {
    std::byte* addr;
    std::size_t len;
    unsigned access;
  };
  struct Recv {
    std::uint64_t wr_id;
    rdma::LocalBuffer buf;
  };
  class Mr final : public rdma::MemoryRegion {
   public:
    Mr(Bridge& b, std::uint32_t key) : b_(b), key_(key) {}
    ~Mr() override { b_.regions_.erase(key_); }
    std::byte* data() const noexcept override { return b_.regions_.at(key_).addr; }
    std::size_t size() const noexcept override { return b_.regions_.at(key_).len; }
    std::uint32_t lkey() const noexcept override { return key_; }
    std::uint32_t rkey() const noexcept override { return key_; }

   private:
    Bridge& b_;
    std::uint32_t key_;
  };

  bool local_ok(const rdma::LocalBuffer& b, bool hca_writes) const {
    auto it = regions_.find(b.lkey);
    if (it == regions_.end()) return false;
    if (hca_writes && (it->second.access & (rdma::kLocalWrite | rdma::kRemoteWrite)) == 0)
      return false;
    return b.addr >= it->second.addr && b.addr + b.length <= it->second.addr + it->second.len;
  }
  void complete(std::uint64_t wr_id, rdma::WorkType type, int status, std::uint32_t len = 0) {
    rdma::Completion c;
    c.wr_id = wr_id;
    c.type = type;
    c.ok = status == IBV_WC_SUCCESS;
    c.vendor_status = status;
    c.byte_len = len;
    completions_.push_back(c);
  }
  rdma::Status flushed(std::uint64_t wr_id, rdma::WorkType type) {
    complete(wr_id, type, IBV_WC_WR_FLUSH_ERR);
    return {};
  }
  rdma::Status failed(std::uint64_t wr_id, rdma::WorkType type, int status) {
    complete(wr_id, type, status);
    enter_error();
    return {};
  }
  // The target went away (it closed the connection): our QP flushes, as a real one does
  // when RDMA CM reports DISCONNECTED (rdma::connect's contract).
  void notice_disconnect() {
    if (target_.in_error()) enter_error();
  }
  void enter_error() {
    if (error_) return;
    error_ = true;
    for (const Recv& r : recvs_) complete(r.wr_id, rdma::WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
    recvs_.clear();
  }

  FakePeer target_;
  rdma::QueueLimits limits_;
  std::map<std::uint32_t, Local> regions_;
  std::uint32_t next_key_ = 0x5000;
  std::deque<Recv> recvs_;
  std::deque<rdma::Completion> completions_;
  bool error_ = false;
};

// A bridge whose connection can post RDMA FLUSH (rdma::FlushCapable).
class FlushBridge final : public Bridge, public rdma::FlushCapable {
 public:
  using Bridge::Bridge;
  rdma::Status post_rdma_flush(std::uint64_t wr_id, rdma::RemoteBuffer dst) override {
    return flush(wr_id, dst);
  }
};

class FakeHost : public PushHost {
 public:
  std::set<std::string> admitted = {kInitiator};
  bool chap = false;
  std::optional<std::string> target_name(int tid) override {
    return tid == 1 ? std::optional(kIqn) : std::nullopt;
  }
  bool admits(int, const std::string& i, const std::string&) override {
    return admitted.contains(i);
  }
  bool chap_required(int) override { return chap; }
  std::optional<std::string> chap_secret(int, const std::string& user) override {
    if (user == "alice") return std::string("s3cret-s3cret");
    return std::nullopt;
  }
  void log(bool, const std::string&) override {}
};

class ClientAgainstService : public ::testing::Test {
 protected:
  ClientAgainstService() {
    PushLun l;
    l.tid = 1;
    l.lun = 1;
    l.base = lun_mem.data();
    l.size = kLunSize;
    l.block_size = 512;
    l.persist = [this](std::uint64_t off, std::uint64_t len) {
      persisted.emplace_back(off, len);
      return 0;
    };
    service.attach(std::move(l));
  }
  ~ClientAgainstService() override { service.close_all("the test ends"); }

  void pump_service() {
    for (;;) {
      auto ev = listener.next_event();
      ASSERT_TRUE(ev);
      if (!*ev) break;
      auto& e = **ev;
      if (e.type == rdma::EventType::kConnectRequest)
        service.on_connect_request(std::move(e.pending));
      if (e.type == rdma::EventType::kDisconnected) service.on_disconnected(*e.connection);
    }
    for (auto& [id, s] : service.sessions())
      for (auto p = s->on_completions(kBudget); p == push::Session::Polling::kYield; p = s->resume(kBudget)) {
      }
    service.reap();
  }

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

  static std::vector<std::byte> pattern(std::size_t n, int seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::byte((i * 13 + seed) & 0xff);
    return v;
  }

  std::vector<std::byte> lun_mem = std::vector<std::byte>(kLunSize);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> persisted;
  FakeHost host;
  testing::FakeLoop loop;
  rdma_host::Runtime runtime{loop, "push"};
  Service service{host, runtime};
  FakeListener listener;
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
