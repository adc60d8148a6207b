// SPDX-License-Identifier: GPL-2.0-only
#include "push_session.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

namespace tgt_pmem::push {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRecvTag = 1ull << 32;
constexpr std::uint64_t kSendTag = 2ull << 32;
constexpr std::uint32_t kSendSlots = 2;  // one reply in flight while the next is built

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace

Session::Session(std::unique_ptr<rdma::Connection> conn, PushHost& host,
                 const std::vector<PushLun*>& luns, SessionLimits limits)
    : conn_(std::move(conn)), host_(host), luns_(luns), limits_(limits) {
  conn_->user = this;
}

Session::~Session() {
  regions_.clear();  // deregister before the connection (and its PD) goes
  send_mr_.reset();
  recv_mr_.reset();
}

void Session::log(bool error, const std::string& what) {
  host_.log(error, "push: connection " + std::to_string(id()) + " from " + conn_->peer_address() +
                       ": " + what);
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

void Session::lun_gone(const PushLun* lun) {
  if (lun_ != lun) return;
  // Before the mapping is unmapped: no rkey of it may stay valid.
  regions_.clear();
  exposed_ = 0;
  lun_ = nullptr;
  close("LUN " + std::to_string(lun->lun) + " of target " + std::to_string(lun->tid) +
        " removed");
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
  const bool woken_by_budget = more_;
  if (take_completions(budget))
    last_request_ = Clock::now();
  else if (!polling_ && !woken_by_budget)
    return Polling::kIdle;  // woken for nothing new (a completion already reaped by polling)
  if (more_) return Polling::kYield;  // the budget ran out: the rest after tgtd's other events
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
    if (more_) {
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
  PushLun* found = nullptr;
  for (PushLun* l : luns_) {
    if (l->lun != c->lun) continue;
    auto name = host_.target_name(l->tid);
    if (name && *name == c->target_name) {
      found = l;
      break;
    }
  }
  if (found == nullptr) {
    r.status = Status::kNoSuchLun;
    log(true, "CONNECT to " + c->target_name + " LUN " + std::to_string(c->lun) +
                  ": no push-enabled LUN of that name");
    reply(encode(r));
    return;
  }
  if (!host_.admits(found->tid, c->initiator_name, conn_->peer_address())) {
    r.status = Status::kNotAdmitted;
    log(true, "CONNECT of " + c->initiator_name + " to " + c->target_name +
                  ": not admitted by the target's ACL");
    reply(encode(r));
    close("not admitted");
    return;
  }
  lun_ = found;
  initiator_ = c->initiator_name;
  if (host_.chap_required(found->tid)) {
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
  r.status = Status::kOk;
  r.lun_size = lun_->size;
  r.block_size = lun_->block_size;
  r.max_regions = limits_.max_regions;
  r.max_exposed = limits_.max_exposed;
  state_ = State::kReady;
  log(false, initiator_ + " connected to LUN " + std::to_string(lun_->lun) + " of target " +
                 std::to_string(lun_->tid));
  reply(encode(r));
}

void Session::on_chap(std::span<const std::byte> msg) {
  auto c = parse_chap_response(msg);
  if (!c) {
    fail(std::string("malformed CHAP_RESPONSE: ") + std::string(to_string(c.error())));
    return;
  }
  auto secret = host_.chap_secret(lun_->tid, c->user);
  bool ok = false;
  if (secret) {
    const auto expected = chap_response(chap_id_, *secret, chap_challenge_);
    ok = constant_time_equal(expected, c->response);
  }
  if (!ok) {
    ConnectReply r;
    r.request_id = c->request_id;
    r.status = Status::kAuthFailed;
    reply(encode(r));
    close("CHAP authentication of user '" + c->user + "' failed");
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
  if (m->access == 0 || (m->access & ~(kRead | kWrite)) != 0) {
    r.status = Status::kUnsupported;
  } else if (m->length == 0 || m->offset % bs != 0 || m->length % bs != 0 ||
             m->offset > lun_->size || m->length > lun_->size - m->offset) {
    r.status = Status::kOutOfRange;
  } else if (regions_.size() >= limits_.max_regions ||
             m->length > limits_.max_exposed - exposed_) {
    r.status = Status::kLimitReached;
  }
  if (r.status != Status::kOk) {
    reply(encode(r));
    return;
  }
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
    mr = conn_->register_memory(base, m->length, access | rdma::kRemoteFlush);
    flushable = mr.has_value();
  }
  if (!mr) mr = conn_->register_memory(base, m->length, access);
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
  r.addr = reinterpret_cast<std::uintptr_t>(base);
  r.rkey = (*mr)->rkey();
  r.length = m->length;
  r.flags = flushable ? std::uint32_t{kRegionFlushable} : 0u;
  exposed_ += m->length;
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
    // Durable before the reply: every range through the LUN's durability method.
    for (const Range& g : ranges) {
      if (r.status != Status::kOk) break;
      if (const int rc = lun_->persist(region.offset + g.offset, g.length); rc != 0) {
        r.status = Status::kIoError;
        log(true, "COMMIT: making " + std::to_string(g.length) + " bytes durable failed (" +
                      std::strerror(-rc) + ")");
      }
    }
  }
  reply(encode(MessageType::kCommitReply, r));
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
    exposed_ -= it->second.length;
    regions_.erase(it);  // ibv_dereg_mr: the rkey is dead from here on
  }
  reply(encode(MessageType::kUnregisterReply, r));
}

}  // namespace tgt_pmem::push
