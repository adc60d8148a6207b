// SPDX-License-Identifier: GPL-2.0-only
#include "push_session.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "tgt_pmem/bytes/wipe.h"

namespace tgt_pmem::push {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRecvTag = 1ull << 32;
constexpr std::uint64_t kSendTag = 2ull << 32;
constexpr std::uint32_t kSendSlots = 2;  // one reply in flight while the next is built

}  // namespace

Session::Session(std::unique_ptr<rdma::Connection> conn, PushHost& host,
                 const std::vector<PushLun*>& luns, Exposure& exposure, SessionLimits limits)
    : conn_(std::move(conn)), host_(host), luns_(luns), limits_(limits), exposure_(exposure) {
  conn_->user = this;
}

Session::~Session() {
  while (!regions_.empty()) drop_region(regions_.begin());  // before the connection's PD goes
  send_mr_.reset();
  recv_mr_.reset();
}

// Lines about what the peer did go through the runtime's per-peer rate limit (a client must
// not be able to flood tgtd's log); names it sent are escaped by the callers.
void Session::log(bool error, const std::string& what) {
  log_peer(error, "push: connection " + std::to_string(id()) + " from " + conn_->peer_address() +
                      ": " + what);
}

void Session::drop_region(std::map<std::uint32_t, Region>::iterator it) {
  exposed_ -= it->second.length;
  exposure_.total -= it->second.length;
  if (auto p = exposure_.per_initiator.find(initiator_); p != exposure_.per_initiator.end()) {
    p->second -= it->second.length;
    if (p->second == 0) exposure_.per_initiator.erase(p);
  }
  regions_.erase(it);  // ibv_dereg_mr: the rkey is dead from here on
}

rdma::Status Session::start() {
  recv_mem_.resize(std::size_t{limits_.receives} * kMaxMessageSize);
  send_mem_.resize(std::size_t{kSendSlots} * kMaxMessageSize);
  auto r = conn_->register_memory(recv_mem_.data(), recv_mem_.size(), rdma::kLocalWrite);
  if (!r) return std::unexpected(r.error());
  recv_mr_ = std::move(*r);
  auto s = conn_->register_memory(send_mem_.data(), send_mem_.size(), 0);
  if (!s) return std::unexpected(s.error());
  send_mr_ = std::move(*s);
  for (std::uint32_t i = 0; i < limits_.receives; ++i) {
    rdma::LocalBuffer b{recv_mem_.data() + std::size_t{i} * kMaxMessageSize,
                        static_cast<std::uint32_t>(kMaxMessageSize), recv_mr_->lkey()};
    if (auto p = conn_->post_recv(kRecvTag | i, b); !p) return p;
  }
  return {};
}

void Session::close(const std::string& why) {
  if (state_ != State::kClosed) {
    log(false, "closing: " + why);
    state_ = State::kClosed;
  }
  conn_->disconnect();
}

void Session::fail(const std::string& why) {
  if (state_ != State::kClosed) {
    log(true, why + "; disconnecting");
    state_ = State::kClosed;
  }
  conn_->disconnect();
}

void Session::retire(const std::string& why) {
  while (!regions_.empty()) drop_region(regions_.begin());
  commit_.reset();
  close(why);
}

void Session::lun_gone(const PushLun* lun) {
  if (lun_ != lun) return;
  // Before the mapping is unmapped: no rkey of it may stay valid.
  retire("LUN " + std::to_string(lun->lun) + " of target " + std::to_string(lun->tid) +
         " removed");
  lun_ = nullptr;
}

void Session::access_changed(const PushLun* lun) {
  if (lun_ != lun) return;
  std::size_t dropped = 0;
  for (auto it = regions_.begin(); it != regions_.end();) {
    const bool allowed = lun->access == LunAccess::kReadWrite ||
                         (lun->access == LunAccess::kRead && !(it->second.access & kWrite));
    if (allowed) {
      ++it;
      continue;
    }
    auto next = std::next(it);
    drop_region(it);
    it = next;
    ++dropped;
  }
  if (dropped > 0)
    host_.log(false, "push: connection " + std::to_string(id()) + ": " + std::to_string(dropped) +
                         (dropped == 1 ? " region" : " regions") + " of LUN " +
                         std::to_string(lun->lun) + " deregistered: the LUN is now " +
                         (lun->access == LunAccess::kNone ? "offline" : "read-only"));
}

void Session::post_recv(std::uint32_t index) {
  if (state_ == State::kClosed) return;
  rdma::LocalBuffer b{recv_mem_.data() + std::size_t{index} * kMaxMessageSize,
                      static_cast<std::uint32_t>(kMaxMessageSize), recv_mr_->lkey()};
  if (auto p = conn_->post_recv(kRecvTag | index, b); !p) {
    fail("cannot post a receive: " + p.error().message());
  }
}

void Session::reply(const std::vector<std::byte>& msg) {
  // Also called once the session is closed: a last reply (e.g. kAuthFailed) may still go out
  // before the disconnect completes.
  const std::uint32_t slot = send_next_++ % kSendSlots;
  std::byte* buf = send_mem_.data() + std::size_t{slot} * kMaxMessageSize;
  std::memcpy(buf, msg.data(), msg.size());
  rdma::LocalBuffer b{buf, static_cast<std::uint32_t>(msg.size()), send_mr_->lkey()};
  if (auto p = conn_->post_send(kSendTag | slot, b); !p) {
    fail("cannot send a reply: " + p.error().message());
  }
}

Session::Polling Session::on_completions(std::size_t budget) {
  if (auto a = conn_->arm(); !a) fail("cannot re-arm the completion queue: " + a.error().message());
  return resume(budget);
}

Session::Polling Session::resume(std::size_t budget) {
  // A COMMIT made durable in slices: the next slice first; nothing else until it is done.
  if (commit_ && !continue_commit()) return Polling::kYield;
  const bool woken_by_budget = more_;
  if (take_completions(budget))
    last_request_ = Clock::now();
  else if (!polling_ && !woken_by_budget)
    return Polling::kIdle;  // woken for nothing new (a completion already reaped by polling)
  // The budget ran out, or a COMMIT has slices left: the rest after tgtd's other events.
  if (more_ || commit_) return Polling::kYield;
  return poll_on(budget);
}

// push_poll_us: a client's next request comes one round trip after our reply. Waiting for it
// here, polling, saves the wake-up of tgtd's event loop, most of a COMMIT's cost in the guest.
// The wait is counted from the last request, so a client that keeps sending is served at once
// for as long as it does; the slice bounds what tgtd's other connections wait meanwhile. (A
// window fixed per wake-up measured 577 us a COMMIT in the guest; one counted from the last
// request, 356 us; iSER 1150-1270 us.)
Session::Polling Session::poll_on(std::size_t budget) {
  polling_ = false;
  const std::uint32_t poll_us = lun_ != nullptr ? lun_->poll_us : 0;
  if (poll_us == 0) return Polling::kIdle;
  const auto window = std::chrono::microseconds(poll_us);
  const auto slice_end = Clock::now() + std::min<std::chrono::microseconds>(window, kPollSlice);
  while (state_ == State::kReady && !disconnected_) {
    const auto now = Clock::now();
    if (now - last_request_ >= window) return Polling::kIdle;
    if (now >= slice_end) {
      polling_ = true;
      return Polling::kYield;
    }
    if (take_completions(budget)) last_request_ = Clock::now();
    if (more_ || commit_) {
      polling_ = true;
      return Polling::kYield;
    }
  }
  return Polling::kIdle;
}

bool Session::take_completions(std::size_t budget) {
  bool requests = false;
  more_ = false;
  rdma::Completion wcs[16];
  for (std::size_t taken = 0;;) {
    if (taken >= budget) {
      more_ = true;  // the rest after tgtd's other events
      return requests;
    }
    const std::size_t batch = std::min<std::size_t>(std::size(wcs), budget - taken);
    auto n = conn_->poll(std::span(wcs, batch));
    if (!n) {
      fail("polling failed: " + n.error().message());
      return requests;
    }
    taken += *n;
    for (std::size_t i = 0; i < *n; ++i) {
      const rdma::Completion& wc = wcs[i];
      if (runtime_completion(wc)) continue;  // a liveness probe of the runtime's
      if (!wc.ok) {
        // E.g. the initiator vanished; flush errors follow a disconnect.
        if (state_ != State::kClosed) {
          fail("work request failed (status " + std::to_string(wc.vendor_status) + ")");
        }
        continue;
      }
      if ((wc.wr_id & ~0xffffffffull) == kRecvTag) {
        const auto index = static_cast<std::uint32_t>(wc.wr_id & 0xffffffffu);
        if (index >= limits_.receives) continue;
        heard();
        handle(std::span<const std::byte>(
            recv_mem_.data() + std::size_t{index} * kMaxMessageSize,
            std::min<std::size_t>(wc.byte_len, kMaxMessageSize)));
        post_recv(index);
        requests = true;
      }
    }
    if (*n < batch) break;  // the queue held less than a batch: drained for this pass
  }
  return requests;
}

void Session::handle(std::span<const std::byte> msg) {
  if (state_ == State::kClosed) return;
  if (commit_) {
    // One request at a time (the protocol's rule): a client that does not wait for its COMMIT
    // to be answered is not following it.
    fail("a request while a COMMIT was still being made durable");
    return;
  }
  auto h = parse_header(msg);
  if (!h) {
    fail(std::string("malformed message: ") + std::string(to_string(h.error())));
    return;
  }
  switch (h->type) {
    case MessageType::kConnect:
      if (state_ == State::kAwaitConnect) return on_connect(msg);
      break;
    case MessageType::kChapResponse:
      if (state_ == State::kAwaitChap) return on_chap(msg);
      break;
    case MessageType::kRegister:
      if (state_ == State::kReady) return on_register(msg);
      break;
    case MessageType::kCommit:
      if (state_ == State::kReady) return on_commit(msg);
      break;
    case MessageType::kUnregister:
      if (state_ == State::kReady) return on_unregister(msg);
      break;
    case MessageType::kMirrorState:
      if (state_ == State::kReady) return on_mirror_state(msg);
      break;
    default:
      break;
  }
  // A request not allowed in this state (or of an unknown type): refused, and since the
  // client does not follow the protocol, the connection ends.
  reply(encode(MessageType::kCommitReply, SimpleReply{h->request_id, Status::kBadRequest}));
  fail("request type " + std::to_string(static_cast<unsigned>(h->type)) +
       " not allowed in this state");
}

void Session::on_connect(std::span<const std::byte> msg) {
  auto c = parse_connect(msg);
  if (!c) {
    fail(std::string("malformed CONNECT: ") + std::string(to_string(c.error())));
    return;
  }
  ConnectReply r;
  r.request_id = c->request_id;
  initiator_ = c->initiator_name;
  const std::string who = rdma_host::escape(c->initiator_name);
  const std::string where = rdma_host::escape(c->target_name);
  // Admission first, and the same answer whether the target exists or not: before, "no such
  // LUN" came before the ACL check, so anyone could list targets and LUNs.
  int tid = -1;
  for (PushLun* l : luns_) {
    auto name = host_.target_name(l->tid);
    if (name && *name == c->target_name) {
      tid = l->tid;
      break;
    }
  }
  if (tid < 0 || !host_.admits(tid, c->initiator_name, conn_->peer_address())) {
    r.status = Status::kNotAdmitted;
    log(true, "CONNECT of " + who + " to " + where + ": not admitted" +
                  (tid < 0 ? " (no push-enabled LUN of that target)" : " by the target's ACL"));
    reply(encode(r));
    close("not admitted");
    return;
  }
  requested_lun_ = c->lun;
  tid_ = tid;
  if (host_.chap_required(tid)) {
    chap_id_ = static_cast<std::uint8_t>(id() & 0xff);
    if (getrandom(chap_challenge_.data(), chap_challenge_.size(), 0) !=
        static_cast<ssize_t>(chap_challenge_.size())) {
      r.status = Status::kInternal;
      reply(encode(r));
      fail("getrandom failed for the CHAP challenge");
      return;
    }
    r.status = Status::kChapRequired;
    r.chap_id = chap_id_;
    r.chap_challenge = chap_challenge_;
    state_ = State::kAwaitChap;
    reply(encode(r));
    return;
  }
  connect_ok(c->request_id);
}

void Session::connect_ok(std::uint32_t request_id) {
  ConnectReply r;
  r.request_id = request_id;
  // Only an admitted client learns which LUNs of the target exist.
  for (PushLun* l : luns_)
    if (l->tid == tid_ && l->lun == requested_lun_) lun_ = l;
  if (lun_ == nullptr) {
    r.status = Status::kNoSuchLun;
    log(true, "CONNECT of " + rdma_host::escape(initiator_) + ": target " +
                  std::to_string(tid_) + " has no push-enabled LUN " +
                  std::to_string(requested_lun_));
    state_ = State::kAwaitConnect;  // it may CONNECT again, to another LUN
    reply(encode(r));
    return;
  }
  r.status = Status::kOk;
  r.lun_size = lun_->size;
  r.block_size = lun_->block_size;
  r.max_regions = limits_.max_regions;
  r.max_exposed = limits_.max_exposed;
  state_ = State::kReady;
  host_.log(false, "push: connection " + std::to_string(id()) + " from " + conn_->peer_address() +
                       ": " + rdma_host::escape(initiator_) + " connected to LUN " +
                       std::to_string(lun_->lun) + " of target " + std::to_string(lun_->tid));
  reply(encode(r));
}

void Session::on_chap(std::span<const std::byte> msg) {
  auto c = parse_chap_response(msg);
  if (!c) {
    fail(std::string("malformed CHAP_RESPONSE: ") + std::string(to_string(c.error())));
    return;
  }
  // The secret is wiped as soon as it was used, before its memory goes back to the heap (or
  // the stack frame is left); chap_verify wipes the expected response it computed.
  auto secret = host_.chap_secret(tid_, c->user);
  const bool ok = secret && chap_verify(chap_id_, *secret, chap_challenge_, c->response);
  if (secret) bytes::wipe(*secret);
  bytes::wipe(chap_challenge_.data(), chap_challenge_.size());  // one attempt only
  if (!ok) {
    ConnectReply r;
    r.request_id = c->request_id;
    r.status = Status::kAuthFailed;
    reply(encode(r));
    auth_failed();  // too many from one address in a minute: its connections are refused
    close("CHAP authentication of user '" + rdma_host::escape(c->user) + "' failed");
    return;
  }
  connect_ok(c->request_id);
}

void Session::on_register(std::span<const std::byte> msg) {
  auto m = parse_register(msg);
  if (!m) {
    fail(std::string("malformed REGISTER: ") + std::string(to_string(m.error())));
    return;
  }
  RegisterReply r;
  r.request_id = m->request_id;
  const std::uint64_t bs = lun_->block_size;
  const auto now = Clock::now();
  if (now - register_window_ >= std::chrono::seconds(1)) {
    register_window_ = now;
    registered_in_window_ = 0;
  }
  const std::uint64_t mine = exposure_.per_initiator.contains(initiator_)
                                 ? exposure_.per_initiator.at(initiator_)
                                 : 0;
  if (m->access == 0 || (m->access & ~(kRead | kWrite)) != 0) {
    r.status = Status::kUnsupported;
  } else if (m->length == 0 || m->offset % bs != 0 || m->length % bs != 0 ||
             m->offset > lun_->size || m->length > lun_->size - m->offset) {
    r.status = Status::kOutOfRange;
  } else if (lun_->access == LunAccess::kNone ||
             (lun_->access == LunAccess::kRead && (m->access & kWrite))) {
    // As tgt's SCSI side: a read-only LUN (readonly=1, software write protect) takes no
    // writes, an offline one nothing.
    r.status = Status::kAccessDenied;
  } else if (mirror_primary_ && m->offset == 0 && m->length == lun_->size &&
             regions_.empty()) {
    // The LUN's mirror primary registers all of it, once per connection (see mirror_primary).
  } else if (regions_.size() >= limits_.max_regions ||
             m->length > limits_.max_exposed - exposed_ || m->length > limits_.max_register ||
             m->length > limits_.register_per_second - std::min(registered_in_window_,
                                                                limits_.register_per_second) ||
             m->length > exposure_.max_total - exposure_.total ||
             m->length > exposure_.max_per_initiator - mine) {
    r.status = Status::kLimitReached;
  }
  if (r.status != Status::kOk) {
    reply(encode(r));
    return;
  }
  registered_in_window_ += m->length;
  unsigned access = 0;
  if (m->access & kRead) access |= rdma::kRemoteRead;
  if (m->access & kWrite) access |= rdma::kRemoteWrite | rdma::kLocalWrite;
  std::byte* const base = lun_->base + m->offset;
  // A writable region is offered for RDMA FLUSH too, so that the client can make its WRITEs
  // durable without our CPU. Not every registration can have it: a build without RDMA FLUSH
  // (rdma-core < 45) refuses it with EOPNOTSUPP, a device with EOPNOTSUPP or EINVAL (rxe
  // grants it only for pmem pages, not for a file on tmpfs). Then the region is registered
  // as before, and REGISTER_REPLY says it is not flushable (the client uses COMMIT or
  // read-after-write). Whatever made the first attempt fail, the second one decides.
  bool flushable = false;
  rdma::Result<std::unique_ptr<rdma::MemoryRegion>> mr =
      std::unexpected(std::make_error_code(std::errc::operation_not_supported));
  if (m->access & kWrite) {
    mr = conn_->register_memory_at(base, m->length, access | rdma::kRemoteFlush, m->offset);
    flushable = mr.has_value();
  }
  if (!mr) mr = conn_->register_memory_at(base, m->length, access, m->offset);
  if (!mr) {
    // fsdax: the kernel refuses long-term pins of file-backed DAX memory (EOPNOTSUPP).
    const int e = mr.error().value();
    r.status = (e == EOPNOTSUPP || e == EINVAL) ? Status::kUnsupported : Status::kInternal;
    log(true, "REGISTER of " + std::to_string(m->length) + " bytes at " +
                  std::to_string(m->offset) + " failed: " + mr.error().message());
    reply(encode(r));
    return;
  }
  const std::uint32_t handle = next_handle_++;
  r.handle = handle;
  // Offset addressing: the client reaches LUN byte k at RDMA address k, and no address of
  // tgtd's leaves it.
  r.addr = m->offset;
  r.rkey = (*mr)->rkey();
  r.length = m->length;
  r.flags = flushable ? std::uint32_t{kRegionFlushable} : 0u;
  exposed_ += m->length;
  exposure_.total += m->length;
  exposure_.per_initiator[initiator_] += m->length;
  regions_.emplace(handle, Region{m->offset, m->length, m->access, std::move(*mr)});
  reply(encode(r));
}

void Session::on_commit(std::span<const std::byte> msg) {
  auto m = parse_commit(msg);
  if (!m) {
    fail(std::string("malformed COMMIT: ") + std::string(to_string(m.error())));
    return;
  }
  SimpleReply r{m->request_id, Status::kOk};
  auto it = regions_.find(m->handle);
  if (it == regions_.end()) {
    r.status = Status::kNoSuchHandle;
  } else if (!(it->second.access & kWrite)) {
    r.status = Status::kAccessDenied;
  } else {
    const Region& region = it->second;
    std::vector<Range> ranges = m->ranges;
    if (ranges.empty()) ranges.push_back({0, region.length});
    for (const Range& g : ranges) {
      if (g.length == 0 || g.offset > region.length || g.length > region.length - g.offset) {
        r.status = Status::kOutOfRange;
        break;
      }
    }
    // Overlapping ranges are refused: 128 copies of the whole region would otherwise make
    // one message cost 128 times the region's writeback.
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.offset < b.offset; });
    for (std::size_t i = 1; r.status == Status::kOk && i < ranges.size(); ++i)
      if (ranges[i].offset < ranges[i - 1].offset + ranges[i - 1].length)
        r.status = Status::kOutOfRange;
    if (r.status == Status::kOk) {
      // Durable before the reply: every range through the LUN's durability method, in
      // slices, so that a large COMMIT gives tgtd's loop back between them (resume()).
      commit_ = PendingCommit{m->request_id, region.offset, std::move(ranges)};
      continue_commit();
      return;
    }
  }
  reply(encode(MessageType::kCommitReply, r));
}

bool Session::continue_commit() {
  if (!commit_) return true;
  std::uint64_t budget = limits_.commit_slice;
  Status status = Status::kOk;
  while (!commit_->ranges.empty() && budget > 0) {
    if (lun_ == nullptr) {
      status = Status::kIoError;  // the LUN went away under the COMMIT
      break;
    }
    Range& g = commit_->ranges.front();
    const std::uint64_t n = std::min(g.length, budget);
    if (const int rc = lun_->persist(commit_->base + g.offset, n); rc != 0) {
      status = Status::kIoError;
      log(true, "COMMIT: making " + std::to_string(n) + " bytes durable failed (" +
                    std::strerror(-rc) + ")");
      break;
    }
    budget -= n;
    g.offset += n;
    g.length -= n;
    if (g.length == 0) commit_->ranges.erase(commit_->ranges.begin());
  }
  if (status == Status::kOk && !commit_->ranges.empty()) return false;  // more next turn
  const SimpleReply r{commit_->request_id, status};
  commit_.reset();
  reply(encode(MessageType::kCommitReply, r));
  return true;
}

void Session::on_unregister(std::span<const std::byte> msg) {
  auto m = parse_unregister(msg);
  if (!m) {
    fail(std::string("malformed UNREGISTER: ") + std::string(to_string(m.error())));
    return;
  }
  SimpleReply r{m->request_id, Status::kOk};
  auto it = regions_.find(m->handle);
  if (it == regions_.end()) {
    r.status = Status::kNoSuchHandle;
  } else {
    drop_region(it);
  }
  reply(encode(MessageType::kUnregisterReply, r));
}

// A mirror primary reads, or after a resync sets, this (secondary) LUN's generations. Setting
// needs what a write needs: the LUN read-write for this session's initiator.
void Session::on_mirror_state(std::span<const std::byte> msg) {
  auto m = parse_mirror_state(msg);
  if (!m) {
    fail(std::string("malformed MIRROR_STATE: ") + std::string(to_string(m.error())));
    return;
  }
  MirrorStateReply r{m->request_id, Status::kOk, MirrorRole::kNone, {}};
  if (lun_ == nullptr) {
    r.status = Status::kIoError;  // the LUN went away
  } else if (!lun_->mirror_get) {
    r.status = Status::kUnsupported;
  } else if (m->flags & kMirrorSet) {
    if (lun_->access != LunAccess::kReadWrite) {
      r.status = Status::kAccessDenied;
    } else if (const int rc = lun_->mirror_set ? lun_->mirror_set(m->generations) : -EPERM;
               rc == -EPERM) {
      r.status = Status::kAccessDenied;
    } else if (rc != 0) {
      r.status = Status::kIoError;
      log(true, std::string("MIRROR_STATE: recording the generations failed (") +
                    std::strerror(-rc) + ")");
    }
  }
  if (lun_ != nullptr && lun_->mirror_get && r.status != Status::kIoError) {
    const PushLun::MirrorView v = lun_->mirror_get();
    r.role = v.role;
    r.generations = v.generations;
    if (v.role == MirrorRole::kSecondary && !mirror_primary_) {
      mirror_primary_ = true;
      log(false, "the mirror primary of LUN " + std::to_string(lun_->lun) + " of target " +
                     std::to_string(lun_->tid));
      if (claimed_) claimed_(*this);
    }
  }
  reply(encode(r));
}

}  // namespace tgt_pmem::push
