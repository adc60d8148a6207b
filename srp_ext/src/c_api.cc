// SPDX-License-Identifier: GPL-2.0-only
// The C ABI of srp_ext.h over Service: host ops adapted to ScsiHost; the listener and the
// channels hosted in tgtd's event loop by a runtime (tgt_pmem/rdma_host/runtime.h). Every entry
// point is noexcept and runs inside the runtime's Enter, which reaps finished channels once it
// is no longer nested in another (tgt completes commands re-entrantly).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "service.h"
#include "tgt_pmem/rdma_host/runtime.h"
#include "tgt_pmem/srp_ext.h"
#include "tgt_pmem/status/run_dir.h"

namespace {

using tgt_pmem::srp::Channel;
using tgt_pmem::srp::Service;

class HostOps final : public tgt_pmem::srp::ScsiHost {
 public:
  explicit HostOps(const tgtpmem_srp_host_ops& ops) : ops_(ops) {}
  int admit(std::uint64_t id_ext, const std::string& name, const std::string& peer) override {
    return ops_.admit(ops_.ctx, id_ext, name.c_str(), peer.c_str());
  }
  int nexus_create(int tid, std::uint64_t itn, const std::string& info) override {
    return ops_.nexus_create(ops_.ctx, tid, itn, info.c_str());
  }
  int nexus_destroy(int tid, std::uint64_t itn) override {
    return ops_.nexus_destroy(ops_.ctx, tid, itn);
  }
  int queue_command(const tgtpmem_srp_command& cmd) override {
    return ops_.queue_command(ops_.ctx, &cmd);
  }
  int queue_tmf(int tid, std::uint64_t itn, std::uint64_t mid, int function,
                const std::uint8_t* lun, std::uint64_t task_tag) override {
    return ops_.queue_tmf(ops_.ctx, tid, itn, mid, function, lun, task_tag);
  }
  void log(bool error, const std::string& message) override {
    if (ops_.log) ops_.log(ops_.ctx, error ? 1 : 0, message.c_str());
  }
  const tgtpmem_srp_host_ops& ops() const { return ops_; }

 private:
  tgtpmem_srp_host_ops ops_;
};

int to_srp_error(const std::error_code& ec) {
  switch (tgt_pmem::rdma_host::classify_listen_error(ec)) {
    case tgt_pmem::rdma_host::ListenFailure::kNoDevice: return TGTPMEM_SRP_E_NODEV;
    case tgt_pmem::rdma_host::ListenFailure::kAddressInUse: return TGTPMEM_SRP_E_ADDRINUSE;
    case tgt_pmem::rdma_host::ListenFailure::kInvalid: return TGTPMEM_SRP_E_INVAL;
    case tgt_pmem::rdma_host::ListenFailure::kNoMemory: return TGTPMEM_SRP_E_NOMEM;
    case tgt_pmem::rdma_host::ListenFailure::kOther: break;
  }
  return TGTPMEM_SRP_E_IO;
}

}  // namespace

// The service of one tgtd: tgtd's loop, the runtime hosting the listener and the channels in
// it, and the protocol. Declared in creation order: destroyed in reverse.
struct tgtpmem_srp {
  explicit tgtpmem_srp(const tgtpmem_srp_host_ops& ops)
      : loop(tgt_pmem::rdma_host::CLoopOps{ops.ctx, ops.event_add, ops.event_del, ops.log}),
        host(ops),
        runtime(loop, "srp", tgt_pmem::rdma_host::limits_from_environment(bad_settings)),
        service(host, runtime, config_from_environment()) {
    // Data buffers (registered memory) of commands in flight: per channel and in all. A
    // channel's must hold one command's largest transfer.
    auto& b = service.buffers();
    if (auto mib = tgt_pmem::rdma_host::number_from_environment(
            "TGTPMEM_SRP_MAX_BUFFERED_PER_CHANNEL_MIB", 16, 1ull << 30, bad_settings))
      b.max_per_channel = *mib << 20;
    if (auto mib = tgt_pmem::rdma_host::number_from_environment(
            "TGTPMEM_SRP_MAX_BUFFERED_TOTAL_MIB", 16, 1ull << 30, bad_settings))
      b.max_total = *mib << 20;
    for (const auto& bad : bad_settings) loop.log(true, "srp: " + bad);
  }

  // TGTPMEM_SRP_TRACE=1 in tgtd's environment logs every IU, work request and completion.
  static tgt_pmem::srp::ChannelConfig config_from_environment() {
    tgt_pmem::srp::ChannelConfig c;
    const char* t = std::getenv("TGTPMEM_SRP_TRACE");
    c.trace = t != nullptr && t[0] == '1';
    return c;
  }

  std::vector<std::string> bad_settings;  // first: the members after it fill it
  tgt_pmem::rdma_host::CLoop loop;
  HostOps host;
  tgt_pmem::rdma_host::Runtime runtime;
  Service service;
};

extern "C" {

__attribute__((visibility("default"))) tgtpmem_srp* tgtpmem_srp_create(
    const tgtpmem_srp_host_ops* host, const char* address, uint16_t port, int* err) noexcept {
  int dummy = 0;
  if (err == nullptr) err = &dummy;
  if (host == nullptr || host->event_add == nullptr || host->event_del == nullptr ||
      host->admit == nullptr || host->nexus_create == nullptr ||
      host->nexus_destroy == nullptr || host->queue_command == nullptr ||
      host->queue_tmf == nullptr) {
    *err = TGTPMEM_SRP_E_INVAL;
    return nullptr;
  }
  try {
    auto srp = std::make_unique<tgtpmem_srp>(*host);
    auto l = tgt_pmem::rdma::listen(address ? address : "0.0.0.0", port);
    if (!l) {
      *err = to_srp_error(l.error());
      return nullptr;
    }
    if (auto st = srp->runtime.start(srp->service, std::move(*l)); !st) {
      *err = TGTPMEM_SRP_E_IO;
      return nullptr;
    }
    *err = 0;
    return srp.release();
  } catch (const std::bad_alloc&) {
    *err = TGTPMEM_SRP_E_NOMEM;
  } catch (...) {
    *err = TGTPMEM_SRP_E_IO;
  }
  return nullptr;
}

__attribute__((visibility("default"))) void tgtpmem_srp_destroy(tgtpmem_srp* srp) noexcept {
  if (srp == nullptr) return;
  try {
    srp->runtime.stop("the SRP service stops");
  } catch (...) {
  }
  delete srp;
}

__attribute__((visibility("default"))) void tgtpmem_srp_command_done(
    tgtpmem_srp* srp, void* cookie, int status, const uint8_t* sense, uint32_t sense_len,
    int32_t in_resid, int32_t out_resid) noexcept {
  if (srp == nullptr || cookie == nullptr) return;
  try {
    tgt_pmem::rdma_host::Runtime::Enter enter(srp->runtime);
    srp->service.command_done(
        cookie, status,
        std::span<const std::uint8_t>(sense, sense != nullptr ? sense_len : 0), in_resid,
        out_resid);
  } catch (const std::exception& e) {
    srp->host.log(true, std::string("srp: command completion: ") + e.what());
  }
}

__attribute__((visibility("default"))) void tgtpmem_srp_tmf_done(tgtpmem_srp* srp,
                                                                 uint64_t mid,
                                                                 int result) noexcept {
  if (srp == nullptr || mid == 0) return;
  try {
    tgt_pmem::rdma_host::Runtime::Enter enter(srp->runtime);
    srp->service.tmf_done(mid, result);
  } catch (const std::exception& e) {
    srp->host.log(true, std::string("srp: task management completion: ") + e.what());
  }
}

__attribute__((visibility("default"))) void tgtpmem_srp_target_gone(tgtpmem_srp* srp,
                                                                    int tid) noexcept {
  if (srp == nullptr) return;
  try {
    tgt_pmem::rdma_host::Runtime::Enter enter(srp->runtime);
    srp->service.target_gone(tid);
  } catch (...) {
  }
}

__attribute__((visibility("default"))) int tgtpmem_srp_channel_count(const tgtpmem_srp* srp,
                                                                     int tid) noexcept {
  return srp == nullptr ? -1 : srp->service.channel_count(tid);
}

namespace {

std::string hex16(const tgt_pmem::srp::PortId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (const auto b : id) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

}  // namespace

__attribute__((visibility("default"))) int tgtpmem_srp_publish(const tgtpmem_srp* srp,
                                                               int control_port) noexcept {
  if (srp == nullptr) return -EINVAL;
  try {
    namespace status = tgt_pmem::status;
    using nlohmann::ordered_json;
    ordered_json j;
    j["format"] = 1;
    j["pid"] = static_cast<long>(::getpid());
    j["control_port"] = control_port;
    j["port"] = srp->runtime.port();
    ordered_json channels = ordered_json::array();
    for (const auto& [id, ch] : srp->service.channels()) {
      const auto& n = ch->nexus();
      std::string peer;
      try {
        peer = ch->connection().peer_address();
      } catch (...) {
      }
      channels.push_back({{"id", id},
                          {"tid", n.tid},
                          {"initiator_port_id", hex16(n.initiator)},
                          {"peer", peer},
                          {"state", ch->state() == tgt_pmem::srp::Channel::State::kLive ? "live"
                                    : ch->state() == tgt_pmem::srp::Channel::State::kClosing
                                        ? "closing"
                                        : "disconnected"},
                          {"commands_in_tgt", ch->in_tgt()}});
    }
    j["channels"] = std::move(channels);
    static ordered_json last;
    static bool swept = false;
    const auto dir = status::tgtd_dir(control_port);
    if (swept && j == last) return 0;
    if (!std::exchange(swept, true)) status::sweep(dir, "srp.");
    last = j;
    ordered_json text = j;
    text["published"] = static_cast<long long>(std::time(nullptr));
    const std::string s =
        text.dump(1, '\t', false, ordered_json::error_handler_t::replace) + "\n";
    if (const auto ec = status::publish(dir, "srp.json", s)) {
      last = nullptr;
      return -ec.value();
    }
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

__attribute__((visibility("default"))) void tgtpmem_srp_retract(int control_port) noexcept {
  try {
    tgt_pmem::status::retract(tgt_pmem::status::tgtd_dir(control_port), "srp.json");
  } catch (...) {
  }
}

__attribute__((visibility("default"))) uint16_t tgtpmem_srp_port(const tgtpmem_srp* srp) noexcept {
  return srp == nullptr ? 0 : srp->runtime.port();
}

__attribute__((visibility("default"))) int tgtpmem_srp_initiator_port(const tgtpmem_srp* srp,
                                                                      int tid, uint64_t itn_id,
                                                                      uint8_t port_id[16]) noexcept {
  if (srp == nullptr || port_id == nullptr) return -EINVAL;
  const auto id = srp->service.initiator_of(tid, itn_id);
  if (!id) return -ENOENT;
  std::memcpy(port_id, id->data(), 16);
  return 0;
}

}  // extern "C"
