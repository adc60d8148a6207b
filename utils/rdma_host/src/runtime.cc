// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/rdma_host/runtime.h"

#include <infiniband/verbs.h>  // IBV_WC_WR_FLUSH_ERR
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>

namespace tgt_pmem::rdma_host {

namespace {

constexpr std::chrono::minutes kLogWindow{1};

void drain_fd(int fd) {
  std::uint64_t count = 0;
  (void)::read(fd, &count, sizeof count);
}

}  // namespace

// --- CLoop -----------------------------------------------------------------------------------

CLoop::~CLoop() {
  for (const auto& [fd, _] : watches_) ops_.event_del(ops_.ctx, fd);
}

void CLoop::trampoline(int, int, void* data) {
  try {
    (*static_cast<std::function<void()>*>(data))();
  } catch (...) {
    // A handler's own try/catch logs with context; nothing may unwind into tgtd's C code.
  }
}

int CLoop::watch(int fd, std::function<void()> ready) {
  auto f = std::make_unique<std::function<void()>>(std::move(ready));
  if (const int rc = ops_.event_add(ops_.ctx, fd, trampoline, f.get()); rc < 0) return rc;
  watches_[fd] = std::move(f);
  return 0;
}

void CLoop::unwatch(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  ops_.event_del(ops_.ctx, fd);
  watches_.erase(it);
}

void CLoop::log(bool error, const std::string& message) {
  if (ops_.log) ops_.log(ops_.ctx, error ? 1 : 0, message.c_str());
}

// --- Link ------------------------------------------------------------------------------------

bool Link::runtime_completion(const rdma::Completion& wc) noexcept {
  if (runtime_ == nullptr) return false;
  runtime_->probe_done(*this, wc);
  return wc.wr_id == kProbeWrId;
}

void Link::heard() noexcept {
  if (runtime_ != nullptr) heard_ = runtime_->loop_.now();
}

void Link::log_peer(bool error, const std::string& message) {
  if (runtime_ != nullptr)
    runtime_->log_peer(peer_host_, error, message);
}

void Link::auth_failed() {
  if (runtime_ != nullptr) runtime_->auth_failed(peer_host_);
}

// --- Runtime ---------------------------------------------------------------------------------

Runtime::Enter::~Enter() {
  if (--r_.depth_ == 0 && r_.protocol_ != nullptr) {
    try {
      r_.protocol_->reap();
    } catch (const std::exception& e) {
      r_.log(true, r_.name_ + ": reaping connections: " + e.what());
    }
  }
}

Runtime::Runtime(Loop& loop, std::string name, Limits limits)
    : loop_(loop), name_(std::move(name)), limits_(limits) {}

// The protocol may be gone already (it is declared after the runtime): nothing here calls it.
Runtime::~Runtime() {
  unwatch_all();
  for (auto& [id, link] : links_) {
    if (link->cq_fd_ >= 0) loop_.unwatch(link->cq_fd_);
    if (link->wake_fd_ >= 0) {
      loop_.unwatch(link->wake_fd_);
      ::close(link->wake_fd_);
    }
    link->cq_fd_ = link->wake_fd_ = -1;
    link->runtime_ = nullptr;
  }
}

void Runtime::unwatch_all() {
  if (listener_fd_ >= 0) loop_.unwatch(listener_fd_);
  listener_fd_ = -1;
  if (timer_fd_ >= 0) {
    loop_.unwatch(timer_fd_);
    ::close(timer_fd_);
    timer_fd_ = -1;
  }
}

rdma::Status Runtime::start(Protocol& protocol, std::unique_ptr<rdma::Listener> listener) {
  protocol_ = &protocol;
  listener_ = std::move(listener);
  listener_fd_ = listener_->event_fd();
  if (listener_fd_ >= 0) {
    if (const int rc = loop_.watch(listener_fd_, [this] { on_listener(); }); rc < 0) {
      listener_fd_ = -1;
      return std::unexpected(std::error_code(-rc, std::generic_category()));
    }
  }
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return std::unexpected(std::error_code(errno, std::generic_category()));
  const itimerspec every_second{{1, 0}, {1, 0}};
  if (::timerfd_settime(timer_fd_, 0, &every_second, nullptr) != 0)
    return std::unexpected(std::error_code(errno, std::generic_category()));
  if (const int rc = loop_.watch(timer_fd_, [this] {
        drain_fd(timer_fd_);
        on_tick();
      });
      rc < 0) {
    ::close(timer_fd_);
    timer_fd_ = -1;
    return std::unexpected(std::error_code(-rc, std::generic_category()));
  }
  return {};
}

void Runtime::stop(const std::string& why) {
  if (protocol_ == nullptr) return;
  {
    Enter enter(*this);
    unwatch_all();
    protocol_->close_all(why);
  }
  listener_.reset();
  protocol_ = nullptr;
}

void Runtime::add(Link& link) {
  link.runtime_ = this;
  link.id_ = next_id_++;
  link.peer_host_ = host_of(link.connection().peer_address());
  link.created_ = link.heard_ = loop_.now();
  links_[link.id_] = &link;
  ++counts_.accepted;
  link.cq_fd_ = link.connection().completion_fd();
  if (link.cq_fd_ >= 0) {
    Link* l = &link;
    if (const int rc = loop_.watch(link.cq_fd_, [this, l] { on_link(*l); }); rc < 0) {
      link.cq_fd_ = -1;
      link.close("cannot watch its completion queue (" + std::to_string(rc) + ")");
      return;
    }
  }
  link.wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (link.wake_fd_ >= 0) {
    Link* l = &link;
    if (loop_.watch(link.wake_fd_, [this, l] {
          drain_fd(l->wake_fd_);
          on_wake(*l);
        }) < 0) {
      ::close(link.wake_fd_);  // a yield then waits for the link's next completion instead
      link.wake_fd_ = -1;
    }
  }
  link.watched_ = true;
}

void Runtime::remove(Link& link) {
  if (link.runtime_ != this) return;
  if (link.cq_fd_ >= 0) loop_.unwatch(link.cq_fd_);
  if (link.wake_fd_ >= 0) {
    loop_.unwatch(link.wake_fd_);
    ::close(link.wake_fd_);
  }
  link.cq_fd_ = link.wake_fd_ = -1;
  links_.erase(link.id_);
  link.runtime_ = nullptr;
}

std::size_t Runtime::unadmitted() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, l] : links_) n += !l->admitted() && !l->finished();
  return n;
}

std::string Runtime::over_cap(const std::string& peer_host) const {
  std::uint32_t all = 0, from_peer = 0, unadmitted = 0, unadmitted_peer = 0;
  for (const auto& [id, l] : links_) {
    if (l->finished()) continue;
    const bool same = l->peer_host_ == peer_host;
    ++all;
    from_peer += same;
    if (!l->admitted()) {
      ++unadmitted;
      unadmitted_peer += same;
    }
  }
  auto say = [](const char* what, std::uint32_t cap) {
    return std::string(what) + " (" + std::to_string(cap) + ") reached";
  };
  if (all >= limits_.max_connections) return say("the connection limit", limits_.max_connections);
  if (from_peer >= limits_.max_connections_per_peer)
    return say("the limit of connections from one address", limits_.max_connections_per_peer);
  if (unadmitted >= limits_.max_unadmitted)
    return say("the limit of connections not yet logged in", limits_.max_unadmitted);
  if (unadmitted_peer >= limits_.max_unadmitted_per_peer)
    return say("the limit of connections not yet logged in from one address",
               limits_.max_unadmitted_per_peer);
  if (auto it = auth_failures_.find(peer_host);
      it != auth_failures_.end() && loop_.now() - it->second.window < kLogWindow &&
      it->second.count >= limits_.max_auth_failures_per_peer)
    return say("the limit of failed authentications from one address in a minute",
               limits_.max_auth_failures_per_peer);
  return {};
}

void Runtime::auth_failed(const std::string& peer_host) {
  ++counts_.auth_failures;
  const auto now = loop_.now();
  AuthFailures& a = auth_failures_[peer_host];
  if (now - a.window >= kLogWindow) a = AuthFailures{now, 0};
  ++a.count;
  if (auth_failures_.size() > 4096)
    std::erase_if(auth_failures_,
                  [&](const auto& kv) { return now - kv.second.window >= kLogWindow; });
}

void Runtime::on_listener() {
  if (!listener_ || protocol_ == nullptr) return;
  Enter enter(*this);
  for (;;) {
    auto ev = listener_->next_event();
    if (!ev) {
      if (ev.error().value() == ENOMEM) continue;  // a request it could not record: rejected
      log(true, name_ + ": RDMA CM event channel failed: " + ev.error().message());
      return;
    }
    if (!*ev) return;
    auto& e = **ev;
    switch (e.type) {
      case rdma::EventType::kConnectRequest: {
        const std::string peer = host_of(e.pending->peer_address());
        if (const std::string why = over_cap(peer); !why.empty()) {
          ++counts_.refused;
          log_peer(peer, true, name_ + ": connection request from " + e.pending->peer_address() +
                                   " refused: " + why);
          protocol_->refuse(*e.pending, why);
          break;
        }
        protocol_->on_connect_request(std::move(e.pending));
        break;
      }
      case rdma::EventType::kEstablished:
        if (e.connection != nullptr) protocol_->on_established(*e.connection);
        break;
      case rdma::EventType::kDisconnected:
        if (e.connection != nullptr) protocol_->on_disconnected(*e.connection);
        break;
    }
  }
}

void Runtime::on_tick() {
  Enter enter(*this);
  const auto now = loop_.now();
  // Closing may change nothing in links_ (reaping waits for the Enter), but copy the list:
  // a protocol's close() could still add or drop links in the future.
  std::vector<Link*> links;
  links.reserve(links_.size());
  for (const auto& [id, l] : links_) links.push_back(l);
  for (Link* l : links) {
    if (l->finished() || l->peer_gone_) continue;
    if (!l->admitted()) {
      if (now - l->created_ >= limits_.handshake_timeout) {
        ++counts_.handshake_timeouts;
        l->close("not logged in within " +
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                    limits_.handshake_timeout)
                                    .count()) +
                 " s");
      }
      continue;
    }
    if (l->probing_ && now - l->probe_sent_ >= limits_.probe_timeout) {
      ++counts_.dead_peers;
      l->peer_gone_ = true;
      l->close("its peer did not answer a liveness probe within " +
               std::to_string(limits_.probe_timeout.count()) + " s: gone");
      continue;
    }
    if (limits_.idle_probe.count() > 0 && !l->probing_ && now - l->heard_ >= limits_.idle_probe)
      probe(*l);
  }
}

void Runtime::probe(Link& link) {
  // A zero-length RDMA WRITE: it touches no memory and needs no region of the peer, but the
  // peer's HCA must acknowledge it. If the peer is gone, the transport retries, then fails it
  // (IBV_WC_RETRY_EXC_ERR): probe_done closes the link.
  if (auto p = link.connection().post_rdma_write(kProbeWrId, {}, rdma::RemoteBuffer{0, 0, 0});
      !p) {
    return;  // no room in the send queue: it is busy, so the peer is not quiet; next tick
  }
  link.probing_ = true;
  link.probe_sent_ = loop_.now();
  ++counts_.probes;
}

void Runtime::probe_done(Link& link, const rdma::Completion& wc) {
  link.heard_ = loop_.now();
  if (wc.wr_id != kProbeWrId) return;
  link.probing_ = false;
  if (!wc.ok && wc.vendor_status != IBV_WC_WR_FLUSH_ERR) {
    ++counts_.dead_peers;
    link.peer_gone_ = true;
    link.close("its peer did not answer a liveness probe (status " +
               std::to_string(wc.vendor_status) + "): gone");
  }
}

void Runtime::yield(Link& link) {
  ++counts_.yields;
  const std::uint64_t one = 1;
  if (link.wake_fd_ >= 0) (void)::write(link.wake_fd_, &one, sizeof one);
}

void Runtime::on_link(Link& link) {
  Enter enter(*this);
  try {
    if (link.on_completions(limits_.completions_per_turn) == Turn::kYield) yield(link);
  } catch (const std::exception& e) {
    log(true, name_ + ": connection " + std::to_string(link.id()) + ": " + e.what());
  }
}

void Runtime::on_wake(Link& link) {
  Enter enter(*this);
  try {
    if (link.resume(limits_.completions_per_turn) == Turn::kYield) yield(link);
  } catch (const std::exception& e) {
    log(true, name_ + ": connection " + std::to_string(link.id()) + ": " + e.what());
  }
}

void Runtime::log(bool error, const std::string& message) { loop_.log(error, message); }

void Runtime::log_peer(const std::string& peer_host, bool error, const std::string& message) {
  const auto now = loop_.now();
  PeerLog& p = peer_logs_[peer_host];
  if (now - p.window >= kLogWindow) {
    if (p.suppressed > 0)
      loop_.log(false, name_ + ": " + std::to_string(p.suppressed) + " more messages about " +
                           peer_host + " were not logged in the last minute");
    p = PeerLog{now, 0, 0};
  }
  if (p.lines >= limits_.log_lines_per_peer) {
    ++p.suppressed;
    ++counts_.log_lines_suppressed;
    return;
  }
  ++p.lines;
  loop_.log(error, message);
  // Forget quiet peers now and then, so that the map stays small under many sources.
  if (peer_logs_.size() > 4096)
    std::erase_if(peer_logs_, [&](const auto& kv) { return now - kv.second.window >= kLogWindow; });
}

// --- Helpers ---------------------------------------------------------------------------------

std::string escape(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 8);
  for (const char ch : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string host_of(const std::string& peer_address) {
  if (!peer_address.empty() && peer_address.front() == '[') {
    const auto close = peer_address.find(']');
    if (close != std::string::npos) return peer_address.substr(1, close - 1);
    return peer_address;
  }
  const auto colon = peer_address.rfind(':');
  if (colon == std::string::npos || peer_address.find(':') != colon) return peer_address;
  return peer_address.substr(0, colon);
}

ListenFailure classify_listen_error(const std::error_code& ec) noexcept {
  switch (ec.value()) {
    case ENODEV:
    case EADDRNOTAVAIL:  // no RDMA device has the address
      return ListenFailure::kNoDevice;
    case EADDRINUSE:
      return ListenFailure::kAddressInUse;
    case EINVAL:
      return ListenFailure::kInvalid;
    case ENOMEM:
      return ListenFailure::kNoMemory;
    default:
      return ListenFailure::kOther;
  }
}

}  // namespace tgt_pmem::rdma_host
