// SPDX-License-Identifier: GPL-2.0-only
// The SRP target's logins, channels and data path on the fake verbs (tests/fakes/fake_rdma.h)
// with a fake SCSI host that keeps a small in-memory disk. The test plays the Linux ib_srp
// initiator: IUs are written out byte by byte in the layout of include/scsi/srp.h.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "fake_loop.h"
#include "fake_rdma.h"
#include "service.h"

namespace tgt_pmem::srp {
namespace {

using testing::FakeListener;
using testing::FakePeer;
using Bytes = std::vector<std::uint8_t>;

constexpr int kTid = 1;
constexpr std::uint64_t kNodeGuid = 0x0002c90300a0b0c0;
constexpr std::uint32_t kBlock = 512;

void put32(Bytes& v, std::size_t off, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v[off + i] = static_cast<std::uint8_t>(x >> (24 - 8 * i));
}
void put64(Bytes& v, std::size_t off, std::uint64_t x) {
  put32(v, off, static_cast<std::uint32_t>(x >> 32));
  put32(v, off + 4, static_cast<std::uint32_t>(x));
}
std::uint32_t get32(const std::vector<std::byte>& v, std::size_t off) {
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x = (x << 8) | std::to_integer<std::uint8_t>(v[off + i]);
  return x;
}
std::uint64_t get64(const std::vector<std::byte>& v, std::size_t off) {
  return (std::uint64_t{get32(v, off)} << 32) | get32(v, off + 4);
}
std::span<const std::byte> bytes(const Bytes& v) { return std::as_bytes(std::span(v)); }

// struct srp_login_req_rdma (56 bytes), as ib_srp sends it over RDMA CM.
Bytes login_request(std::uint64_t id_ext = kTid, std::uint64_t ioc_guid = kNodeGuid,
                    std::uint8_t flags = 0x80 /* IMMED_REQUESTED, single channel */,
                    std::uint32_t it_iu_len = 8260, std::uint8_t initiator_last = 0x56) {
  Bytes v(56, 0);
  put64(v, 0, 0x1122334455667788);  // TAG
  v[9] = 0x06;                        // REQ BUF FMT: direct | indirect
  v[10] = flags;                      // REQ FLAGS
  v[11] = 0x00;                       // SRP_LOGIN_REQ
  put32(v, 12, it_iu_len);
  put64(v, 24, 0x505400fffe123400 | initiator_last);  // initiator port ID (second half)
  put64(v, 32, id_ext);               // target port ID: id_ext, ioc_guid
  put64(v, 40, ioc_guid);
  v[48] = 0x00;
  v[49] = 0x44;  // imm_data_offset 68
  return v;
}

// SRP_CMD with a 10-byte CDB (READ(10)/WRITE(10)) and the given descriptors.
Bytes command(std::uint64_t tag, std::uint8_t opcode, std::uint32_t lba, std::uint16_t blocks) {
  Bytes v(48, 0);
  v[0] = 0x02;
  put64(v, 8, tag);
  v[21] = 0x01;  // LUN 1
  v[32] = opcode;
  put32(v, 34, lba);
  v[39] = static_cast<std::uint8_t>(blocks >> 8);
  v[40] = static_cast<std::uint8_t>(blocks);
  return v;
}
void add_direct(Bytes& v, bool out, const rdma::RemoteBuffer& r, std::uint32_t len) {
  v[5] |= out ? 0x10 : 0x01;
  v[out ? 6 : 7] = 1;
  const std::size_t off = v.size();
  v.resize(off + 16);
  put64(v, off, r.addr);
  put32(v, off + 8, r.rkey);
  put32(v, off + 12, len);
}
// Immediate data-out (Linux extension): struct srp_imm_buf at 48, data at offset 68.
void add_immediate(Bytes& v, const Bytes& data) {
  v[5] |= 0x30;
  v.resize(68, 0);
  put32(v, 48, static_cast<std::uint32_t>(data.size()));
  put32(v, 52, 68);
  v.insert(v.end(), data.begin(), data.end());
}
// struct srp_tsk_mgmt (48 bytes).
Bytes task_management(std::uint64_t tag, std::uint8_t function, std::uint64_t task_tag) {
  Bytes v(48, 0);
  v[0] = 0x01;
  put64(v, 8, tag);
  v[21] = 0x01;
  v[30] = function;
  put64(v, 32, task_tag);
  return v;
}

struct Rsp {
  std::uint32_t req_lim_delta;
  std::uint64_t tag;
  std::uint8_t flags;
  std::uint8_t status;
  std::uint32_t sense_len, resp_len;
  std::vector<std::byte> raw;
};
Rsp parse_rsp(const std::vector<std::byte>& v) {
  EXPECT_GE(v.size(), 36u);
  EXPECT_EQ(std::to_integer<int>(v[0]), 0xc1);
  return {get32(v, 4), get64(v, 8), std::to_integer<std::uint8_t>(v[18]),
          std::to_integer<std::uint8_t>(v[19]), get32(v, 28), get32(v, 32), v};
}

// A SCSI host with a 1 MiB disk of 512-byte blocks: WRITE(10) and READ(10); anything else
// completes GOOD without data. Completions synchronous, or held back (defer = true).
class FakeHost : public ScsiHost {
 public:
  Service* service = nullptr;
  bool defer = false;
  bool admit_all = true;
  int nexus_busy = 0;
  std::vector<std::uint8_t> disk = std::vector<std::uint8_t>(1 << 20);
  std::vector<tgtpmem_srp_command> held;
  std::vector<std::uint64_t> tags_seen;
  std::set<std::uint64_t> nexuses;
  int nexus_creates = 0;
  std::vector<std::pair<std::uint64_t, int>> tmfs;  // (mid, function)
  std::vector<std::string> logs;

  int admit(std::uint64_t id_ext, const std::string&, const std::string&) override {
    if (id_ext != static_cast<std::uint64_t>(kTid)) return -ENOENT;
    return admit_all ? kTid : -EPERM;
  }
  int nexus_create(int, std::uint64_t itn, const std::string&) override {
    ++nexus_creates;
    nexuses.insert(itn);
    return 0;
  }
  int nexus_destroy(int, std::uint64_t itn) override {
    if (nexus_busy > 0) {
      --nexus_busy;
      return -EBUSY;
    }
    nexuses.erase(itn);
    return 0;
  }
  int queue_command(const tgtpmem_srp_command& c) override {
    tags_seen.push_back(c.tag);
    if (defer) {
      held.push_back(c);
      return 0;
    }
    execute(c);
    return 0;
  }
  void execute(const tgtpmem_srp_command& c, int status_override = -2) {
    const std::uint32_t lba = (std::uint32_t{c.cdb[2]} << 24) | (c.cdb[3] << 16) |
                              (c.cdb[4] << 8) | c.cdb[5];
    const std::uint32_t len = ((c.cdb[7] << 8) | c.cdb[8]) * kBlock;
    if (c.cdb[0] == 0x2a) std::memcpy(&disk[lba * kBlock], c.out_buf, std::min(len, c.out_len));
    if (c.cdb[0] == 0x28) std::memcpy(c.in_buf, &disk[lba * kBlock], std::min(len, c.in_len));
    const int status = status_override == -2 ? 0 : status_override;
    service->command_done(c.cookie, status, {}, 0, 0);
  }
  void complete_held(int status = -2) {
    auto h = std::move(held);
    held.clear();
    for (auto& c : h) execute(c, status);
  }
  int queue_tmf(int, std::uint64_t, std::uint64_t mid, int function, const std::uint8_t*,
                std::uint64_t) override {
    tmfs.emplace_back(mid, function);
    service->tmf_done(mid, TGTPMEM_SRP_TMF_COMPLETE);
    return 0;
  }
  void log(bool, const std::string& m) override { logs.push_back(m); }
};

class SrpService : public ::testing::Test {
 protected:
  SrpService() { host.service = &service; }

  // A login through the listener; returns the peer (accepted or not).
  FakePeer login(const Bytes& req) {
    FakePeer peer = listener.connect_request(bytes(req), {.local_node_guid = kNodeGuid});
    pump_listener();
    return peer;
  }
  void pump_listener() {
    for (;;) {
      auto ev = listener.next_event();
      ASSERT_TRUE(ev);
      if (!*ev) break;
      auto& e = **ev;
      if (e.type == rdma::EventType::kConnectRequest) {
        service.on_connect_request(std::move(e.pending));
      } else if (e.type == rdma::EventType::kDisconnected) {
        service.on_disconnected(*e.connection);
      }
    }
    service.reap();
  }
  // Lets every channel reap its completions (what the completion fd handler does).
  void pump() {
    for (int round = 0; round < 8; ++round) {
      for (auto& [id, ch] : service.channels())
        for (auto t = ch->on_completions(256); t == rdma_host::Turn::kYield; t = ch->resume(256)) {
        }
    }
    service.reap();
  }

  FakeHost host;
  testing::FakeLoop loop;
  rdma_host::Runtime runtime{loop, "srp"};
  Service service{host, runtime};
  FakeListener listener;
};

TEST_F(SrpService, LoginGrantsCreditsAndCreatesOneNexus) {
  FakePeer peer = login(login_request());
  ASSERT_TRUE(peer.accepted());
  const auto rsp = peer.reply_private_data();
  ASSERT_EQ(rsp.size(), 52u);
  EXPECT_EQ(std::to_integer<int>(rsp[0]), 0xc0);             // SRP_LOGIN_RSP
  EXPECT_EQ(get32(rsp, 4), 128u);                            // REQ LIM DELTA = receives
  EXPECT_EQ(get64(rsp, 8), 0x1122334455667788u);             // the login's tag
  EXPECT_EQ(get32(rsp, 16), 8260u);                          // max IT IU length granted
  EXPECT_EQ(get32(rsp, 20), 512u);                           // max TI IU length
  EXPECT_NE(std::to_integer<int>(rsp[26]) & 0x80, 0);        // immediate data supported
  EXPECT_EQ(peer.posted_receives(), 128u);
  EXPECT_EQ(host.nexus_creates, 1);
  EXPECT_EQ(service.channel_count(kTid), 1);
}

TEST_F(SrpService, LoginToUnknownTargetIsRejected) {
  FakePeer peer = login(login_request(/*id_ext=*/7));
  EXPECT_TRUE(peer.rejected());
  const auto rej = peer.reply_private_data();
  ASSERT_EQ(rej.size(), 32u);
  EXPECT_EQ(std::to_integer<int>(rej[0]), 0xc2);       // SRP_LOGIN_REJ
  EXPECT_EQ(get32(rej, 4), 0x00010003u);                // unable to associate channel
  EXPECT_EQ(host.nexus_creates, 0);
}

TEST_F(SrpService, LoginNotAdmittedByAclIsRejected) {
  host.admit_all = false;
  FakePeer peer = login(login_request());
  EXPECT_TRUE(peer.rejected());
  EXPECT_EQ(service.channel_count(), 0u);
}

TEST_F(SrpService, LoginWithAnotherDevicesGuidIsRejected) {
  FakePeer peer = login(login_request(kTid, kNodeGuid + 1));
  EXPECT_TRUE(peer.rejected());
}

TEST_F(SrpService, MalformedOrOversizedLoginIsRejected) {
  Bytes truncated = login_request();
  truncated.resize(40);
  EXPECT_TRUE(login(truncated).rejected());
  FakePeer big = login(login_request(kTid, kNodeGuid, 0x80, 1u << 20));
  EXPECT_TRUE(big.rejected());
  EXPECT_EQ(get32(big.reply_private_data(), 4), 0x00010002u);  // IU too large
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_EQ(service.nexus_count(), 0u);
}

TEST_F(SrpService, WriteThenReadMovesDataWithRdma) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  std::vector<std::byte> pattern(8192);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::byte(i * 7 + 3);
  const auto src = peer.add_region(pattern, rdma::kRemoteRead);
  Bytes w = command(0xa1, 0x2a, 16, 16);
  add_direct(w, true, src, 8192);
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  ASSERT_EQ(host.tags_seen.size(), 1u);
  EXPECT_EQ(std::memcmp(&host.disk[16 * kBlock], pattern.data(), 8192), 0);
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  Rsp r = parse_rsp(sent[0]);
  EXPECT_EQ(r.tag, 0xa1u);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.req_lim_delta, 1u);

  const auto dst = peer.add_region(8192, rdma::kRemoteWrite);
  Bytes rd = command(0xa2, 0x28, 16, 16);
  add_direct(rd, false, dst, 8192);
  ASSERT_TRUE(peer.deliver(bytes(rd)));
  pump();
  sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).status, 0);
  auto got = peer.region(dst.rkey);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), pattern.begin()));
  EXPECT_EQ(peer.posted_receives(), 128u);  // every receive reposted
}

TEST_F(SrpService, IndirectDescriptorsGatherAndScatter) {
  // What ib_srp sends for a multi-segment I/O: an indirect buffer whose whole table is in
  // the IU (T10 SRP r16a 5.5.3; struct srp_indirect_buf).
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  std::vector<std::byte> pattern(4 * 4096);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::byte(i * 13 + 1);
  std::vector<rdma::RemoteBuffer> parts;
  for (int i = 0; i < 4; ++i) {
    parts.push_back(peer.add_region(std::span(pattern).subspan(i * 4096, 4096), rdma::kRemoteRead));
  }
  Bytes w = command(0x91, 0x2a, 64, 32);
  w[5] = 0x20;  // indirect data-out
  w[6] = 4;     // four descriptors in the IU
  const std::size_t off = w.size();
  w.resize(off + 16 + 4 + 4 * 16);
  put64(w, off, 0);        // table descriptor: where the table would be ...
  put32(w, off + 8, 0);
  put32(w, off + 12, 64);  // ... and its length: 4 entries, all present
  put32(w, off + 16, 4 * 4096);  // TOTAL LENGTH
  for (int i = 0; i < 4; ++i) {
    put64(w, off + 20 + 16 * i, parts[i].addr);
    put32(w, off + 28 + 16 * i, parts[i].rkey);
    put32(w, off + 32 + 16 * i, 4096);
  }
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  ASSERT_EQ(host.tags_seen.size(), 1u);
  EXPECT_EQ(std::memcmp(&host.disk[64 * kBlock], pattern.data(), pattern.size()), 0);
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).status, 0);
}

TEST_F(SrpService, ImmediateDataNeedsNoRdmaRead) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  Bytes data(1024);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i ^ 0x5a);
  Bytes w = command(0xb1, 0x2a, 4, 2);
  add_immediate(w, data);
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  EXPECT_EQ(std::memcmp(&host.disk[4 * kBlock], data.data(), data.size()), 0);
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).status, 0);
}

TEST_F(SrpService, NoResponseBeforeTheHostCompletes) {
  // Durability: a WRITE is answered only once the SCSI host (tgt, whose backing store made
  // the data durable) reported it done.
  host.defer = true;
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  const auto src = peer.add_region(4096, rdma::kRemoteRead);
  Bytes w = command(0xc1, 0x2a, 0, 8);
  add_direct(w, true, src, 4096);
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  EXPECT_EQ(host.held.size(), 1u);
  EXPECT_TRUE(peer.sent().empty());
  host.complete_held();
  pump();
  EXPECT_EQ(peer.take_sent().size(), 1u);
}

// Issue 14: every command in flight had its data buffer registered (pinned), up to 16 MiB
// each: 128 credits on each of 32 channels let one admitted initiator make tgtd pin 64 GiB.
// Buffers are now budgeted per channel and in all; a command over budget is answered BUSY.
// Issue 14: the completion loop polled on while batches came back full; an initiator that
// keeps its queue full of tiny commands, completed at once, kept tgtd in one call (3.2 million
// commands on the fake verbs), starving iSCSI, other LUNs and tgtadm. One turn now handles at
// most its budget of completions and hands the loop back (kYield).
TEST_F(SrpService, OneTurnHandlesAtMostItsBudgetOfCompletions) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  std::uint64_t tag = 1;
  std::size_t delivered = 0;
  // The initiator sends TEST UNIT READYs whenever the target polls, without end (bounded
  // here only so that a broken loop ends the test instead of hanging it).
  peer.on_poll([&] {
    for (int i = 0; i < 64 && delivered < 100000; ++i)
      if (peer.deliver(bytes(command(tag++, 0x00, 0, 0)))) ++delivered;
  });
  Channel& ch = *service.channels().begin()->second;
  const auto turn = ch.on_completions(256);
  const std::size_t handled = host.tags_seen.size();
  peer.on_poll({});
  EXPECT_EQ(turn, rdma_host::Turn::kYield);
  EXPECT_LE(handled, 256u) << "one turn handled " << handled << " commands";
  EXPECT_GT(handled, 0u);
}

// The pools (taken at login) and the buffers of commands the pools cannot serve stay within
// the per-channel and total budgets; over them a command is answered BUSY.
TEST_F(SrpService, DataBuffersStayWithinTheBudgetOverBudgetIsBusy) {
  service.buffers().max_per_channel = 1 << 20;
  service.buffers().max_total = 2 << 20;
  host.defer = true;
  // Pools: min(128 x 64 KiB, half the channel's 1 MiB, what keeps the service's held memory
  // at most half its 2 MiB): 512 KiB, 512 KiB, then none.
  FakePeer a = login(login_request(kTid, kNodeGuid, 0x80, 8260, 0x01));
  FakePeer b = login(login_request(kTid, kNodeGuid, 0x80, 8260, 0x02));
  FakePeer c = login(login_request(kTid, kNodeGuid, 0x80, 8260, 0x03));
  EXPECT_EQ(service.buffers().total, 1u << 20);
  for (FakePeer* p : {&a, &b, &c}) p->set_auto_complete(true);
  std::uint64_t tag = 1;
  auto read_512k = [&](FakePeer& p) {
    const auto dst = p.add_region(512 << 10, rdma::kRemoteWrite);
    Bytes rd = command(tag++, 0x28, 0, 1024);
    add_direct(rd, false, dst, 512 << 10);
    EXPECT_TRUE(p.deliver(bytes(rd)));
    pump();
  };
  auto busy_answers = [](FakePeer& p) {
    int n = 0;
    for (const auto& m : p.take_sent()) n += parse_rsp(m).status == 0x08;
    return n;
  };
  read_512k(a);  // the pool
  read_512k(a);  // a buffer of its own: a holds 1 MiB
  EXPECT_EQ(busy_answers(a), 0);
  read_512k(a);  // over the channel's 1 MiB
  EXPECT_EQ(busy_answers(a), 1);
  read_512k(b);  // the pool
  read_512k(c);  // no pool: its own; the service holds 2 MiB
  EXPECT_EQ(busy_answers(b) + busy_answers(c), 0);
  read_512k(c);  // over the service's 2 MiB, though c holds only 512 KiB
  EXPECT_EQ(busy_answers(c), 1);
  EXPECT_EQ(host.held.size(), 4u);
  EXPECT_EQ(service.buffers().total, 2u << 20);
  EXPECT_EQ(service.buffers().busy, 2u);
  EXPECT_EQ(service.buffers().fallbacks, 4u);

  host.complete_held();
  pump();
  EXPECT_EQ(a.take_sent().size() + b.take_sent().size() + c.take_sent().size(), 4u);
  // Kept for reuse only below half the budget: the pools hold that half.
  EXPECT_EQ(service.buffers().total, 1u << 20);
  read_512k(c);  // room again
  EXPECT_EQ(busy_answers(c), 0);
  host.complete_held();
  pump();
  for (FakePeer* p : {&a, &b, &c}) p->disconnect();
  pump_listener();
  pump();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_EQ(service.buffers().total, 0u);
}

Channel& only_channel(Service& service) { return *service.channels().begin()->second; }

// A READ of data-in in `parts` direct pieces (an indirect buffer with its table in the IU).
Bytes read_indirect(std::uint64_t tag, std::uint32_t lba, const std::vector<rdma::RemoteBuffer>& parts) {
  std::uint32_t total = 0;
  for (const auto& p : parts) total += p.length;
  Bytes v = command(tag, 0x28, lba, static_cast<std::uint16_t>(total / kBlock));
  v[5] = 0x02;  // indirect data-in
  v[7] = static_cast<std::uint8_t>(parts.size());
  const std::size_t off = v.size();
  v.resize(off + 20 + 16 * parts.size());
  put32(v, off + 12, static_cast<std::uint32_t>(16 * parts.size()));
  put32(v, off + 16, total);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    put64(v, off + 20 + 16 * i, parts[i].addr);
    put32(v, off + 28 + 16 * i, parts[i].rkey);
    put32(v, off + 32 + 16 * i, parts[i].length);
  }
  return v;
}

// Data-in and the SRP_RSP go as one post: the RDMA WRITEs unsignalled, then the SEND
// signalled, and only the SEND reports a completion.
TEST_F(SrpService, ReadDataAndResponseArePostedAsOneChain) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  for (std::size_t i = 0; i < 3 * 4096; ++i) host.disk[8 * kBlock + i] = static_cast<std::uint8_t>(i * 5 + 1);
  std::vector<rdma::RemoteBuffer> parts;
  for (int i = 0; i < 3; ++i) parts.push_back(peer.add_region(4096, rdma::kRemoteWrite));
  ASSERT_TRUE(peer.deliver(bytes(read_indirect(0x31, 8, parts))));
  pump();
  ASSERT_EQ(peer.send_posts().size(), 1u);  // one post for the whole of it
  const auto& chain = peer.send_posts()[0];
  ASSERT_EQ(chain.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(chain[i].type, rdma::WorkType::kRdmaWrite);
    EXPECT_FALSE(chain[i].signaled) << "WRITE " << i;
  }
  EXPECT_EQ(chain[3].type, rdma::WorkType::kSend);
  EXPECT_TRUE(chain[3].signaled);
  for (int i = 0; i < 3; ++i) {
    auto got = peer.region(parts[i].rkey);
    EXPECT_EQ(std::memcmp(got.data(), &host.disk[8 * kBlock + i * 4096], 4096), 0) << i;
  }
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).status, 0);
  // Every send-queue slot came back with the SEND's completion.
  EXPECT_EQ(peer.send_slots_held(), 0u);
  EXPECT_EQ(only_channel(service).send_in_flight(), 0u);
}

// The channel counts the unsignalled WRITEs in its send queue until the SEND after them
// completes: a chain waits (in order, not lost) while the queue has no room for all of it.
TEST_F(SrpService, UnsignalledWritesCountInTheSendQueueUntilTheirResponseCompletes) {
  ChannelConfig config;
  config.send_depth = 3;  // one READ's chain (WRITE + SEND) fits, two do not
  service.set_channel_config(config);
  FakePeer peer = login(login_request());
  Channel& ch = only_channel(service);
  for (std::size_t i = 0; i < 8192; ++i) host.disk[i] = static_cast<std::uint8_t>(i * 3 + 7);
  const auto d1 = peer.add_region(4096, rdma::kRemoteWrite);
  const auto d2 = peer.add_region(4096, rdma::kRemoteWrite);
  Bytes r1 = command(0x41, 0x28, 0, 8);
  add_direct(r1, false, d1, 4096);
  Bytes r2 = command(0x42, 0x28, 8, 8);
  add_direct(r2, false, d2, 4096);
  ASSERT_TRUE(peer.deliver(bytes(r1)));
  pump();
  ASSERT_TRUE(peer.deliver(bytes(r2)));
  pump();
  EXPECT_EQ(peer.send_posts().size(), 1u) << "the second chain needs 2 slots, 1 is free";
  EXPECT_EQ(ch.send_in_flight(), 2u);
  EXPECT_EQ(peer.send_slots_held(), 2u);
  ASSERT_TRUE(peer.complete_next());  // the WRITE: no completion, its slot still taken
  pump();
  EXPECT_EQ(peer.send_posts().size(), 1u);
  EXPECT_EQ(ch.send_in_flight(), 2u);
  ASSERT_TRUE(peer.complete_next());  // the SEND: both slots back, the second chain goes
  pump();
  EXPECT_EQ(peer.send_posts().size(), 2u);
  EXPECT_EQ(ch.send_in_flight(), 2u);
  peer.complete_all();
  pump();
  EXPECT_EQ(ch.send_in_flight(), 0u);
  EXPECT_EQ(peer.send_slots_held(), 0u);
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(parse_rsp(sent[1]).tag, 0x42u);
  EXPECT_EQ(std::memcmp(peer.region(d2.rkey).data(), &host.disk[4096], 4096), 0);
  EXPECT_FALSE(peer.disconnect_called());
}

// The pool serves commands without registering anything; when it has no run of free chunks
// long enough a command gets a buffer of its own (registered for it), within the budget,
// else BUSY; the chunks come back with the responses.
TEST_F(SrpService, PoolExhaustionFallsBackThenAnswersBusy) {
  ChannelConfig config;
  config.pool_chunks = 2;  // a pool of 2 x 64 KiB
  service.set_channel_config(config);
  host.defer = true;
  FakePeer peer = login(login_request());
  service.buffers().max_per_channel = 192 << 10;  // the pool and one 64 KiB buffer more
  peer.set_auto_complete(true);
  const Channel& ch = only_channel(service);
  ASSERT_EQ(ch.pool().bytes(), 128u << 10);
  const std::size_t registered = peer.registrations();
  std::uint64_t tag = 1;
  auto read = [&](std::uint32_t len) {
    const auto dst = peer.add_region(len, rdma::kRemoteWrite);
    Bytes rd = command(tag++, 0x28, 0, static_cast<std::uint16_t>(len / kBlock));
    add_direct(rd, false, dst, len);
    EXPECT_TRUE(peer.deliver(bytes(rd)));
    pump();
    return dst;
  };
  read(64 << 10);
  read(64 << 10);
  EXPECT_EQ(ch.pool().chunks_free(), 0u);
  EXPECT_EQ(peer.registrations(), registered) << "served from the pool";
  read(64 << 10);  // the pool is empty: a registration of its own
  EXPECT_EQ(peer.registrations(), registered + 1);
  EXPECT_TRUE(peer.take_sent().empty());
  read(64 << 10);  // and no room for another one
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).status, 0x08);  // BUSY
  EXPECT_EQ(service.buffers().busy, 1u);
  EXPECT_EQ(service.buffers().fallbacks, 2u);
  EXPECT_EQ(host.held.size(), 3u);

  for (std::size_t i = 0; i < (128u << 10); ++i) host.disk[i] = static_cast<std::uint8_t>(i * 11);
  host.complete_held();
  pump();
  EXPECT_EQ(peer.take_sent().size(), 3u);
  EXPECT_EQ(ch.pool().chunks_free(), 2u);
  // 128 KiB: two contiguous chunks, from the pool again.
  const std::size_t before = peer.registrations();
  const auto dst = read(128 << 10);
  host.complete_held();
  pump();
  EXPECT_EQ(peer.registrations(), before);
  EXPECT_EQ(std::memcmp(peer.region(dst.rkey).data(), host.disk.data(), 128 << 10), 0);
  // Larger than the pool: its own buffer, and the data still right.
  service.buffers().max_per_channel = 1 << 20;
  const auto big = read(256 << 10);
  host.complete_held();
  pump();
  EXPECT_EQ(parse_rsp(peer.take_sent().back()).status, 0);
  EXPECT_EQ(std::memcmp(peer.region(big.rkey).data(), host.disk.data(), 256 << 10), 0);
  EXPECT_FALSE(peer.disconnect_called());
}

// A data-in WRITE fails (the initiator's memory went away): its error completion and the
// SEND's flush give every send-queue slot back; the channel disconnects; nothing leaks.
TEST_F(SrpService, FailedUnsignalledWriteDisconnectsAndFreesEverything) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  const auto dst = peer.add_region(4096, rdma::kRemoteWrite);
  Bytes rd = command(0x51, 0x28, 0, 8);
  add_direct(rd, false, dst, 4096);
  peer.fail_next(rdma::WorkType::kRdmaWrite, IBV_WC_REM_ACCESS_ERR);
  ASSERT_TRUE(peer.deliver(bytes(rd)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_EQ(only_channel(service).send_in_flight(), 0u);
  EXPECT_EQ(peer.send_slots_held(), 0u);
  peer.disconnect();
  pump_listener();
  pump();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
  EXPECT_EQ(service.buffers().total, 0u);
}

// The post of a response chain fails: the channel disconnects, nothing leaks.
TEST_F(SrpService, FailedPostOfAChainDisconnects) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  const auto dst = peer.add_region(4096, rdma::kRemoteWrite);
  Bytes rd = command(0x52, 0x28, 0, 8);
  add_direct(rd, false, dst, 4096);
  peer.fail_next_post(std::make_error_code(std::errc::io_error));
  ASSERT_TRUE(peer.deliver(bytes(rd)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_TRUE(peer.send_posts().empty());
  peer.disconnect();
  pump_listener();
  pump();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
  EXPECT_EQ(service.buffers().total, 0u);
}

// A disconnect with every kind of work in flight: a command in tgt holding pool chunks, one
// holding a buffer of its own, a response chain posted and not run, one waiting for room.
// The channel waits for tgt, then everything goes: registrations, pool, budget.
TEST_F(SrpService, DisconnectWithChainsAndPoolBuffersInFlightFreesEverything) {
  ChannelConfig config;
  config.pool_chunks = 1;
  config.send_depth = 2;
  service.set_channel_config(config);
  FakePeer peer = login(login_request());
  std::uint64_t tag = 1;
  auto read = [&](std::uint32_t len) {
    const auto dst = peer.add_region(len, rdma::kRemoteWrite);
    Bytes rd = command(tag++, 0x28, 0, static_cast<std::uint16_t>(len / kBlock));
    add_direct(rd, false, dst, len);
    EXPECT_TRUE(peer.deliver(bytes(rd)));
    pump();
  };
  read(4096);  // pool; its chain (WRITE + SEND) posted, not run
  read(4096);  // its own buffer; its chain waits for room
  host.defer = true;
  read(4096);  // in tgt, own buffer
  EXPECT_EQ(peer.send_posts().size(), 1u);
  EXPECT_EQ(host.held.size(), 1u);
  EXPECT_GT(service.buffers().total, 0u);
  peer.disconnect();
  pump_listener();
  pump();
  EXPECT_EQ(service.channel_count(), 1u);  // tgt holds a command
  EXPECT_FALSE(peer.connection_destroyed());
  host.complete_held();
  service.reap();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_TRUE(peer.connection_destroyed());
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
  EXPECT_EQ(service.buffers().total, 0u);
}

TEST_F(SrpService, DescriptorOutsideTheRegistrationDisconnects) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  auto src = peer.add_region(4096, rdma::kRemoteRead);
  Bytes w = command(0xd1, 0x2a, 0, 16);
  add_direct(w, true, src, 8192);  // 8 KiB from a 4 KiB region
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_TRUE(host.tags_seen.empty());  // nothing reached the SCSI host
  EXPECT_TRUE(peer.sent().empty());
}

TEST_F(SrpService, WriteThroughReadOnlyRegionIsRefused) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  auto dst = peer.add_region(4096, rdma::kRemoteRead);  // no remote write
  Bytes rd = command(0xd2, 0x28, 0, 8);
  add_direct(rd, false, dst, 4096);
  ASSERT_TRUE(peer.deliver(bytes(rd)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
}

TEST_F(SrpService, MalformedCommandWithTagGetsCheckCondition) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  Bytes w = command(0xe1, 0x2a, 0, 8);
  w[5] = 0x10;  // direct data-out announced ...
  w[6] = 1;     // ... one descriptor, but none follows the CDB
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  Rsp r = parse_rsp(sent[0]);
  EXPECT_EQ(r.tag, 0xe1u);
  EXPECT_EQ(r.status, 0x02);              // CHECK CONDITION
  ASSERT_NE(r.flags & 0x02, 0);           // SNSVALID
  ASSERT_GE(r.sense_len, 14u);
  EXPECT_EQ(std::to_integer<int>(r.raw[36 + 2]) & 0x0f, 0x05);  // ILLEGAL REQUEST
  EXPECT_EQ(std::to_integer<int>(r.raw[36 + 12]), 0x0e);        // INVALID FIELD IN IU
  EXPECT_TRUE(host.tags_seen.empty());
  EXPECT_FALSE(peer.disconnect_called());
}

TEST_F(SrpService, UnreadableIuDisconnects) {
  FakePeer peer = login(login_request());
  Bytes junk = {0x02, 0x00, 0x00};
  ASSERT_TRUE(peer.deliver(bytes(junk)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
  Bytes unknown(48, 0);
  unknown[0] = 0x77;
  FakePeer peer2 = login(login_request(kTid, kNodeGuid, 0x80, 8260, 0x57));
  ASSERT_TRUE(peer2.deliver(bytes(unknown)));
  pump();
  EXPECT_TRUE(peer2.disconnect_called());
}

TEST_F(SrpService, ExceedingTheRequestLimitDisconnects) {
  host.defer = true;
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  for (std::uint64_t t = 1; t <= 128; ++t) {
    ASSERT_TRUE(peer.deliver(bytes(command(t, 0x00 /* TEST UNIT READY */, 0, 0))));
    pump();
  }
  EXPECT_EQ(host.held.size(), 128u);
  EXPECT_FALSE(peer.disconnect_called());
  ASSERT_TRUE(peer.deliver(bytes(command(129, 0x00, 0, 0))));  // no credit left
  pump();
  EXPECT_TRUE(peer.disconnect_called());
  host.complete_held();
  pump();
  EXPECT_TRUE(peer.sent().empty());  // nothing is answered on a closing channel
}

TEST_F(SrpService, AbortedCommandsCreditReturnsWithTheNextResponse) {
  host.defer = true;
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  ASSERT_TRUE(peer.deliver(bytes(command(1, 0x00, 0, 0))));
  pump();
  host.complete_held(-1);  // tgt aborted it: no response
  pump();
  EXPECT_TRUE(peer.sent().empty());
  host.defer = false;
  ASSERT_TRUE(peer.deliver(bytes(command(2, 0x00, 0, 0))));
  pump();
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(parse_rsp(sent[0]).req_lim_delta, 2u);
}

TEST_F(SrpService, TaskManagementIsAnsweredWithResponseData) {
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  ASSERT_TRUE(peer.deliver(bytes(task_management(0x77, 0x01 /* ABORT TASK */, 0x55))));
  pump();
  ASSERT_EQ(host.tmfs.size(), 1u);
  EXPECT_EQ(host.tmfs[0].second, TGTPMEM_SRP_TMF_ABORT_TASK);
  auto sent = peer.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  Rsp r = parse_rsp(sent[0]);
  EXPECT_EQ(r.tag, 0x77u);
  EXPECT_NE(r.flags & 0x01, 0);  // RSPVALID
  ASSERT_EQ(r.resp_len, 4u);
  EXPECT_EQ(std::to_integer<int>(r.raw[36 + 3]), 0x00);  // function complete
}

TEST_F(SrpService, DisconnectMidIoWaitsForTheHostThenFreesEverything) {
  host.defer = true;
  FakePeer peer = login(login_request());
  peer.set_auto_complete(true);
  const auto src = peer.add_region(4096, rdma::kRemoteRead);
  Bytes w = command(0xf1, 0x2a, 0, 8);
  add_direct(w, true, src, 4096);
  ASSERT_TRUE(peer.deliver(bytes(w)));
  pump();
  ASSERT_EQ(host.held.size(), 1u);
  peer.disconnect();
  pump_listener();
  // tgt still holds the command and its buffer: the channel must stay.
  EXPECT_EQ(service.channel_count(), 1u);
  EXPECT_FALSE(peer.connection_destroyed());
  host.complete_held();
  service.reap();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_TRUE(peer.connection_destroyed());
  EXPECT_EQ(peer.regions_live_at_close(), 0u);
  EXPECT_TRUE(host.nexuses.empty());
  EXPECT_EQ(service.nexus_count(), 0u);
}

TEST_F(SrpService, NexusDestroyRetriedWhileTgtIsBusy) {
  FakePeer peer = login(login_request());
  host.nexus_busy = 1;
  peer.disconnect();
  pump_listener();
  EXPECT_EQ(service.channel_count(), 0u);
  EXPECT_EQ(service.nexus_count(), 1u);  // tgt said EBUSY
  service.reap();
  EXPECT_EQ(service.nexus_count(), 0u);
  EXPECT_TRUE(host.nexuses.empty());
}

TEST_F(SrpService, MultiChannelLoginsShareOneNexusSingleReplacesThem) {
  FakePeer a = login(login_request());
  FakePeer b = login(login_request(kTid, kNodeGuid, 0x81 /* multi */));
  ASSERT_TRUE(a.accepted());
  ASSERT_TRUE(b.accepted());
  EXPECT_EQ(std::to_integer<int>(b.reply_private_data()[26]) & 0x03, 2);  // kept existing
  EXPECT_EQ(host.nexus_creates, 1);
  EXPECT_EQ(service.channel_count(kTid), 2);
  FakePeer c = login(login_request());  // single channel: ends a and b
  ASSERT_TRUE(c.accepted());
  EXPECT_EQ(std::to_integer<int>(c.reply_private_data()[26]) & 0x03, 1);  // terminated
  EXPECT_TRUE(a.disconnect_called());
  EXPECT_TRUE(b.disconnect_called());
  EXPECT_EQ(service.channel_count(kTid), 1);
}

// Issue 14: the nexus was keyed by the initiator port ID alone, which the initiator chooses: a
// host admitted by its address could log in with another host's port ID, end that host's
// channels (single channel) or join its nexus and inherit its reservations (multi-channel).
TEST_F(SrpService, AnotherAddressCannotTakeAnInitiatorPortsNexusOver) {
  FakePeer victim = listener.connect_request(
      bytes(login_request()), {.peer_address = "192.0.2.2:1000", .local_node_guid = kNodeGuid});
  pump_listener();
  ASSERT_TRUE(victim.accepted());
  for (std::uint8_t flags : {std::uint8_t{0x80}, std::uint8_t{0x81}}) {  // single, multi
    FakePeer thief = listener.connect_request(
        bytes(login_request(kTid, kNodeGuid, flags)),
        {.peer_address = "192.0.2.66:1000", .local_node_guid = kNodeGuid});
    pump_listener();
    EXPECT_FALSE(thief.accepted());
    EXPECT_TRUE(thief.rejected());
    EXPECT_FALSE(victim.disconnect_called()) << "the victim's channel is untouched";
  }
  EXPECT_EQ(host.nexus_creates, 1);
  EXPECT_NE(host.logs.back().find("cannot take its I_T nexus over"), std::string::npos);
  // The same host's second channel still joins.
  FakePeer second = listener.connect_request(
      bytes(login_request(kTid, kNodeGuid, 0x81)),
      {.peer_address = "192.0.2.2:1001", .local_node_guid = kNodeGuid});
  pump_listener();
  EXPECT_TRUE(second.accepted());
}

// Issue 14: the TransportID of an SRP nexus was all zero, so PERSISTENT RESERVE reports and
// REGISTER AND MOVE could not tell initiators apart.
TEST_F(SrpService, TheNexusKnowsItsInitiatorPortForTheTransportId) {
  FakePeer peer = login(login_request());
  ASSERT_TRUE(peer.accepted());
  const auto& nexus = service.channels().begin()->second->nexus();
  auto id = service.initiator_of(kTid, nexus.itn_id);
  ASSERT_TRUE(id);
  EXPECT_EQ((*id)[15], 0x56);
  EXPECT_EQ((*id)[8], 0x50);
  EXPECT_FALSE(service.initiator_of(kTid, nexus.itn_id + 1));
}

TEST_F(SrpService, ChannelsPerInitiatorPortAreCapped) {
  int accepted = 0;
  for (int i = 0; i < 40; ++i) accepted += login(login_request(kTid, kNodeGuid, 0x81)).accepted();
  EXPECT_EQ(accepted, 32);
}

TEST_F(SrpService, InitiatorLogoutClosesTheChannel) {
  FakePeer peer = login(login_request());
  Bytes logout(16, 0);
  logout[0] = 0x03;
  ASSERT_TRUE(peer.deliver(bytes(logout)));
  pump();
  EXPECT_TRUE(peer.disconnect_called());
}

TEST_F(SrpService, TargetDeletionClosesItsChannels) {
  FakePeer peer = login(login_request());
  service.target_gone(kTid);
  EXPECT_TRUE(peer.disconnect_called());
  EXPECT_EQ(service.channel_count(kTid), 0);
}

}  // namespace
}  // namespace tgt_pmem::srp
