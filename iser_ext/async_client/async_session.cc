// SPDX-License-Identifier: GPL-2.0-only
// The push-mode protocol from an event loop (async_session.h).
#include "async_session.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <utility>

#include "tgt_pmem/rdma/completion_error.h"

namespace tgt_pmem::push {

namespace {

// What a work request id says: its kind in the top byte, a sequence number below.
enum Kind : std::uint8_t { kSendWr = 1, kRecvWr = 2, kWriteWr = 3, kFlushWr = 4 };

std::error_code bad_reply() { return make_error_code(ClientError::kBadReply); }

}  // namespace

struct AsyncSession::Request {
  std::uint32_t request_id = 0;
  std::vector<std::byte> message;
  std::vector<std::byte> reply;  // kept until the SEND completed too
  MessageType reply_type = MessageType::kConnectReply;
  std::function<void(std::error_code, std::span<const std::byte>)> on;
  bool send_done = false;
  bool reply_received = false;
};

struct AsyncSession::Write {
  std::uint32_t handle = 0;
  RemoteRegion remote;
  std::uint64_t offset = 0;  // into the region
  std::span<const std::byte> data;
  std::size_t posted = 0;    // bytes whose WRITE was posted
  std::size_t pieces_out = 0;   // WRITEs posted and not completed
  std::size_t flushes_out = 0;  // RDMA FLUSHes posted and not completed
  bool flush = false;           // RDMA FLUSH, else COMMIT
  bool committed = false;       // the COMMIT covering it was answered kOk
  Clock::time_point deadline{};
  Done done;
};

struct AsyncSession::Wr {
  Kind kind = kSendWr;
  std::uint64_t write_id = 0;
  std::size_t piece = 0;
};

std::expected<std::unique_ptr<AsyncSession>, std::error_code> AsyncSession::make(
    std::unique_ptr<rdma::Connection> connection, const Options& options) {
  if (options.pieces == 0 || options.piece_bytes == 0 ||
      options.piece_bytes > 1u << 30)  // an RDMA WRITE's length is 32 bits
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  std::unique_ptr<AsyncSession> s;
  try {
    s.reset(new AsyncSession(std::move(connection), options));
  } catch (const std::bad_alloc&) {
    return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  }
  rdma::Connection& c = *s->connection_;
  auto staging = c.register_memory(s->staging_.data(), s->staging_.size(), 0);
  if (!staging) return std::unexpected(staging.error());
  s->staging_mr_ = std::move(*staging);
  auto send = c.register_memory(s->send_buf_.data(), s->send_buf_.size(), 0);
  if (!send) return std::unexpected(send.error());
  s->send_mr_ = std::move(*send);
  auto recv = c.register_memory(s->recv_buf_.data(), s->recv_buf_.size(), rdma::kLocalWrite);
  if (!recv) return std::unexpected(recv.error());
  s->recv_mr_ = std::move(*recv);
  if (options.rdma_flush && flush::remote_method_built(flush::RemoteMethod::kRdmaFlush) &&
      dynamic_cast<rdma::FlushCapable*>(&c) != nullptr)
    s->rdma_flush_offered_ = true;
  s->post_receive();
  if (s->broken_) return std::unexpected(s->broken_);
  return s;
}

AsyncSession::AsyncSession(std::unique_ptr<rdma::Connection> connection, const Options& options)
    : options_(options),
      connection_(std::move(connection)),
      staging_(options.pieces * options.piece_bytes),
      send_buf_(kMaxMessageSize),
      recv_buf_(kMaxMessageSize) {
  free_pieces_.reserve(options.pieces);
  for (std::size_t i = options.pieces; i-- > 0;) free_pieces_.push_back(i);
}

AsyncSession::~AsyncSession() {
  // The QP to the error state first: nothing lands in our buffers once they are released.
  connection_->disconnect();
}

std::uint64_t AsyncSession::wr_id(std::uint8_t kind) noexcept {
  return (static_cast<std::uint64_t>(kind) << 56) | (next_wr_++ & ((1ull << 56) - 1));
}

std::size_t AsyncSession::outstanding() const noexcept { return requests_.size() + writes_.size(); }

bool AsyncSession::uses_rdma_flush(const Region& region) const noexcept {
  return rdma_flush_offered_ && region.flushable;
}

// --- Requests ---------------------------------------------------------------------------------

std::error_code AsyncSession::enqueue(
    std::vector<std::byte> message, MessageType reply_type,
    std::function<void(std::error_code, std::span<const std::byte>)> on) {
  if (broken_) return make_error_code(ClientError::kBroken);
  if (message.empty()) return std::make_error_code(std::errc::invalid_argument);
  auto header = parse_header(message);
  if (!header) return std::make_error_code(std::errc::invalid_argument);
  auto r = std::make_unique<Request>();
  r->request_id = header->request_id;
  r->message = std::move(message);
  r->reply_type = reply_type;
  r->on = std::move(on);
  requests_.push_back(std::move(r));
  pump();
  return {};
}

std::error_code AsyncSession::login(LoginDone done) {
  if (options_.initiator_name.size() > kMaxNameLength ||
      options_.target_name.size() > kMaxNameLength || options_.chap_user.size() > kMaxNameLength)
    return std::make_error_code(std::errc::invalid_argument);
  Connect c;
  c.request_id = next_request_id_++;
  c.initiator_name = options_.initiator_name;
  c.target_name = options_.target_name;
  c.lun = options_.lun;
  auto finish = [this, done](std::error_code ec, std::span<const std::byte> bytes) {
    ConnectReply reply;
    if (!ec) {
      auto parsed = parse_connect_reply(bytes);
      if (!parsed) {
        break_with(bad_reply());
        return;  // the failure reaches done with every other operation's
      }
      reply = *parsed;
      if (reply.status != Status::kOk) ec = status_error(reply.status);
    }
    done(ec, reply);
  };
  return enqueue(encode(c), MessageType::kConnectReply,
                 [this, finish](std::error_code ec, std::span<const std::byte> bytes) {
                   if (ec) return finish(ec, {});
                   auto parsed = parse_connect_reply(bytes);
                   if (!parsed) return break_with(bad_reply());
                   if (parsed->status != Status::kChapRequired || options_.chap_user.empty())
                     return finish({}, bytes);
                   ChapResponse r;
                   r.request_id = next_request_id_++;
                   r.user = options_.chap_user;
                   auto digest = try_chap_response(parsed->chap_id, options_.chap_secret,
                                                   parsed->chap_challenge);
                   if (!digest) return finish(make_error_code(ClientError::kChapUnavailable), {});
                   r.response = *digest;
                   // The CHAP_RESPONSE goes next, before anything queued behind CONNECT.
                   auto req = std::make_unique<Request>();
                   req->request_id = r.request_id;
                   req->message = encode(r);
                   req->reply_type = MessageType::kConnectReply;
                   req->on = [this, finish](std::error_code ec2, std::span<const std::byte> b2) {
                     if (!ec2) {
                       auto p2 = parse_connect_reply(b2);
                       // One round only: a second challenge is a bad reply.
                       if (!p2 || p2->status == Status::kChapRequired)
                         return break_with(bad_reply());
                     }
                     finish(ec2, b2);
                   };
                   requests_.push_front(std::move(req));
                 });
}

std::error_code AsyncSession::register_region(std::uint64_t offset, std::uint64_t length,
                                              std::uint8_t access, RegisterDone done) {
  Register m;
  m.request_id = next_request_id_++;
  m.offset = offset;
  m.length = length;
  m.access = access;
  return enqueue(encode(m), MessageType::kRegisterReply,
                 [this, done, offset, access](std::error_code ec,
                                              std::span<const std::byte> bytes) {
                   Region region;
                   if (!ec) {
                     auto r = parse_register_reply(bytes);
                     if (!r) return break_with(bad_reply());
                     if (r->status != Status::kOk) {
                       ec = status_error(r->status);
                     } else {
                       region.handle = r->handle;
                       region.lun_offset = offset;
                       region.access = access;
                       region.remote = {r->addr, r->rkey, r->length};
                       region.flushable = (r->flags & kRegionFlushable) != 0;
                     }
                   }
                   done(ec, region);
                 });
}

std::error_code AsyncSession::mirror_state(const MirrorState& m, MirrorDone done) {
  MirrorState copy = m;
  copy.request_id = next_request_id_++;
  return enqueue(encode(copy), MessageType::kMirrorStateReply,
                 [this, done](std::error_code ec, std::span<const std::byte> bytes) {
                   MirrorStateReply reply;
                   if (!ec) {
                     auto r = parse_mirror_state_reply(bytes);
                     if (!r) return break_with(bad_reply());
                     reply = *r;
                     if (reply.status != Status::kOk) ec = status_error(reply.status);
                   }
                   done(ec, reply);
                 });
}

void AsyncSession::pump_requests() {
  if (broken_ || request_sent_) return;
  if (requests_.empty() && !to_commit_.empty()) {
    // One COMMIT for the writes waiting, all of one region (the mirror has one).
    Commit m;
    m.request_id = next_request_id_++;
    std::vector<std::uint64_t> covered;
    const std::uint32_t handle = writes_.at(to_commit_.front())->handle;
    m.handle = handle;
    while (!to_commit_.empty() && m.ranges.size() < kMaxCommitRanges) {
      Write& w = *writes_.at(to_commit_.front());
      if (w.handle != handle) break;
      m.ranges.push_back({w.offset, w.data.size()});
      covered.push_back(to_commit_.front());
      to_commit_.pop_front();
    }
    auto req = std::make_unique<Request>();
    req->request_id = m.request_id;
    req->message = encode(m);
    req->reply_type = MessageType::kCommitReply;
    req->on = [this, covered = std::move(covered)](std::error_code ec,
                                                   std::span<const std::byte> bytes) {
      if (!ec) {
        auto r = parse_simple_reply(MessageType::kCommitReply, bytes);
        if (!r) return break_with(bad_reply());
        if (r->status != Status::kOk) ec = status_error(r->status);
      }
      // A COMMIT refused leaves those writes not durable: the session cannot promise
      // anything about them any more, and the mirror must treat the secondary as lost.
      if (ec) return break_with(ec);
      for (std::uint64_t id : covered) {
        auto it = writes_.find(id);
        if (it == writes_.end()) continue;
        it->second->committed = true;
        write_piece_done(id);
      }
    };
    requests_.push_back(std::move(req));
  }
  if (requests_.empty()) return;
  Request& r = *requests_.front();
  if (r.message.size() > send_buf_.size()) return break_with(bad_reply());
  std::memcpy(send_buf_.data(), r.message.data(), r.message.size());
  const std::uint64_t send_id = wr_id(kSendWr);
  wrs_[send_id] = Wr{kSendWr, 0, 0};
  if (auto p = connection_->post_send(send_id, {.addr = send_buf_.data(),
                                                .length = static_cast<std::uint32_t>(r.message.size()),
                                                .lkey = send_mr_->lkey()});
      !p) {
    wrs_.erase(send_id);
    return break_with(p.error());
  }
  request_sent_ = true;
  request_deadline_ = Clock::now() + options_.timeout;
}

// One receive is posted at all times: it takes the reply of the one request outstanding, and
// while the session is idle it is what notices a dead connection (a QP in the error state
// flushes it), so that a lost secondary is known before the next write needs it.
void AsyncSession::post_receive() {
  const std::uint64_t recv_id = wr_id(kRecvWr);
  wrs_[recv_id] = Wr{kRecvWr, 0, 0};
  if (auto p = connection_->post_recv(recv_id, {.addr = recv_buf_.data(),
                                                .length = static_cast<std::uint32_t>(recv_buf_.size()),
                                                .lkey = recv_mr_->lkey()});
      !p) {
    wrs_.erase(recv_id);
    break_with(p.error());
  }
}

void AsyncSession::on_reply(std::span<const std::byte> bytes) {
  Request& r = *requests_.front();
  auto header = parse_header(bytes);
  if (!header || header->request_id != r.request_id) return break_with(bad_reply());
  std::error_code ec;
  if (header->type != r.reply_type) {
    // The target answers what it will not take with a CONNECT_REPLY (kBadRequest...).
    auto c = header->type == MessageType::kConnectReply ? parse_connect_reply(bytes)
                                                        : std::expected<ConnectReply, ParseError>(
                                                              std::unexpected(ParseError::kWrongType));
    if (!c || c->status == Status::kOk || c->status == Status::kChapRequired)
      return break_with(bad_reply());
    ec = status_error(c->status);
  }
  std::unique_ptr<Request> done = std::move(requests_.front());  // bytes are its reply
  requests_.pop_front();
  request_sent_ = false;
  done->on(ec, bytes);
}

// --- Writes -----------------------------------------------------------------------------------

std::error_code AsyncSession::write_durable(const Region& region, std::uint64_t offset,
                                            std::span<const std::byte> data, Done done) {
  if (broken_) return make_error_code(ClientError::kBroken);
  if (data.empty() || (region.access & kWrite) == 0 || offset > region.length() ||
      data.size() > region.length() - offset)
    return std::make_error_code(std::errc::invalid_argument);
  auto w = std::make_unique<Write>();
  w->handle = region.handle;
  w->remote = region.remote;
  w->offset = offset;
  w->data = data;
  w->flush = uses_rdma_flush(region);
  w->deadline = Clock::now() + options_.timeout;
  w->done = std::move(done);
  writes_.emplace(next_write_id_++, std::move(w));
  pump();
  return {};
}

void AsyncSession::pump_writes() {
  for (auto& [id, wp] : writes_) {
    Write& w = *wp;
    while (!broken_ && w.posted < w.data.size() && !free_pieces_.empty()) {
      const std::size_t piece = free_pieces_.back();
      const std::size_t n = std::min(options_.piece_bytes, w.data.size() - w.posted);
      std::byte* slot = staging_.data() + piece * options_.piece_bytes;
      std::memcpy(slot, w.data.data() + w.posted, n);
      const rdma::LocalBuffer src{
          .addr = slot, .length = static_cast<std::uint32_t>(n), .lkey = staging_mr_->lkey()};
      const rdma::RemoteBuffer dst{w.remote.addr + w.offset + w.posted, w.remote.rkey,
                                   static_cast<std::uint32_t>(n)};
      const std::uint64_t write_wr = wr_id(kWriteWr);
      if (auto p = connection_->post_rdma_write(write_wr, {&src, 1}, dst); !p)
        return break_with(p.error());
      free_pieces_.pop_back();
      wrs_[write_wr] = Wr{kWriteWr, id, piece};
      ++w.pieces_out;
      if (w.flush) {
        if (!rdma_flusher_) {
          auto f = flush::make_remote_flusher(flush::RemoteMethod::kRdmaFlush, *connection_);
          if (!f) return break_with(f.error());
          rdma_flusher_ = std::move(*f);
        }
        const std::uint64_t flush_wr = wr_id(kFlushWr);
        if (auto p = rdma_flusher_->post(flush_wr, dst); !p) return break_with(p.error());
        wrs_[flush_wr] = Wr{kFlushWr, id, 0};
        ++w.flushes_out;
      }
      w.posted += n;
      if (w.posted == w.data.size() && !w.flush) to_commit_.push_back(id);
    }
    // Writes start in the order given: a later one waits while an earlier one has bytes
    // left to post.
    if (w.posted < w.data.size()) return;
  }
}

void AsyncSession::write_piece_done(std::uint64_t write_id) {
  auto it = writes_.find(write_id);
  if (it == writes_.end()) return;
  Write& w = *it->second;
  if (w.posted < w.data.size() || w.pieces_out != 0 || w.flushes_out != 0) return;
  if (!w.flush && !w.committed) return;
  Done done = std::move(w.done);
  writes_.erase(it);
  done({});
}

// --- Completions ------------------------------------------------------------------------------

void AsyncSession::pump() {
  pump_writes();
  pump_requests();
}

void AsyncSession::take(const rdma::Completion& c) {
  auto it = wrs_.find(c.wr_id);
  if (it == wrs_.end()) return;  // of a write or request already failed
  const Wr wr = it->second;
  wrs_.erase(it);
  if (wr.kind == kWriteWr) free_pieces_.push_back(wr.piece);
  if (broken_) return;
  if (!c.ok) return break_with(rdma::completion_error(c.vendor_status));
  switch (wr.kind) {
    case kSendWr:
    case kRecvWr: {
      if (requests_.empty() || !request_sent_) return break_with(bad_reply());
      Request& r = *requests_.front();
      if (wr.kind == kSendWr) r.send_done = true;
      if (wr.kind == kRecvWr) {
        if (c.byte_len > recv_buf_.size()) return break_with(bad_reply());
        r.reply_received = true;
        // Kept until the SEND's completion too: the send buffer is ours again only then.
        r.reply.assign(recv_buf_.begin(), recv_buf_.begin() + c.byte_len);
        post_receive();
      }
      if (r.send_done && r.reply_received) on_reply(r.reply);
      return;
    }
    case kWriteWr: {
      auto w = writes_.find(wr.write_id);
      if (w != writes_.end()) --w->second->pieces_out;
      write_piece_done(wr.write_id);
      return;
    }
    case kFlushWr: {
      if (auto s = rdma_flusher_->complete(c); !s) return break_with(s.error());
      auto w = writes_.find(wr.write_id);
      if (w != writes_.end()) --w->second->flushes_out;
      write_piece_done(wr.write_id);
      return;
    }
  }
}

void AsyncSession::on_completions() {
  if (!broken_ && connection_->completion_fd() >= 0)
    if (auto a = connection_->arm(); !a) break_with(a.error());
  std::array<rdma::Completion, 32> batch;
  for (;;) {
    auto n = connection_->poll(batch);
    if (!n) {
      break_with(n.error());
      break;
    }
    if (*n == 0) break;
    for (std::size_t i = 0; i < *n; ++i) take(batch[i]);
  }
  if (!broken_) pump();
  if (broken_) deliver_failures();
}

void AsyncSession::check_timeouts(Clock::time_point now) {
  if (!broken_) {
    if (request_sent_ && now > request_deadline_)
      break_with(std::make_error_code(std::errc::timed_out));
    else if (!writes_.empty() && now > writes_.begin()->second->deadline)
      break_with(std::make_error_code(std::errc::timed_out));
  }
  if (broken_) deliver_failures();
}

void AsyncSession::close(std::error_code why) {
  break_with(why);
  deliver_failures();
}

void AsyncSession::break_with(std::error_code why) {
  if (broken_) return;
  broken_ = why ? why : make_error_code(ClientError::kBroken);
  connection_->disconnect();  // the QP to the error state: nothing more lands
}

void AsyncSession::deliver_failures() {
  // Taken out first: a callback may start (and be refused) another operation.
  std::deque<std::unique_ptr<Request>> requests = std::move(requests_);
  requests_.clear();
  std::map<std::uint64_t, std::unique_ptr<Write>> writes = std::move(writes_);
  writes_.clear();
  to_commit_.clear();
  request_sent_ = false;
  for (auto& r : requests) r->on(broken_, {});
  for (auto& [id, w] : writes) w->done(broken_);
}

}  // namespace tgt_pmem::push
