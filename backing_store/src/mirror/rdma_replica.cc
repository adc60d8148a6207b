// SPDX-License-Identifier: GPL-2.0-only
// The secondary of a mirrored LUN over RDMA (rdma_replica.h).
#include "mirror/rdma_replica.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace tgt_pmem::bs::mirror {

namespace {

std::error_code errc(int e) { return {e, std::generic_category()}; }

Generations from_wire(const push::MirrorGenerations& g) {
  return Generations{g.current, g.bitmap, {g.history0, g.history1}};
}
push::MirrorGenerations to_wire(const Generations& g) {
  return push::MirrorGenerations{g.current, g.bitmap, g.history[0], g.history[1]};
}

}  // namespace

const char* to_string(RdmaReplica::Link l) noexcept {
  switch (l) {
    case RdmaReplica::Link::kStopped: return "stopped";
    case RdmaReplica::Link::kConnecting: return "connecting";
    case RdmaReplica::Link::kHandshake: return "handshake";
    case RdmaReplica::Link::kUp: return "up";
    case RdmaReplica::Link::kWaiting: return "waiting to retry";
  }
  return "?";
}

RdmaReplica::RdmaReplica(rdma_host::Loop& loop, Config config,
                         rdma_host::BackgroundConnect::Work connect, Events events)
    : loop_(loop),
      config_(std::move(config)),
      connect_(std::move(connect)),
      events_(std::move(events)),
      backoff_(config_.retry_min) {}

RdmaReplica::~RdmaReplica() {
  ++generation_;
  connecting_.reset();
  if (watched_fd_ >= 0) loop_.unwatch(watched_fd_);
}

void RdmaReplica::start() {
  if (link_ != Link::kStopped) return;
  backoff_ = config_.retry_min;
  settled_ = false;
  attempt();
}

void RdmaReplica::stop() {
  if (link_ == Link::kStopped) return;
  // The owner's doing (the LUN closes): no failure to report.
  Events quiet;
  std::swap(quiet, events_);
  fail(errc(ECANCELED), "stopped");
  std::swap(quiet, events_);
  link_ = Link::kStopped;
}

void RdmaReplica::attempt() {
  link_ = Link::kConnecting;
  const std::uint64_t gen = ++generation_;
  auto bc = rdma_host::BackgroundConnect::start(
      loop_, connect_, [this, gen](rdma_host::BackgroundConnect::Result r) {
        if (gen != generation_) return;
        on_connected(std::move(r));
      });
  if (!bc) return fail(bc.error(), "connect");
  connecting_ = std::move(*bc);
}

void RdmaReplica::on_connected(rdma_host::BackgroundConnect::Result r) {
  connecting_.reset();  // its callback is running: it allows that
  if (!r) return fail(r.error(), "connect to " + config_.peer);
  auto s = push::AsyncSession::make(std::move(*r), config_.session);
  if (!s) return fail(s.error(), "session setup");
  session_ = std::move(*s);
  if (const int fd = session_->completion_fd(); fd >= 0) {
    if (const int rc = loop_.watch(fd, [this] { poll(); }); rc < 0)
      return fail(errc(-rc), "watching the connection");
    watched_fd_ = fd;
  }
  link_ = Link::kHandshake;
  const std::uint64_t gen = generation_;
  if (auto ec = session_->login([this, gen](std::error_code e, const push::ConnectReply& reply) {
        if (gen != generation_) return;
        if (e) return fail(e, "login");
        on_logged_in(reply);
      }))
    fail(ec, "login");
}

void RdmaReplica::on_logged_in(const push::ConnectReply& reply) {
  if (reply.lun_size != config_.lun_size)
    return fail(errc(EINVAL), "the secondary LUN has " + std::to_string(reply.lun_size) +
                                  " bytes, this one " + std::to_string(config_.lun_size));
  const std::uint64_t gen = generation_;
  if (auto ec = session_->mirror_state(
          {}, [this, gen](std::error_code e, const push::MirrorStateReply& r) {
            if (gen != generation_) return;
            if (e) return fail(e, "reading the secondary's mirror state");
            on_state(r);
          }))
    fail(ec, "reading the secondary's mirror state");
}

void RdmaReplica::on_state(const push::MirrorStateReply& reply) {
  if (reply.role != push::MirrorRole::kSecondary)
    return fail(errc(EPERM), reply.role == push::MirrorRole::kPrimary
                                 ? "the peer LUN is a mirror primary itself"
                                 : "the peer LUN has no mirror role");
  secondary_ = from_wire(reply.generations);
  const std::uint64_t gen = generation_;
  if (auto ec = session_->register_region(
          0, config_.lun_size, push::kWrite,
          [this, gen](std::error_code e, const push::Region& region) {
            if (gen != generation_) return;
            if (e) return fail(e, "registering the secondary LUN");
            region_ = region;
            link_ = Link::kUp;
            settled_ = true;
            backoff_ = config_.retry_min;
            last_error_ = {};
            if (events_.up) events_.up(secondary_);
          }))
    fail(ec, "registering the secondary LUN");
}

void RdmaReplica::fail(std::error_code why, const std::string& what) {
  const bool was_up = link_ == Link::kUp;
  ++generation_;  // callbacks of this session's handshake are old news from here on
  connecting_.reset();
  link_ = Link::kWaiting;
  settled_ = true;
  last_error_ = why;
  last_failure_ = what + ": " + why.message();
  next_attempt_ = loop_.now() + backoff_;
  backoff_ = std::min(backoff_ * 2, config_.retry_max);
  if (session_) {
    if (watched_fd_ >= 0) loop_.unwatch(watched_fd_);
    watched_fd_ = -1;
    std::unique_ptr<push::AsyncSession> s = std::move(session_);
    push::AsyncSession& ref = *s;
    graveyard_.push_back(std::move(s));
    ref.close(why);  // writes in flight fail with why (their callbacks run now)
  }
  if (events_.down) events_.down(why, was_up ? "lost (" + what + ")" : what);
}

void RdmaReplica::bury() { graveyard_.clear(); }

void RdmaReplica::poll() {
  if (session_) {
    push::AsyncSession* s = session_.get();
    s->on_completions();
    if (session_.get() == s && s->broken())
      fail(s->broken_reason(), link_ == Link::kUp ? "link" : "handshake");
  }
  bury();
}

void RdmaReplica::tick() {
  if (session_) {
    push::AsyncSession* s = session_.get();
    s->check_timeouts(push::AsyncSession::Clock::now());
    if (session_.get() == s && s->broken())
      fail(s->broken_reason(), link_ == Link::kUp ? "link" : "handshake");
  }
  bury();
  if (link_ == Link::kWaiting && loop_.now() >= next_attempt_) attempt();
}

std::error_code RdmaReplica::write(std::uint64_t offset, std::span<const std::byte> data,
                                   Done done) {
  if (!available()) return errc(ENOTCONN);
  return session_->write_durable(region_, offset, data, std::move(done));
}

std::error_code RdmaReplica::record_generations(const Generations& g, Done done) {
  if (!available()) return errc(ENOTCONN);
  push::MirrorState m;
  m.flags = push::kMirrorSet;
  m.generations = to_wire(g);
  return session_->mirror_state(
      m, [done = std::move(done), want = m.generations](std::error_code ec,
                                                         const push::MirrorStateReply& r) {
        // Recorded means recorded as sent: anything else is not the promise asked for.
        if (!ec && r.generations != want) ec = errc(EIO);
        done(ec);
      });
}

std::string RdmaReplica::durability() const {
  if (!available()) return {};
  return session_->uses_rdma_flush(region_) ? "rdma-flush" : "commit";
}

}  // namespace tgt_pmem::bs::mirror
