// SPDX-License-Identifier: GPL-2.0-only
// The C ABI of tgt_pmem/push/service.h: one Service per RDMA CM port, hosted in tgtd's event
// loop by a runtime (tgt_pmem/rdma_host/runtime.h). Every entry point is noexcept.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "push_service.h"
#include "tgt_pmem/bytes/wipe.h"
#include "tgt_pmem/push/service.h"

namespace {

using tgt_pmem::push::PushLun;
using tgt_pmem::push::Service;
using tgt_pmem::push::Session;
namespace rdma_host = tgt_pmem::rdma_host;

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
      tgt_pmem::bytes::wipe(secret, sizeof(secret));  // a host may have written part of it
      return std::nullopt;
    }
    secret[sizeof(secret) - 1] = 0;
    // Made in the returned object itself: a string moved into an optional would leave a
    // short secret's characters in its in-object buffer here. The caller wipes it.
    std::optional<std::string> s(std::in_place, secret);
    tgt_pmem::bytes::wipe(secret, sizeof(secret));
    return s;
  }
  void log(bool error, const std::string& message) override {
    if (ops_.log) ops_.log(ops_.ctx, error ? 1 : 0, message.c_str());
  }
  const tgtpmem_push_host_ops& ops() const { return ops_; }

 private:
  tgtpmem_push_host_ops ops_;
};

// One RDMA CM port: tgtd's loop, the runtime hosting the listener and the sessions in it, and
// the service (the protocol). Declared in creation order: destroyed in reverse.
struct Port {
  explicit Port(const tgtpmem_push_host_ops& ops)
      : loop(rdma_host::CLoopOps{ops.ctx, ops.event_add, ops.event_del, ops.log}),
        host(ops),
        runtime(loop, "push", rdma_host::limits_from_environment(bad_settings)),
        service(host, runtime) {
    // Bytes registered for push mode across connections: per initiator and in all.
    auto& e = service.exposure();
    if (auto mib = rdma_host::number_from_environment("TGTPMEM_PUSH_MAX_EXPOSED_PER_INITIATOR_MIB",
                                                      1, 1ull << 30, bad_settings))
      e.max_per_initiator = *mib << 20;
    if (auto mib = rdma_host::number_from_environment("TGTPMEM_PUSH_MAX_EXPOSED_TOTAL_MIB", 1,
                                                      1ull << 30, bad_settings))
      e.max_total = *mib << 20;
    for (const auto& b : bad_settings) loop.log(true, "push: " + b);
  }
  std::vector<std::string> bad_settings;  // first: the members after it fill it
  rdma_host::CLoop loop;
  HostOps host;
  rdma_host::Runtime runtime;
  Service service;
  std::string address;  // what the listener is bound to
  std::uint16_t number = 0;
};

std::map<std::uint16_t, std::unique_ptr<Port>>& ports() {
  static std::map<std::uint16_t, std::unique_ptr<Port>> p;
  return p;
}

int to_error(const std::error_code& ec) {
  switch (rdma_host::classify_listen_error(ec)) {
    case rdma_host::ListenFailure::kNoDevice: return TGTPMEM_PUSH_E_NODEV;
    case rdma_host::ListenFailure::kAddressInUse: return TGTPMEM_PUSH_E_ADDRINUSE;
    case rdma_host::ListenFailure::kNoMemory: return TGTPMEM_PUSH_E_NOMEM;
    case rdma_host::ListenFailure::kInvalid: return TGTPMEM_PUSH_E_INVAL;
    case rdma_host::ListenFailure::kOther: break;
  }
  return TGTPMEM_PUSH_E_IO;
}

Port* start_port(const tgtpmem_push_host_ops& ops, const std::string& address,
                 std::uint16_t number, int* err) {
  auto port = std::make_unique<Port>(ops);
  auto l = tgt_pmem::rdma::listen(address, number);
  if (!l) {
    *err = to_error(l.error());
    return nullptr;
  }
  if (auto st = port->runtime.start(port->service, std::move(*l)); !st) {
    *err = TGTPMEM_PUSH_E_IO;
    return nullptr;
  }
  port->address = address;
  port->number = number;
  const std::string where =
      address.find(':') != std::string::npos ? "[" + address + "]" : address;
  port->runtime.log(false, "push: listening with RDMA CM on " + where + ":" + std::to_string(number));
  Port* raw = port.get();
  ports()[number] = std::move(port);
  return raw;
}

void stop_port(Port* port) {
  port->runtime.stop("the push service stops");
  port->runtime.log(false, "push: port " + std::to_string(port->number) + " stopped");
  ports().erase(port->number);
}

}  // namespace

struct tgtpmem_push_lun {
  Port* port;
  PushLun* lun;
  void* lun_ctx;
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
    auto handle = std::make_unique<tgtpmem_push_lun>(tgtpmem_push_lun{port, nullptr, lun_ctx});
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

__attribute__((visibility("default"))) void tgtpmem_push_set_access(tgtpmem_push_lun* h,
                                                                    int access) noexcept {
  if (h == nullptr || h->lun == nullptr) return;
  using tgt_pmem::push::LunAccess;
  const LunAccess a = access == TGTPMEM_PUSH_ACCESS_READ_WRITE ? LunAccess::kReadWrite
                      : access == TGTPMEM_PUSH_ACCESS_READ    ? LunAccess::kRead
                                                              : LunAccess::kNone;
  try {
    rdma_host::Runtime::Enter enter(h->port->runtime);
    h->port->service.set_access(h->lun, a);
  } catch (...) {
  }
}

__attribute__((visibility("default"))) void tgtpmem_push_set_mirror(
    tgtpmem_push_lun* h, int (*get)(void*, tgtpmem_push_mirror*),
    int (*set)(void*, const tgtpmem_push_mirror*)) noexcept {
  if (h == nullptr || h->lun == nullptr || get == nullptr || set == nullptr) return;
  using tgt_pmem::push::MirrorGenerations;
  using tgt_pmem::push::MirrorRole;
  void* ctx = h->lun_ctx;
  try {
    h->lun->mirror_get = [get, ctx] {
      tgtpmem_push_mirror m{};
      PushLun::MirrorView v;
      if (get(ctx, &m) != 0) return v;
      v.role = m.role == 1 ? MirrorRole::kPrimary
               : m.role == 2 ? MirrorRole::kSecondary
                             : MirrorRole::kNone;
      v.generations = MirrorGenerations{m.current, m.bitmap, m.history0, m.history1};
      return v;
    };
    h->lun->mirror_set = [set, ctx](const MirrorGenerations& g) {
      const tgtpmem_push_mirror m{2, g.current, g.bitmap, g.history0, g.history1};
      return set(ctx, &m);
    };
  } catch (...) {
    h->lun->mirror_get = nullptr;
    h->lun->mirror_set = nullptr;
  }
}

__attribute__((visibility("default"))) void tgtpmem_push_detach(tgtpmem_push_lun* h) noexcept {
  if (h == nullptr) return;
  try {
    Port* port = h->port;
    {
      rdma_host::Runtime::Enter enter(port->runtime);
      port->service.detach(h->lun);
    }
    if (port->service.lun_count() == 0) stop_port(port);
  } catch (...) {
  }
  delete h;
}

__attribute__((visibility("default"))) uint32_t tgtpmem_push_sessions(
    const tgtpmem_push_lun* h, tgtpmem_push_session_info* out, uint32_t max) noexcept {
  if (h == nullptr || h->lun == nullptr) return 0;
  std::uint32_t n = 0;
  try {
    for (const auto& [id, session] : h->port->service.sessions()) {
      if (session->lun() != h->lun || !session->admitted()) continue;
      if (out != nullptr && n < max) {
        tgtpmem_push_session_info& i = out[n];
        std::snprintf(i.peer, sizeof i.peer, "%s",
                      session->connection().peer_address().c_str());
        std::snprintf(i.initiator, sizeof i.initiator, "%s", session->initiator().c_str());
        i.regions = static_cast<std::uint32_t>(session->regions());
        i.exposed = session->exposed();
      }
      ++n;
    }
  } catch (...) {
  }
  return n;
}

}  // extern "C"
