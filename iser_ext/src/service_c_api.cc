// SPDX-License-Identifier: GPL-2.0-only
// The C ABI of tgt_pmem/push/service.h: one Service per RDMA CM port, its listener and
// sessions hooked into tgtd's event loop through the host ops. Every entry point is noexcept.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "push_service.h"
#include "tgt_pmem/push/service.h"

namespace {

using tgt_pmem::push::PushLun;
using tgt_pmem::push::Service;
using tgt_pmem::push::Session;

class HostOps final : public tgt_pmem::push::PushHost {
 public:
  explicit HostOps(const tgtpmem_push_host_ops& ops) : ops_(ops) {}
  std::optional<std::string> target_name(int tid) override {
    const char* n = ops_.target_name(ops_.ctx, tid);
    if (n == nullptr) return std::nullopt;
    return std::string(n);
  }
  bool admits(int tid, const std::string& initiator, const std::string& peer) override {
    return ops_.admit(ops_.ctx, tid, initiator.c_str(), peer.c_str()) == 0;
  }
  bool chap_required(int tid) override { return ops_.chap_required(ops_.ctx, tid) > 0; }
  std::optional<std::string> chap_secret(int tid, const std::string& user) override {
    char secret[256];
    if (ops_.chap_secret(ops_.ctx, tid, user.c_str(), secret, sizeof(secret)) != 0) {
      return std::nullopt;
    }
    secret[sizeof(secret) - 1] = 0;
    std::string s(secret);
    std::memset(secret, 0, sizeof(secret));
    return s;
  }
  void log(bool error, const std::string& message) override {
    if (ops_.log) ops_.log(ops_.ctx, error ? 1 : 0, message.c_str());
  }
  const tgtpmem_push_host_ops& ops() const { return ops_; }

 private:
  tgtpmem_push_host_ops ops_;
};

struct Port {
  // A session's watches in tgtd's event loop: its completion fd, and an eventfd that brings
  // the loop back to it at once after it gave the loop back while polling (kYield).
  struct Watch {
    Port* port;
    Session* session;
    int wake_fd = -1;
    ~Watch() {
      if (wake_fd >= 0) ::close(wake_fd);
    }
  };
  explicit Port(const tgtpmem_push_host_ops& ops) : host(ops), service(host) {}
  struct Enter {
    explicit Enter(Port& p) : port(p) { ++port.depth; }
    ~Enter() {
      if (--port.depth == 0) port.service.reap();
    }
    Port& port;
  };
  void on_listener_event() {
    for (;;) {
      auto ev = listener->next_event();
      if (!ev) {
        host.log(true, "push: RDMA CM event channel failed: " + ev.error().message());
        return;
      }
      if (!*ev) return;
      auto& e = **ev;
      switch (e.type) {
        case tgt_pmem::rdma::EventType::kConnectRequest:
          service.on_connect_request(std::move(e.pending));
          break;
        case tgt_pmem::rdma::EventType::kEstablished:
          break;
        case tgt_pmem::rdma::EventType::kDisconnected:
          service.on_disconnected(e.connection);
          break;
      }
    }
  }

  HostOps host;
  Service service;
  std::unique_ptr<tgt_pmem::rdma::Listener> listener;
  std::map<std::uint64_t, std::unique_ptr<Watch>> watches;
  std::string address;  // what the listener is bound to
  std::uint16_t number = 0;
  int depth = 0;
};

std::map<std::uint16_t, std::unique_ptr<Port>>& ports() {
  static std::map<std::uint16_t, std::unique_ptr<Port>> p;
  return p;
}

void listener_handler(int, int, void* data) {
  auto* port = static_cast<Port*>(data);
  try {
    Port::Enter enter(*port);
    port->on_listener_event();
  } catch (const std::exception& e) {
    port->host.log(true, std::string("push: listener: ") + e.what());
  }
}

void after_polling(Port::Watch& w, Session::Polling p) {
  if (p != Session::Polling::kYield) return;
  // Without the eventfd the session carries on at its next completion instead.
  const std::uint64_t one = 1;
  if (w.wake_fd >= 0) (void)::write(w.wake_fd, &one, sizeof one);
}

void completion_handler(int, int, void* data) {
  auto* w = static_cast<Port::Watch*>(data);
  try {
    Port::Enter enter(*w->port);
    after_polling(*w, w->session->on_completions());
  } catch (const std::exception& e) {
    w->port->host.log(true, std::string("push: completions: ") + e.what());
  }
}

void wake_handler(int fd, int, void* data) {
  auto* w = static_cast<Port::Watch*>(data);
  std::uint64_t count = 0;
  (void)::read(fd, &count, sizeof count);
  try {
    Port::Enter enter(*w->port);
    after_polling(*w, w->session->resume());
  } catch (const std::exception& e) {
    w->port->host.log(true, std::string("push: completions: ") + e.what());
  }
}

int to_error(const std::error_code& ec) {
  switch (ec.value()) {
    case ENODEV:
    case EADDRNOTAVAIL:  // no RDMA device has the address (push_address)
      return TGTPMEM_PUSH_E_NODEV;
    case EADDRINUSE:
      return TGTPMEM_PUSH_E_ADDRINUSE;
    case ENOMEM:
      return TGTPMEM_PUSH_E_NOMEM;
    case EINVAL:
      return TGTPMEM_PUSH_E_INVAL;
    default:
      return TGTPMEM_PUSH_E_IO;
  }
}

Port* start_port(const tgtpmem_push_host_ops& ops, const std::string& address,
                 std::uint16_t number, int* err) {
  auto port = std::make_unique<Port>(ops);
  auto l = tgt_pmem::rdma::listen(address, number);
  if (!l) {
    *err = to_error(l.error());
    return nullptr;
  }
  port->listener = std::move(*l);
  port->address = address;
  port->number = number;
  Port* raw = port.get();
  port->service.on_new_session = [raw](Session& s) {
    auto w = std::make_unique<Port::Watch>(Port::Watch{raw, &s});
    const int fd = s.connection().completion_fd();
    const auto& o = raw->host.ops();
    if (fd >= 0) {
      if (o.event_add(o.ctx, fd, completion_handler, w.get()) < 0) {
        s.close("cannot watch its completion queue");
      }
    }
    w->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd >= 0 && o.event_add(o.ctx, w->wake_fd, wake_handler, w.get()) < 0) {
      ::close(w->wake_fd);  // a yield then waits for the next completion (after_polling)
      w->wake_fd = -1;
    }
    raw->watches[s.id()] = std::move(w);
  };
  port->service.on_session_gone = [raw](Session& s) {
    const int fd = s.connection().completion_fd();
    const auto& o = raw->host.ops();
    if (fd >= 0) o.event_del(o.ctx, fd);
    if (auto it = raw->watches.find(s.id()); it != raw->watches.end() && it->second->wake_fd >= 0)
      o.event_del(o.ctx, it->second->wake_fd);
    raw->watches.erase(s.id());
  };
  if (ops.event_add(ops.ctx, port->listener->event_fd(), listener_handler, raw) < 0) {
    *err = TGTPMEM_PUSH_E_IO;
    return nullptr;
  }
  const std::string where =
      address.find(':') != std::string::npos ? "[" + address + "]" : address;
  ops.log(ops.ctx, 0, ("push: listening with RDMA CM on " + where + ":" + std::to_string(number)).c_str());
  ports()[number] = std::move(port);
  return raw;
}

void stop_port(Port* port) {
  const auto& o = port->host.ops();
  for (const auto& [id, s] : port->service.sessions()) {
    const int fd = s->connection().completion_fd();
    if (fd >= 0) o.event_del(o.ctx, fd);
  }
  for (const auto& [id, w] : port->watches)
    if (w->wake_fd >= 0) o.event_del(o.ctx, w->wake_fd);
  o.event_del(o.ctx, port->listener->event_fd());
  port->service.close_all();
  o.log(o.ctx, 0, ("push: port " + std::to_string(port->number) + " stopped").c_str());
  ports().erase(port->number);
}

}  // namespace

struct tgtpmem_push_lun {
  Port* port;
  PushLun* lun;
};

extern "C" {

__attribute__((visibility("default"))) tgtpmem_push_lun* tgtpmem_push_attach(
    const tgtpmem_push_host_ops* host, const char* address, uint16_t port_number, int tid, uint64_t lun, void* base,
    uint64_t size, uint32_t block_size, int (*persist)(void*, uint64_t, uint64_t),
    void* lun_ctx, int* err) noexcept {
  int dummy = 0;
  if (err == nullptr) err = &dummy;
  if (host == nullptr || host->event_add == nullptr || host->event_del == nullptr ||
      host->target_name == nullptr || host->admit == nullptr || host->chap_required == nullptr ||
      host->chap_secret == nullptr || base == nullptr || size == 0 || block_size == 0 ||
      persist == nullptr || port_number == 0 || address == nullptr || *address == 0) {
    *err = TGTPMEM_PUSH_E_INVAL;
    return nullptr;
  }
  try {
    Port* port = nullptr;
    if (auto it = ports().find(port_number); it != ports().end()) {
      port = it->second.get();
      if (port->address != address) {  // one listener per port: one address
        *err = TGTPMEM_PUSH_E_ADDRINUSE;
        return nullptr;
      }
    } else {
      port = start_port(*host, address, port_number, err);
      if (port == nullptr) return nullptr;
    }
    PushLun l;
    l.tid = tid;
    l.lun = lun;
    l.base = static_cast<std::byte*>(base);
    l.size = size;
    l.block_size = block_size;
    l.persist = [persist, lun_ctx](std::uint64_t off, std::uint64_t len) {
      return persist(lun_ctx, off, len);
    };
    auto handle = std::make_unique<tgtpmem_push_lun>(tgtpmem_push_lun{port, nullptr});
    handle->lun = port->service.attach(std::move(l));
    *err = 0;
    return handle.release();
  } catch (const std::bad_alloc&) {
    *err = TGTPMEM_PUSH_E_NOMEM;
  } catch (...) {
    *err = TGTPMEM_PUSH_E_IO;
  }
  return nullptr;
}

__attribute__((visibility("default"))) void tgtpmem_push_set_poll(tgtpmem_push_lun* h,
                                                                  uint32_t poll_us) noexcept {
  if (h != nullptr && h->lun != nullptr) h->lun->poll_us = poll_us;
}

__attribute__((visibility("default"))) void tgtpmem_push_detach(tgtpmem_push_lun* h) noexcept {
  if (h == nullptr) return;
  try {
    Port* port = h->port;
    {
      Port::Enter enter(*port);
      port->service.detach(h->lun);
    }
    if (port->service.lun_count() == 0) stop_port(port);
  } catch (...) {
  }
  delete h;
}

}  // extern "C"
