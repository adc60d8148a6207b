// SPDX-License-Identifier: GPL-2.0-only
#include "fake_rdma.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

namespace tgt_pmem::testing {

using rdma::Completion;
using rdma::EventType;
using rdma::LocalBuffer;
using rdma::QueueLimits;
using rdma::RemoteBuffer;
using rdma::WorkType;

namespace fake_rdma_detail {

// Keys are unique across every fake connection of the process, so an rkey or lkey that
// leaked from one connection (or a peer rkey used as an lkey) is refused by another.
std::uint32_t next_key() {
  static std::uint32_t key = 0x1000;
  return key += 0x11;
}

struct LocalRegion {
  std::byte* data = nullptr;
  std::size_t size = 0;
  std::uint32_t lkey = 0;
  std::uint32_t rkey = 0;
  unsigned access = 0;
  std::uint64_t iova = 0;  // where peers address byte 0 (register_memory: the address)

  // Local access (an lkey and process addresses).
  [[nodiscard]] bool covers(std::uint64_t addr, std::uint64_t len) const {
    return within(reinterpret_cast<std::uintptr_t>(data), addr, len);
  }
  // A peer's access (an rkey and addresses from iova).
  [[nodiscard]] bool covers_remote(std::uint64_t addr, std::uint64_t len) const {
    return within(iova, addr, len);
  }
  // Where a peer's address lands (covers_remote(addr, ...) checked).
  [[nodiscard]] std::byte* at_remote(std::uint64_t addr) const { return data + (addr - iova); }

 private:
  [[nodiscard]] bool within(std::uint64_t base, std::uint64_t addr, std::uint64_t len) const {
    return addr >= base && len <= size && addr - base <= size - len;
  }
};

struct PeerRegion {
  std::uint64_t addr = 0;
  std::vector<std::byte> bytes;
  unsigned access = 0;
};

struct Work {
  std::uint64_t wr_id = 0;
  WorkType type = WorkType::kSend;
  std::vector<LocalBuffer> local;
  RemoteBuffer remote;
  int post_status = IBV_WC_SUCCESS;  // a send from a bad buffer fails when it runs
  bool flush = false;                // RDMA FLUSH (type kRdmaWrite, no local buffers)
  bool signaled = true;              // false: no completion when it succeeds (post_chain)
};

struct Recv {
  std::uint64_t wr_id = 0;
  LocalBuffer buf;
};

enum class Answer { kNone, kAccepted, kRejected };

struct QpState : std::enable_shared_from_this<QpState> {
  QueueLimits limits;
  FakeConnection* connection = nullptr;
  bool connected_once = false;
  bool destroyed = false;
  bool error = false;
  bool auto_complete = false;

  std::deque<Work> send_queue;
  std::deque<Recv> recv_queue;
  std::deque<Completion> completions;
  // Per completion: the send-queue slots its poll frees (itself and the unsignalled
  // requests that ran before it); 1 for receives.
  std::deque<std::uint32_t> completion_frees;
  std::uint32_t unsignalled_done = 0;  // ran successfully, slot held until the next completion
  std::vector<std::vector<PostedWork>> send_posts;  // every send-queue post call
  std::uint32_t send_outstanding = 0;
  std::uint32_t recv_outstanding = 0;
  std::array<std::deque<int>, 4> failures;
  std::error_code fail_post;
  std::error_code fail_registration;
  std::function<void()> on_poll;
  std::size_t fail_registrations = 0;  // how many more register_memory calls fail with it
  std::error_code fail_poll;

  std::vector<std::vector<std::byte>> sent;
  std::vector<LocalRegion> local_regions;
  std::vector<unsigned> registration_access;  // of every successful register_memory
  std::vector<RemoteBuffer> flushes_run;      // RDMA FLUSHes executed
  std::size_t registrations = 0;
  std::size_t regions_live_at_close = 0;
  std::vector<std::pair<std::uint32_t, PeerRegion>> peer_regions;
  std::uint64_t next_peer_addr = 0x7f0000000000;

  bool disconnect_called = false;
  std::size_t arm_calls = 0;

  // Handshake, when made through a FakeListener.
  std::weak_ptr<ListenerQueue> listener;
  FakeRequest request;
  std::vector<std::byte> request_private_data;
  Answer answer = Answer::kNone;
  std::vector<std::byte> reply_private_data;
  QueueLimits requested_limits;
  std::error_code fail_accept;
  bool disconnect_queued = false;
  bool established_reported = false;
  bool disconnect_reported = false;

  void complete(std::uint64_t wr_id, WorkType type, int status, std::uint32_t byte_len = 0) {
    Completion c;
    c.wr_id = wr_id;
    c.type = type;
    c.ok = status == IBV_WC_SUCCESS;
    c.vendor_status = status;
    c.byte_len = c.ok ? byte_len : 0;
    completions.push_back(c);
    completion_frees.push_back(type == WorkType::kRecv ? 1 : 1 + std::exchange(unsignalled_done, 0));
  }

  void queue_event(EventType type);

  // The first error: everything outstanding flushes, in order (sends, then receives).
  void enter_error() {
    if (error) return;
    error = true;
    for (const Work& w : send_queue) complete(w.wr_id, w.type, IBV_WC_WR_FLUSH_ERR);
    send_queue.clear();
    for (const Recv& r : recv_queue) complete(r.wr_id, WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
    recv_queue.clear();
  }

  LocalRegion* local_by_lkey(std::uint32_t lkey) {
    for (LocalRegion& r : local_regions)
      if (r.lkey == lkey) return &r;
    return nullptr;
  }
  LocalRegion* local_by_rkey(std::uint32_t rkey) {
    for (LocalRegion& r : local_regions)
      if (r.rkey == rkey) return &r;
    return nullptr;
  }
  PeerRegion* peer_by_rkey(std::uint32_t rkey) {
    for (auto& [key, region] : peer_regions)
      if (key == rkey) return &region;
    return nullptr;
  }

  // IBV_WC_SUCCESS or IBV_WC_LOC_PROT_ERR: is buf inside one of the code's registrations
  // (with local write where the HCA writes into it)?
  int check_local(const LocalBuffer& buf, bool hca_writes) {
    if (buf.length == 0) return IBV_WC_SUCCESS;
    const LocalRegion* r = local_by_lkey(buf.lkey);
    if (r == nullptr || !r->covers(reinterpret_cast<std::uintptr_t>(buf.addr), buf.length))
      return IBV_WC_LOC_PROT_ERR;
    if (hca_writes && (r->access & (rdma::kLocalWrite | rdma::kRemoteWrite)) == 0)
      return IBV_WC_LOC_PROT_ERR;
    return IBV_WC_SUCCESS;
  }

  // The peer region an RDMA READ/WRITE reaches, or nullptr: IBV_WC_REM_ACCESS_ERR.
  PeerRegion* check_remote(const RemoteBuffer& remote, unsigned needed) {
    PeerRegion* r = peer_by_rkey(remote.rkey);
    if (r == nullptr || (r->access & needed) == 0) return nullptr;
    if (remote.addr < r->addr || remote.length > r->bytes.size() ||
        remote.addr - r->addr > r->bytes.size() - remote.length)
      return nullptr;
    return r;
  }

  [[nodiscard]] std::optional<int> take_failure(WorkType type) {
    auto& q = failures[static_cast<std::size_t>(type)];
    if (q.empty()) return std::nullopt;
    const int status = q.front();
    q.pop_front();
    return status;
  }

  // Carries out one send-queue work request; its completion status.
  int execute(const Work& w) {
    if (auto status = take_failure(w.type)) return *status;
    if (w.post_status != IBV_WC_SUCCESS) return w.post_status;
    if (w.type == WorkType::kSend) return IBV_WC_SUCCESS;  // the bytes left at post time
    // The WRITEs before it ran already: nothing to move, only the peer's permission.
    if (w.flush) flushes_run.push_back(w.remote);
    if (w.flush)
      return check_remote(w.remote, rdma::kRemoteFlush) != nullptr ? IBV_WC_SUCCESS
                                                                   : IBV_WC_REM_ACCESS_ERR;

    const bool read = w.type == WorkType::kRdmaRead;
    // A WRITE gathers its local buffers first; a READ's request reaches the peer first.
    if (!read)
      for (const LocalBuffer& b : w.local)
        if (check_local(b, false) != IBV_WC_SUCCESS) return IBV_WC_LOC_PROT_ERR;
    PeerRegion* r = nullptr;
    if (w.remote.length != 0) {
      r = check_remote(w.remote, read ? rdma::kRemoteRead : rdma::kRemoteWrite);
      if (r == nullptr) return IBV_WC_REM_ACCESS_ERR;
    }
    if (read)
      for (const LocalBuffer& b : w.local)
        if (check_local(b, true) != IBV_WC_SUCCESS) return IBV_WC_LOC_PROT_ERR;
    std::uint64_t offset = r != nullptr ? w.remote.addr - r->addr : 0;
    for (const LocalBuffer& b : w.local) {
      if (b.length == 0) continue;
      if (read)
        std::memcpy(b.addr, r->bytes.data() + offset, b.length);
      else
        std::memcpy(r->bytes.data() + offset, b.addr, b.length);
      offset += b.length;
    }
    return IBV_WC_SUCCESS;
  }

  // Runs the oldest send-queue work request.
  bool run_next() {
    if (send_queue.empty()) return false;
    const Work w = std::move(send_queue.front());
    send_queue.pop_front();
    const int status = execute(w);
    if (status == IBV_WC_SUCCESS && !w.signaled)
      ++unsignalled_done;  // no completion; the slot stays taken until the next one is polled
    else
      complete(w.wr_id, w.type, status);  // an error is reported signalled or not
    if (status != IBV_WC_SUCCESS) enter_error();
    return true;
  }

  std::size_t run_all() {
    std::size_t n = 0;
    while (run_next()) ++n;
    return n;
  }

  rdma::Status check_post(std::size_t sge, std::uint64_t total, std::uint64_t expected, bool recv) {
    if (fail_post) return std::unexpected(std::exchange(fail_post, {}));
    if (sge > limits.max_sge || total != expected)
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    if (recv ? recv_outstanding >= limits.recv_depth : send_outstanding >= limits.send_depth)
      return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
    return {};
  }
  rdma::Status post(Work w) {
    std::uint64_t total = 0;
    for (const LocalBuffer& b : w.local) total += b.length;
    const std::uint64_t expected = w.type == WorkType::kSend || w.flush ? total : w.remote.length;
    if (auto ok = check_post(w.local.size(), total, expected, false); !ok) return ok;
    send_posts.push_back({{w.wr_id, w.type, w.signaled}});
    enqueue(std::move(w));
    return {};
  }
  // As ibv_post_send with a list: all or nothing here (the provider's partial post is not
  // modelled: the verbs connection disconnects then).
  rdma::Status post_chain(std::span<const rdma::SendWork> chain) {
    if (fail_post) return std::unexpected(std::exchange(fail_post, {}));
    const auto invalid = std::unexpected(std::make_error_code(std::errc::invalid_argument));
    if (chain.empty() || !chain.back().signaled) return invalid;
    for (const rdma::SendWork& w : chain) {
      if (w.type == WorkType::kRecv || w.local.size() > limits.max_sge) return invalid;
      std::uint64_t total = 0;
      for (const LocalBuffer& b : w.local) total += b.length;
      if (w.type != WorkType::kSend && total != w.remote.length) return invalid;
    }
    if (chain.size() > limits.send_depth - send_outstanding)
      return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
    std::vector<PostedWork> log;
    for (const rdma::SendWork& w : chain) log.push_back({w.wr_id, w.type, w.signaled});
    send_posts.push_back(std::move(log));
    const bool was_auto = std::exchange(auto_complete, false);  // all posted, then run
    for (const rdma::SendWork& w : chain) {
      Work work{w.wr_id, w.type, {w.local.begin(), w.local.end()}, w.remote};
      work.signaled = w.signaled;
      enqueue(std::move(work));
    }
    auto_complete = was_auto;
    if (auto_complete) run_all();
    return {};
  }
  // Takes a send-queue slot and queues w (or flushes it at once on a QP in the error state).
  void enqueue(Work w) {
    ++send_outstanding;
    if (error) {  // like verbs: accepted, then flushed
      complete(w.wr_id, w.type, IBV_WC_WR_FLUSH_ERR);
      return;
    }
    if (w.type == WorkType::kSend) {
      w.post_status = check_local(w.local.front(), false);
      if (w.post_status == IBV_WC_SUCCESS) {
        const LocalBuffer& b = w.local.front();
        sent.emplace_back(b.addr, b.addr + b.length);
      }
    }
    send_queue.push_back(std::move(w));
    if (auto_complete) run_all();
  }
};

struct ListenerQueue {
  std::deque<std::pair<EventType, std::shared_ptr<QpState>>> events;
  bool auto_establish = true;
  std::error_code fail_next;
};

void QpState::queue_event(EventType type) {
  if (auto q = listener.lock()) q->events.emplace_back(type, shared_from_this());
}

namespace {

class FakeMemoryRegion final : public rdma::MemoryRegion {
 public:
  FakeMemoryRegion(std::shared_ptr<QpState> state, LocalRegion region)
      : state_(std::move(state)), region_(region) {}
  ~FakeMemoryRegion() override {
    auto& v = state_->local_regions;
    std::erase_if(v, [&](const LocalRegion& r) { return r.lkey == region_.lkey; });
  }
  std::byte* data() const noexcept override { return region_.data; }
  std::size_t size() const noexcept override { return region_.size; }
  std::uint32_t lkey() const noexcept override { return region_.lkey; }
  std::uint32_t rkey() const noexcept override { return region_.rkey; }

 private:
  std::shared_ptr<QpState> state_;
  LocalRegion region_;
};

class FakePendingConnection final : public rdma::PendingConnection {
 public:
  explicit FakePendingConnection(std::shared_ptr<QpState> state) : state_(std::move(state)) {}
  ~FakePendingConnection() override {
    if (state_->answer == Answer::kNone) reject({});
  }

  std::span<const std::byte> private_data() const noexcept override {
    return state_->request_private_data;
  }
  std::string peer_address() const override { return state_->request.peer_address; }
  std::uint64_t local_node_guid() const noexcept override {
    return state_->request.local_node_guid;
  }
  std::uint8_t peer_responder_resources() const noexcept override {
    return state_->request.responder_resources;
  }
  std::uint8_t peer_initiator_depth() const noexcept override {
    return state_->request.initiator_depth;
  }

  rdma::Result<std::unique_ptr<rdma::Connection>> accept(
      const QueueLimits& limits, std::span<const std::byte> private_data) override {
    QpState& s = *state_;
    if (s.answer != Answer::kNone || limits.send_depth == 0 || limits.recv_depth == 0 ||
        limits.max_sge == 0 || private_data.size() > 196)  // 196: an IB/RoCE REP's room
      return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    if (s.fail_accept) return std::unexpected(std::exchange(s.fail_accept, {}));
    s.answer = Answer::kAccepted;
    s.requested_limits = limits;
    s.reply_private_data.assign(private_data.begin(), private_data.end());
    auto clamp = [&](std::uint8_t ours, std::uint8_t peer) {
      return static_cast<std::uint8_t>(
          std::min({static_cast<int>(ours), static_cast<int>(peer), s.request.device_max_rd_atom}));
    };
    QueueLimits negotiated = limits;
    negotiated.rdma_read_depth = clamp(limits.rdma_read_depth, s.request.responder_resources);
    negotiated.responder_resources = clamp(limits.responder_resources, s.request.initiator_depth);
    s.limits = negotiated;
    std::unique_ptr<FakeConnection> conn;
    if (s.request.rdma_flush)
      conn = std::make_unique<FakeFlushConnection>(state_);
    else
      conn = std::make_unique<FakeConnection>(state_);
    if (auto q = s.listener.lock(); q && q->auto_establish) s.queue_event(EventType::kEstablished);
    return conn;
  }

  void reject(std::span<const std::byte> private_data) noexcept override {
    QpState& s = *state_;
    if (s.answer != Answer::kNone) return;
    s.answer = Answer::kRejected;
    try {
      s.reply_private_data.assign(private_data.begin(), private_data.end());
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<QpState> state_;
};

}  // namespace
}  // namespace fake_rdma_detail

using fake_rdma_detail::Answer;
using fake_rdma_detail::QpState;

// --- FakePeer ------------------------------------------------------------------------------

FakePeer::FakePeer() : state_(std::make_shared<QpState>()) {}
FakePeer::FakePeer(std::shared_ptr<QpState> state) : state_(std::move(state)) {}

std::unique_ptr<FakeConnection> FakePeer::connect(const QueueLimits& limits) {
  if (state_->connected_once) throw std::logic_error("FakePeer::connect: already connected");
  state_->limits = limits;
  state_->answer = Answer::kAccepted;
  state_->requested_limits = limits;
  return std::make_unique<FakeConnection>(state_);
}

std::unique_ptr<FakeFlushConnection> FakePeer::connect_flush_capable(const QueueLimits& limits) {
  if (state_->connected_once) throw std::logic_error("FakePeer::connect: already connected");
  state_->limits = limits;
  state_->answer = Answer::kAccepted;
  state_->requested_limits = limits;
  return std::make_unique<FakeFlushConnection>(state_);
}

rdma::RemoteBuffer FakePeer::add_region(std::size_t size, unsigned access) {
  std::vector<std::byte> zeros(size);
  return add_region(zeros, access);
}

rdma::RemoteBuffer FakePeer::add_region(std::span<const std::byte> contents, unsigned access) {
  QpState& s = *state_;
  fake_rdma_detail::PeerRegion r;
  r.addr = s.next_peer_addr;
  r.bytes.assign(contents.begin(), contents.end());
  r.access = access;
  // Regions a page apart, so running off the end of one never lands in the next.
  s.next_peer_addr += (contents.size() + 4095) / 4096 * 4096 + 4096;
  const std::uint32_t rkey = fake_rdma_detail::next_key();
  s.peer_regions.emplace_back(rkey, std::move(r));
  return {s.peer_regions.back().second.addr, rkey, static_cast<std::uint32_t>(contents.size())};
}

std::span<std::byte> FakePeer::region(std::uint32_t rkey) const {
  auto* r = state_->peer_by_rkey(rkey);
  return r != nullptr ? std::span<std::byte>(r->bytes) : std::span<std::byte>();
}

void FakePeer::remove_region(std::uint32_t rkey) {
  std::erase_if(state_->peer_regions, [&](const auto& p) { return p.first == rkey; });
}

bool FakePeer::deliver(std::span<const std::byte> bytes) {
  QpState& s = *state_;
  if (s.error || s.recv_queue.empty()) return false;
  const fake_rdma_detail::Recv r = s.recv_queue.front();
  s.recv_queue.pop_front();
  int status = IBV_WC_SUCCESS;
  if (auto injected = s.take_failure(WorkType::kRecv))
    status = *injected;
  else if (s.check_local(r.buf, true) != IBV_WC_SUCCESS)
    status = IBV_WC_LOC_PROT_ERR;
  else if (bytes.size() > r.buf.length)
    status = IBV_WC_LOC_LEN_ERR;
  if (status != IBV_WC_SUCCESS) {
    s.complete(r.wr_id, WorkType::kRecv, status);
    s.enter_error();
    return false;
  }
  if (!bytes.empty()) std::memcpy(r.buf.addr, bytes.data(), bytes.size());
  s.complete(r.wr_id, WorkType::kRecv, IBV_WC_SUCCESS, static_cast<std::uint32_t>(bytes.size()));
  return true;
}

const std::vector<std::vector<std::byte>>& FakePeer::sent() const { return state_->sent; }
std::vector<std::vector<std::byte>> FakePeer::take_sent() {
  return std::exchange(state_->sent, {});
}

std::size_t FakePeer::complete_all() { return state_->run_all(); }
bool FakePeer::complete_next() { return state_->run_next(); }
void FakePeer::set_auto_complete(bool on) {
  state_->auto_complete = on;
  if (on) state_->run_all();
}

void FakePeer::fail_next(WorkType type, int status, std::size_t count) {
  auto& q = state_->failures[static_cast<std::size_t>(type)];
  q.insert(q.end(), count, status);
}
void FakePeer::fail_next_post(std::error_code ec) { state_->fail_post = ec; }
void FakePeer::fail_next_registration(std::error_code ec, std::size_t count) {
  state_->fail_registration = ec;
  state_->fail_registrations = ec ? count : 0;
}
void FakePeer::fail_next_poll(std::error_code ec) { state_->fail_poll = ec; }
void FakePeer::on_poll(std::function<void()> act) { state_->on_poll = std::move(act); }
void FakePeer::move_to_error() { state_->enter_error(); }

int FakePeer::peer_rdma_write(std::uint32_t rkey, std::uint64_t addr,
                              std::span<const std::byte> bytes) {
  QpState& s = *state_;
  if (s.connection == nullptr || s.error) return IBV_WC_RETRY_EXC_ERR;
  if (bytes.empty()) return IBV_WC_SUCCESS;
  auto* r = s.local_by_rkey(rkey);
  if (r == nullptr || (r->access & rdma::kRemoteWrite) == 0 || !r->covers_remote(addr, bytes.size())) {
    s.enter_error();
    return IBV_WC_REM_ACCESS_ERR;
  }
  std::memcpy(r->at_remote(addr), bytes.data(), bytes.size());
  return IBV_WC_SUCCESS;
}

std::expected<std::vector<std::byte>, int> FakePeer::peer_rdma_read(std::uint32_t rkey,
                                                                    std::uint64_t addr,
                                                                    std::uint32_t len) {
  QpState& s = *state_;
  if (s.connection == nullptr || s.error) return std::unexpected(IBV_WC_RETRY_EXC_ERR);
  if (len == 0) return std::vector<std::byte>();
  auto* r = s.local_by_rkey(rkey);
  if (r == nullptr || (r->access & rdma::kRemoteRead) == 0 || !r->covers_remote(addr, len)) {
    s.enter_error();
    return std::unexpected(IBV_WC_REM_ACCESS_ERR);
  }
  const std::byte* p = r->at_remote(addr);
  return std::vector<std::byte>(p, p + len);
}

int FakePeer::peer_rdma_flush(std::uint32_t rkey, std::uint64_t addr, std::uint32_t len) {
  QpState& s = *state_;
  if (s.connection == nullptr || s.error) return IBV_WC_RETRY_EXC_ERR;
  auto* r = s.local_by_rkey(rkey);
  if (r == nullptr || (r->access & rdma::kRemoteFlush) == 0 || !r->covers_remote(addr, len)) {
    s.enter_error();
    return IBV_WC_REM_ACCESS_ERR;
  }
  return IBV_WC_SUCCESS;
}

std::vector<unsigned> FakePeer::registration_access() const {
  return state_->registration_access;
}
std::vector<rdma::RemoteBuffer> FakePeer::rdma_flushes_run() const {
  return state_->flushes_run;
}

const std::vector<std::vector<PostedWork>>& FakePeer::send_posts() const {
  return state_->send_posts;
}
std::size_t FakePeer::send_slots_held() const { return state_->send_outstanding; }
std::size_t FakePeer::pending_work() const { return state_->send_queue.size(); }
std::size_t FakePeer::posted_receives() const { return state_->recv_queue.size(); }
std::size_t FakePeer::queued_completions() const { return state_->completions.size(); }
bool FakePeer::in_error() const { return state_->error; }
std::size_t FakePeer::live_regions() const { return state_->local_regions.size(); }
std::size_t FakePeer::registrations() const { return state_->registrations; }
std::size_t FakePeer::regions_live_at_close() const { return state_->regions_live_at_close; }
bool FakePeer::connection_destroyed() const { return state_->destroyed; }
bool FakePeer::disconnect_called() const { return state_->disconnect_called; }
std::size_t FakePeer::arm_calls() const { return state_->arm_calls; }

bool FakePeer::accepted() const { return state_->answer == Answer::kAccepted; }
bool FakePeer::rejected() const { return state_->answer == Answer::kRejected; }
std::vector<std::byte> FakePeer::reply_private_data() const { return state_->reply_private_data; }
QueueLimits FakePeer::requested_limits() const { return state_->requested_limits; }
void FakePeer::fail_accept(std::error_code ec) { state_->fail_accept = ec; }
void FakePeer::establish() { state_->queue_event(EventType::kEstablished); }
void FakePeer::disconnect() {
  state_->enter_error();
  if (!std::exchange(state_->disconnect_queued, true))
    state_->queue_event(EventType::kDisconnected);
}

// --- FakeConnection --------------------------------------------------------------------------

FakeConnection::FakeConnection(std::shared_ptr<QpState> state) : state_(std::move(state)) {
  state_->connection = this;
  state_->connected_once = true;
}

FakeConnection::~FakeConnection() {
  state_->connection = nullptr;
  state_->destroyed = true;
  state_->regions_live_at_close = state_->local_regions.size();
}

FakePeer FakeConnection::peer() const { return FakePeer(state_); }

rdma::Result<std::unique_ptr<rdma::MemoryRegion>> FakeConnection::register_memory(void* addr,
                                                                                  std::size_t len,
                                                                                  unsigned access) {
  return register_memory_at(addr, len, access, reinterpret_cast<std::uintptr_t>(addr));
}

rdma::Result<std::unique_ptr<rdma::MemoryRegion>> FakeConnection::register_memory_at(
    void* addr, std::size_t len, unsigned access, std::uint64_t iova) {
  QpState& s = *state_;
  if (s.fail_registrations != 0) {
    const std::error_code ec = s.fail_registration;
    if (--s.fail_registrations == 0) s.fail_registration.clear();
    return std::unexpected(ec);
  }
  if (addr == nullptr || len == 0)
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  fake_rdma_detail::LocalRegion r;
  r.data = static_cast<std::byte*>(addr);
  r.size = len;
  r.lkey = fake_rdma_detail::next_key();
  r.rkey = fake_rdma_detail::next_key();
  r.access = access;
  r.iova = iova;
  s.local_regions.push_back(r);
  s.registration_access.push_back(access);
  ++s.registrations;
  return std::make_unique<fake_rdma_detail::FakeMemoryRegion>(state_, r);
}

rdma::Status FakeConnection::post_recv(std::uint64_t wr_id, LocalBuffer buf) {
  QpState& s = *state_;
  if (auto ok = s.check_post(1, 0, 0, true); !ok) return ok;
  ++s.recv_outstanding;
  if (s.error)
    s.complete(wr_id, WorkType::kRecv, IBV_WC_WR_FLUSH_ERR);
  else
    s.recv_queue.push_back({wr_id, buf});
  return {};
}

rdma::Status FakeConnection::post_send(std::uint64_t wr_id, LocalBuffer buf) {
  return state_->post({wr_id, WorkType::kSend, {buf}, {}});
}

rdma::Status FakeConnection::post_rdma_read(std::uint64_t wr_id, std::span<const LocalBuffer> dst,
                                            RemoteBuffer src) {
  return state_->post({wr_id, WorkType::kRdmaRead, {dst.begin(), dst.end()}, src});
}

rdma::Status FakeConnection::post_rdma_write(std::uint64_t wr_id, std::span<const LocalBuffer> src,
                                             RemoteBuffer dst) {
  return state_->post({wr_id, WorkType::kRdmaWrite, {src.begin(), src.end()}, dst});
}

rdma::Status FakeConnection::post_chain(std::span<const rdma::SendWork> chain) {
  return state_->post_chain(chain);
}

rdma::Result<std::size_t> FakeConnection::poll(std::span<Completion> out) {
  QpState& s = *state_;
  if (s.on_poll) {
    auto act = s.on_poll;  // it may replace itself
    act();
  }
  if (s.fail_poll) return std::unexpected(std::exchange(s.fail_poll, {}));
  std::size_t n = 0;
  while (n < out.size() && !s.completions.empty()) {
    out[n] = s.completions.front();
    s.completions.pop_front();
    const std::uint32_t frees = s.completion_frees.front();
    s.completion_frees.pop_front();
    if (out[n].type == WorkType::kRecv)
      --s.recv_outstanding;
    else
      s.send_outstanding -= frees;
    ++n;
  }
  return n;
}

rdma::Status FakeConnection::arm() {
  ++state_->arm_calls;
  return {};
}

void FakeConnection::disconnect() noexcept {
  QpState& s = *state_;
  s.disconnect_called = true;
  s.enter_error();  // rdma_disconnect moves the QP to the error state
  if (!std::exchange(s.disconnect_queued, true)) s.queue_event(EventType::kDisconnected);
}

const QueueLimits& FakeConnection::limits() const noexcept { return state_->limits; }

rdma::Status FakeFlushConnection::post_rdma_flush(std::uint64_t wr_id, RemoteBuffer dst) {
  if (dst.length == 0) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  fake_rdma_detail::Work w{wr_id, WorkType::kRdmaWrite, {}, dst};
  w.flush = true;
  return state().post(std::move(w));
}
std::string FakeConnection::peer_address() const { return state_->request.peer_address; }

// --- FakeListener ----------------------------------------------------------------------------

FakeListener::FakeListener(std::uint16_t port)
    : queue_(std::make_shared<fake_rdma_detail::ListenerQueue>()), port_(port) {}
FakeListener::~FakeListener() = default;

FakePeer FakeListener::connect_request(std::span<const std::byte> private_data,
                                       FakeRequest request) {
  const std::size_t room = request.private_data_room;
  if (room != 0 && private_data.size() > room)
    throw std::invalid_argument("FakeListener::connect_request: private data exceeds the room");
  auto state = std::make_shared<QpState>();
  state->listener = queue_;
  state->request = std::move(request);
  state->request_private_data.assign(private_data.begin(), private_data.end());
  if (room != 0) state->request_private_data.resize(room);  // zero-padded
  queue_->events.emplace_back(EventType::kConnectRequest, state);
  return FakePeer(state);
}

void FakeListener::set_auto_establish(bool on) { queue_->auto_establish = on; }
void FakeListener::fail_next_event(std::error_code ec) { queue_->fail_next = ec; }
std::size_t FakeListener::queued_events() const { return queue_->events.size(); }

rdma::Result<std::optional<rdma::ListenerEvent>> FakeListener::next_event() {
  if (queue_->fail_next) return std::unexpected(std::exchange(queue_->fail_next, {}));
  while (!queue_->events.empty()) {
    auto [type, state] = std::move(queue_->events.front());
    queue_->events.pop_front();
    rdma::ListenerEvent event;
    event.type = type;
    if (type == EventType::kConnectRequest) {
      event.pending = std::make_unique<fake_rdma_detail::FakePendingConnection>(state);
      return event;
    }
    if (state->connection == nullptr) continue;  // destroyed: RDMA CM drops its events
    // Each is reported once, and nothing is established after a disconnect.
    if (type == EventType::kEstablished &&
        (state->established_reported || state->disconnect_reported))
      continue;
    if (type == EventType::kDisconnected && state->disconnect_reported) continue;
    (type == EventType::kEstablished ? state->established_reported : state->disconnect_reported) =
        true;
    event.connection = state->connection;
    return event;
  }
  return std::nullopt;
}

}  // namespace tgt_pmem::testing
