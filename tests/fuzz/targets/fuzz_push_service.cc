// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the RDMA runtime (utils/rdma_host) hosting the push-mode service
// (iser_ext/src/push_*.cc) on the fake verbs and a fake loop. The input is a script of events
// in any order - connection requests from a few addresses, messages (well-formed ones built
// from the input, and raw bytes), disconnects, one-sided RDMA by the peers, the LUN's access
// changing, ticks of the clock, completion turns with small budgets, link failures - that no
// unit test would think of. Besides the sanitizers' findings, these abort:
//   - more links than the runtime's caps allow;
//   - a region of a destroyed connection still registered (pinned memory left behind);
//   - a write accepted through a region while the LUN is read-only or offline;
//   - after everything is closed and reaped, any link, session or registered byte left.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fake_loop.h"
#include "fake_rdma.h"
#include "push_service.h"
#include "tgt_pmem/push/protocol.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace {

using namespace tgt_pmem;
using testing::FakePeer;

#define check(ok) check_at(ok, #ok, __LINE__)
void check_at(bool ok, const char* what, int line) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_push_service.cc:%d: invariant broken: %s\n", line, what);
  std::abort();
}

class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  std::uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::vector<std::byte> bytes(std::size_t n) {
    std::vector<std::byte> v;
    for (std::size_t i = 0; i < n && !empty(); ++i) v.push_back(std::byte{u8()});
    return v;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

const std::string kIqn = "iqn.2024-01.org.tgt-pmem:fuzz";
const std::string kInitiator = "iqn.2024-01.org.tgt-pmem:client";

class Host : public push::PushHost {
 public:
  std::optional<std::string> target_name(int tid) override {
    return tid == 1 ? std::optional(kIqn) : std::nullopt;
  }
  bool admits(int, const std::string& i, const std::string&) override { return i == kInitiator; }
  bool chap_required(int) override { return chap; }
  std::optional<std::string> chap_secret(int, const std::string& user) override {
    if (user == "alice") return std::string("s3cret-s3cret");
    return std::nullopt;
  }
  void log(bool, const std::string&) override {}
  bool chap = false;
};

struct Peer {
  FakePeer peer;
  std::vector<push::RegisterReply> regions;  // what the target granted it
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  Host host;
  host.chap = in.u8() & 1;
  std::vector<std::byte> lun_mem(1 << 20);
  testing::FakeLoop loop;
  rdma_host::Limits limits;
  limits.max_connections = 6;
  limits.max_connections_per_peer = 4;
  limits.max_unadmitted = 4;
  limits.max_unadmitted_per_peer = 2;
  limits.completions_per_turn = 1 + in.u8() % 8;
  rdma_host::Runtime runtime(loop, "push", limits);
  push::SessionLimits sl;
  sl.max_regions = 4;
  sl.max_register = 65536;
  sl.register_per_second = 262144;
  sl.commit_slice = 4096 * (1 + in.u8() % 4);
  push::Service service(host, runtime, sl);
  service.exposure().max_per_initiator = 196608;
  auto owned = std::make_unique<testing::FakeListener>();
  testing::FakeListener& listener = *owned;
  check(runtime.start(service, std::move(owned)).has_value());
  push::PushLun lun;
  lun.tid = 1;
  lun.lun = 1;
  lun.base = lun_mem.data();
  lun.size = lun_mem.size();
  lun.block_size = 512;
  lun.persist = [](std::uint64_t, std::uint64_t) { return 0; };
  push::PushLun* l = service.attach(std::move(lun));
  std::vector<Peer> peers;

  auto pump = [&] {
    // A turn of the loop for every session (what their completion fds would do).
    std::vector<rdma_host::Link*> links;
    for (auto& [id, s] : service.sessions()) links.push_back(s.get());
    for (auto* link : links) runtime.on_link(*link);
    for (int i = 0; i < 4 && loop.run_ready() > 0; ++i) {
    }
    check(runtime.links() <= limits.max_connections);
  };

  for (int steps = 0; steps < 200 && !in.empty(); ++steps) {
    const std::uint8_t op = in.u8() % 12;
    Peer* p = peers.empty() ? nullptr : &peers[in.u8() % peers.size()];
    switch (op) {
      case 0: {  // a connection request from one of four addresses
        testing::FakeRequest r;
        r.peer_address = "192.0.2." + std::to_string(1 + in.u8() % 4) + ":" +
                         std::to_string(1000 + steps);
        peers.push_back({listener.connect_request({}, r), {}});
        peers.back().peer.set_auto_complete(true);
        runtime.on_listener();
        break;
      }
      case 1:  // CONNECT, well formed
        if (p) {
          const bool good = in.u8() % 4 != 0;
          (void)p->peer.deliver(push::encode(push::Connect{
              in.u32(), good ? kInitiator : "iqn.x", in.u8() % 4 ? kIqn : "iqn.y", std::uint64_t{1u + in.u8() % 2u}}));
        }
        break;
      case 2:  // CHAP response (right user, random bytes)
        if (p) {
          push::ChapResponse c{in.u32(), in.u8() % 2 ? "alice" : "bob", {}};
          for (auto& b : c.response) b = in.u8();
          (void)p->peer.deliver(push::encode(c));
        }
        break;
      case 3:  // REGISTER
        if (p) {
          const std::uint64_t off = std::uint64_t{in.u16()} * 512 % (1 << 20);
          const std::uint64_t len = (1 + std::uint64_t{in.u8()} % 64) * 512;
          (void)p->peer.deliver(push::encode(push::Register{in.u32(), off, len,
                                                            static_cast<std::uint8_t>(1 + in.u8() % 3)}));
        }
        break;
      case 4:  // COMMIT of a granted region, or of a made-up handle
        if (p) {
          push::Commit c{in.u32(), p->regions.empty() ? in.u32() : p->regions[in.u8() % p->regions.size()].handle, {}};
          for (int i = in.u8() % 4; i > 0; --i) c.ranges.push_back({std::uint64_t{in.u16()}, std::uint64_t{in.u16()} + 1});
          (void)p->peer.deliver(push::encode(c));
        }
        break;
      case 5:  // UNREGISTER
        if (p && !p->regions.empty())
          (void)p->peer.deliver(push::encode(push::Unregister{in.u32(), p->regions[in.u8() % p->regions.size()].handle}));
        break;
      case 6:  // raw bytes
        if (p) (void)p->peer.deliver(in.bytes(in.u8() % 80));
        break;
      case 7:  // the peer writes through a granted region; never while the LUN forbids it
        if (p && !p->regions.empty()) {
          const auto& r = p->regions[in.u8() % p->regions.size()];
          const std::vector<std::byte> b(512, std::byte{0x5a});
          const int st = p->peer.peer_rdma_write(r.rkey, r.addr, b);
          if (st == 0) check(l->access == push::LunAccess::kReadWrite);
        }
        break;
      case 8:  // the peer disconnects, or its link breaks
        if (p) {
          if (in.u8() % 2) p->peer.disconnect(); else p->peer.move_to_error();
        }
        runtime.on_listener();
        break;
      case 9:  // the LUN's access changes
        service.set_access(l, static_cast<push::LunAccess>(in.u8() % 3));
        break;
      case 10:  // time passes
        loop.advance(std::chrono::milliseconds(std::uint32_t{in.u16()} * 16));
        runtime.on_tick();
        break;
      case 11:  // a peer's next work request fails (the transport gave up)
        if (p) p->peer.fail_next(rdma::WorkType::kRdmaWrite, 12 /* IBV_WC_RETRY_EXC_ERR */);
        break;
    }
    pump();
    // Learn the regions the target granted, from its replies.
    for (auto& q : peers) {
      for (auto& m : q.peer.take_sent()) {
        auto r = push::parse_register_reply(m);
        if (r && r->status == push::Status::kOk) q.regions.push_back(*r);
      }
    }
    for (auto& q : peers)
      if (q.peer.connection_destroyed()) check(q.peer.regions_live_at_close() == 0);
  }

  // Shut down: every region deregistered, every link reaped.
  runtime.stop("the fuzz run ends");
  runtime.on_listener();
  for (auto& q : peers) q.peer.disconnect();
  // The runtime no longer reaps once stopped (its protocol may be gone): the service does.
  for (auto& [id, s] : service.sessions()) s->on_disconnected();
  service.reap();
  check(service.sessions().empty());
  check(runtime.links() == 0);
  check(service.exposure().total == 0);
  for (auto& q : peers) check(q.peer.live_regions() == 0);
  return 0;
}
