// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-rdma-ping: a smoke test of utils/rdma over a real device (Soft-RoCE in the guest).
//
//   tgtpmem_rdma_ping server ADDRESS PORT    uses rdma::listen() and rdma::Connection
//   tgtpmem_rdma_ping client ADDRESS PORT    plain librdmacm/libibverbs, as an initiator
//
// The exchange exercises each verb of the seam once:
//   1. client connects with private data "tgtpmem-ping"; the server checks it and accepts
//   2. server (on kEstablished) SENDs the address/rkey of its target buffer
//   3. client RDMA WRITEs pattern A into it, then SENDs the address/rkey of its own buffer
//      (RC ordering: the SEND arrives after the WRITE's data)
//   4. server checks pattern A, RDMA READs the client's buffer, checks pattern B, SENDs a
//      status word; the client checks it, disconnects; the server sees kDisconnected.
// Exit status 0 on success on both sides. Each side gives up after --timeout seconds (10).
#include <infiniband/verbs.h>
#include <netdb.h>
#include <poll.h>
#include <rdma/rdma_cma.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tgt_pmem/rdma/connection.h"

namespace {

namespace rdma = tgt_pmem::rdma;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kLen = 64 * 1024;
constexpr char kHello[] = "tgtpmem-ping";

struct BufferDesc {
  std::uint64_t addr;
  std::uint32_t rkey;
  std::uint32_t len;
};

std::byte pattern_a(std::size_t i) { return static_cast<std::byte>((i * 13 + 1) & 0xff); }
std::byte pattern_b(std::size_t i) { return static_cast<std::byte>((i * 7 + 3) & 0xff); }

template <class F>
bool matches(const std::vector<std::byte>& v, F pattern) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != pattern(i)) return false;
  return true;
}

// --- server: the code under test ----------------------------------------------------------

enum Wr : std::uint64_t { kWrRecv = 1, kWrSendDesc, kWrRead, kWrSendStatus };

int run_server(const std::string& address, std::uint16_t port, int timeout_s) {
  auto listener = rdma::listen(address, port);
  if (!listener) {
    std::fprintf(stderr, "server: listen %s:%u: %s\n", address.c_str(), port,
                 listener.error().message().c_str());
    return 1;
  }
  std::printf("server: listening on %s:%u\n", address.c_str(), (*listener)->port());
  std::fflush(stdout);

  std::vector<std::byte> target(kLen), readback(kLen);
  std::array<std::byte, 64> recv_buf{}, send_buf{};
  std::unique_ptr<rdma::Connection> conn;
  // Regions after the connection: destroyed first.
  std::unique_ptr<rdma::MemoryRegion> mr_target, mr_readback, mr_recv, mr_send;
  std::uint32_t status = 0;
  bool sent_status = false, done = false;
  int rc = 1;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);

  auto fail = [&](const char* what, const std::error_code& ec) {
    std::fprintf(stderr, "server: %s: %s\n", what, ec.message().c_str());
    done = true;
  };

  while (!done && Clock::now() < deadline) {
    std::array<pollfd, 2> fds{
        {{(*listener)->event_fd(), POLLIN, 0}, {conn ? conn->completion_fd() : -1, POLLIN, 0}}};
    ::poll(fds.data(), fds.size(), 200);

    for (;;) {
      auto ev = (*listener)->next_event();
      if (!ev) {
        fail("next_event", ev.error());
        break;
      }
      if (!*ev) break;
      rdma::ListenerEvent& e = **ev;
      if (e.type == rdma::EventType::kConnectRequest) {
        auto pd = e.pending->private_data();
        std::printf("server: connect request from %s, node guid %016llx\n",
                    e.pending->peer_address().c_str(),
                    static_cast<unsigned long long>(e.pending->local_node_guid()));
        if (conn || pd.size() < sizeof kHello - 1 ||
            std::memcmp(pd.data(), kHello, sizeof kHello - 1) != 0) {
          e.pending->reject({});
          continue;
        }
        rdma::QueueLimits limits;
        limits.send_depth = 8;
        limits.recv_depth = 4;
        limits.max_sge = 2;
        auto c = e.pending->accept(limits, {});
        if (!c) {
          fail("accept", c.error());
          break;
        }
        conn = std::move(*c);
        std::printf("server: accepted; rdma_read_depth %u responder_resources %u\n",
                    conn->limits().rdma_read_depth, conn->limits().responder_resources);
        auto reg = [&](void* p, std::size_t n, unsigned access) {
          auto r = conn->register_memory(p, n, access);
          if (!r) fail("register_memory", r.error());
          return r ? std::move(*r) : nullptr;
        };
        mr_target = reg(target.data(), target.size(), rdma::kRemoteWrite | rdma::kRemoteRead);
        mr_readback = reg(readback.data(), readback.size(), rdma::kLocalWrite);
        mr_recv = reg(recv_buf.data(), recv_buf.size(), rdma::kLocalWrite);
        mr_send = reg(send_buf.data(), send_buf.size(), 0);
        if (done) break;
        if (auto s = conn->post_recv(kWrRecv, {recv_buf.data(), 64, mr_recv->lkey()}); !s)
          fail("post_recv", s.error());
      } else if (e.type == rdma::EventType::kEstablished) {
        std::printf("server: established with %s\n", e.connection->peer_address().c_str());
        const BufferDesc d{reinterpret_cast<std::uintptr_t>(target.data()), mr_target->rkey(),
                           kLen};
        std::memcpy(send_buf.data(), &d, sizeof d);
        if (auto s = conn->post_send(kWrSendDesc, {send_buf.data(), sizeof d, mr_send->lkey()}); !s)
          fail("post_send", s.error());
      } else {
        std::printf("server: disconnected\n");
        if (sent_status && status == 0) rc = 0;
        done = true;
        break;
      }
    }
    if (done || !conn) continue;

    if (auto s = conn->arm(); !s) {
      fail("arm", s.error());
      break;
    }
    std::array<rdma::Completion, 8> wcs;
    for (;;) {
      auto n = conn->poll(wcs);
      if (!n) {
        fail("poll", n.error());
        break;
      }
      if (*n == 0) break;
      for (std::size_t i = 0; i < *n; ++i) {
        const rdma::Completion& c = wcs[i];
        if (!c.ok) {
          std::fprintf(stderr, "server: wr %llu failed: %s\n",
                       static_cast<unsigned long long>(c.wr_id),
                       ibv_wc_status_str(static_cast<ibv_wc_status>(c.vendor_status)));
          done = true;
          continue;
        }
        if (c.wr_id == kWrRecv) {
          BufferDesc client{};
          if (c.byte_len != sizeof client) {
            std::fprintf(stderr, "server: message of %u bytes\n", c.byte_len);
            done = true;
            continue;
          }
          std::memcpy(&client, recv_buf.data(), sizeof client);
          if (!matches(target, pattern_a)) status |= 1;
          std::printf("server: RDMA WRITE data %s\n", (status & 1) ? "WRONG" : "ok");
          const std::array<rdma::LocalBuffer, 2> dst{
              {{readback.data(), kLen / 2, mr_readback->lkey()},
               {readback.data() + kLen / 2, kLen / 2, mr_readback->lkey()}}};
          if (auto s = conn->post_rdma_read(kWrRead, dst, {client.addr, client.rkey, kLen}); !s)
            fail("post_rdma_read", s.error());
        } else if (c.wr_id == kWrRead) {
          if (!matches(readback, pattern_b)) status |= 2;
          std::printf("server: RDMA READ data %s\n", (status & 2) ? "WRONG" : "ok");
          std::memcpy(send_buf.data(), &status, sizeof status);
          if (auto s =
                  conn->post_send(kWrSendStatus, {send_buf.data(), sizeof status, mr_send->lkey()});
              !s)
            fail("post_send", s.error());
          else
            sent_status = true;  // the client disconnects once it has it
        }
      }
    }
  }
  if (!done) std::fprintf(stderr, "server: timed out\n");
  mr_target.reset();
  mr_readback.reset();
  mr_recv.reset();
  mr_send.reset();
  conn.reset();
  return rc;
}

// --- client: a plain librdmacm initiator ---------------------------------------------------

struct ChannelDeleter {
  void operator()(rdma_event_channel* c) const { rdma_destroy_event_channel(c); }
};
struct IdDeleter {
  void operator()(rdma_cm_id* id) const { rdma_destroy_id(id); }
};
struct PdDeleter {
  void operator()(ibv_pd* p) const { ibv_dealloc_pd(p); }
};
struct CqDeleter {
  void operator()(ibv_cq* c) const { ibv_destroy_cq(c); }
};
struct QpDeleter {
  rdma_cm_id* id;
  void operator()(ibv_qp*) const { rdma_destroy_qp(id); }
};
struct MrDeleter {
  void operator()(ibv_mr* m) const { ibv_dereg_mr(m); }
};

bool wait_cm(rdma_event_channel* ch, rdma_cm_event_type want, const char* what) {
  rdma_cm_event* ev = nullptr;
  if (rdma_get_cm_event(ch, &ev) != 0) {
    std::perror(what);
    return false;
  }
  const rdma_cm_event_type got = ev->event;
  const int status = ev->status;
  rdma_ack_cm_event(ev);
  if (got != want) {
    std::fprintf(stderr, "client: %s: got %s (status %d)\n", what, rdma_event_str(got), status);
    return false;
  }
  return true;
}

bool wait_wc(ibv_cq* cq, std::uint64_t wr_id, ibv_wc& out, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    const int n = ibv_poll_cq(cq, 1, &out);
    if (n < 0) return false;
    if (n == 0) continue;
    if (out.status != IBV_WC_SUCCESS) {
      std::fprintf(stderr, "client: wr %llu: %s\n", static_cast<unsigned long long>(out.wr_id),
                   ibv_wc_status_str(out.status));
      return false;
    }
    if (out.wr_id == wr_id) return true;
  }
  std::fprintf(stderr, "client: timed out waiting for wr %llu\n",
               static_cast<unsigned long long>(wr_id));
  return false;
}

int run_client(const std::string& address, std::uint16_t port, int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* ai = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &ai) != 0) {
    std::fprintf(stderr, "client: bad address %s\n", address.c_str());
    return 1;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> ai_owner(ai, freeaddrinfo);

  std::unique_ptr<rdma_event_channel, ChannelDeleter> ch(rdma_create_event_channel());
  if (!ch) return std::perror("rdma_create_event_channel"), 1;
  rdma_cm_id* raw = nullptr;
  if (rdma_create_id(ch.get(), &raw, nullptr, RDMA_PS_TCP) != 0)
    return std::perror("rdma_create_id"), 1;
  std::unique_ptr<rdma_cm_id, IdDeleter> id(raw);
  if (rdma_resolve_addr(id.get(), nullptr, ai->ai_addr, 2000) != 0)
    return std::perror("rdma_resolve_addr"), 1;
  if (!wait_cm(ch.get(), RDMA_CM_EVENT_ADDR_RESOLVED, "resolve addr")) return 1;
  if (rdma_resolve_route(id.get(), 2000) != 0) return std::perror("rdma_resolve_route"), 1;
  if (!wait_cm(ch.get(), RDMA_CM_EVENT_ROUTE_RESOLVED, "resolve route")) return 1;

  std::unique_ptr<ibv_pd, PdDeleter> pd(ibv_alloc_pd(id->verbs));
  if (!pd) return std::perror("ibv_alloc_pd"), 1;
  std::unique_ptr<ibv_cq, CqDeleter> cq(ibv_create_cq(id->verbs, 16, nullptr, nullptr, 0));
  if (!cq) return std::perror("ibv_create_cq"), 1;
  ibv_qp_init_attr attr{};
  attr.send_cq = cq.get();
  attr.recv_cq = cq.get();
  attr.qp_type = IBV_QPT_RC;
  attr.sq_sig_all = 1;
  attr.cap = {8, 4, 2, 2, 0};
  if (rdma_create_qp(id.get(), pd.get(), &attr) != 0) return std::perror("rdma_create_qp"), 1;
  std::unique_ptr<ibv_qp, QpDeleter> qp(id->qp, QpDeleter{id.get()});

  std::vector<std::byte> data(kLen);
  for (std::size_t i = 0; i < kLen; ++i) data[i] = pattern_a(i);
  std::vector<std::byte> exposed(kLen);  // what the server RDMA READs
  for (std::size_t i = 0; i < kLen; ++i) exposed[i] = pattern_b(i);
  std::array<std::byte, 64> recv_buf{}, send_buf{};
  auto reg = [&](void* p, std::size_t n, int access) {
    return std::unique_ptr<ibv_mr, MrDeleter>(ibv_reg_mr(pd.get(), p, n, access));
  };
  auto mr_data = reg(data.data(), kLen, 0);
  auto mr_exposed = reg(exposed.data(), kLen, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
  auto mr_recv = reg(recv_buf.data(), recv_buf.size(), IBV_ACCESS_LOCAL_WRITE);
  auto mr_send = reg(send_buf.data(), send_buf.size(), 0);
  if (!mr_data || !mr_exposed || !mr_recv || !mr_send) return std::perror("ibv_reg_mr"), 1;

  auto post_recv = [&](std::uint64_t wr_id) {
    ibv_sge sge{reinterpret_cast<std::uintptr_t>(recv_buf.data()), 64, mr_recv->lkey};
    ibv_recv_wr wr{};
    wr.wr_id = wr_id;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    ibv_recv_wr* bad = nullptr;
    return ibv_post_recv(qp.get(), &wr, &bad) == 0;
  };
  if (!post_recv(1)) return std::perror("ibv_post_recv"), 1;

  rdma_conn_param param{};
  param.private_data = kHello;
  param.private_data_len = sizeof kHello - 1;
  param.initiator_depth = 1;
  param.responder_resources = 4;
  param.retry_count = 7;
  param.rnr_retry_count = 7;
  if (rdma_connect(id.get(), &param) != 0) return std::perror("rdma_connect"), 1;
  if (!wait_cm(ch.get(), RDMA_CM_EVENT_ESTABLISHED, "connect")) return 1;
  std::printf("client: connected\n");

  ibv_wc wc{};
  if (!wait_wc(cq.get(), 1, wc, deadline)) return 1;
  BufferDesc server{};
  if (wc.byte_len != sizeof server) return std::fprintf(stderr, "client: bad desc\n"), 1;
  std::memcpy(&server, recv_buf.data(), sizeof server);
  if (!post_recv(2)) return std::perror("ibv_post_recv"), 1;

  ibv_sge wsge{reinterpret_cast<std::uintptr_t>(data.data()), kLen, mr_data->lkey};
  ibv_send_wr write{};
  write.wr_id = 10;
  write.sg_list = &wsge;
  write.num_sge = 1;
  write.opcode = IBV_WR_RDMA_WRITE;
  write.wr.rdma.remote_addr = server.addr;
  write.wr.rdma.rkey = server.rkey;
  const BufferDesc mine{reinterpret_cast<std::uintptr_t>(exposed.data()), mr_exposed->rkey, kLen};
  std::memcpy(send_buf.data(), &mine, sizeof mine);
  ibv_sge ssge{reinterpret_cast<std::uintptr_t>(send_buf.data()), sizeof mine, mr_send->lkey};
  ibv_send_wr send{};
  send.wr_id = 11;
  send.sg_list = &ssge;
  send.num_sge = 1;
  send.opcode = IBV_WR_SEND;
  write.next = &send;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(qp.get(), &write, &bad) != 0) return std::perror("ibv_post_send"), 1;

  if (!wait_wc(cq.get(), 2, wc, deadline)) return 1;
  std::uint32_t status = ~0u;
  std::memcpy(&status, recv_buf.data(), sizeof status);
  std::printf("client: server status %u (%s)\n", status, status == 0 ? "ok" : "FAILED");

  rdma_disconnect(id.get());
  wait_cm(ch.get(), RDMA_CM_EVENT_DISCONNECTED, "disconnect");
  return status == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int timeout_s = 10;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--timeout" && i + 1 < argc)
      timeout_s = std::atoi(argv[++i]);
    else
      args.push_back(a);
  }
  if (args.size() != 3 || (args[0] != "server" && args[0] != "client")) {
    std::fprintf(stderr, "usage: %s server|client ADDRESS PORT [--timeout SECONDS]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::stoul(args[2]));
  return args[0] == "server" ? run_server(args[1], port, timeout_s)
                             : run_client(args[1], port, timeout_s);
}
