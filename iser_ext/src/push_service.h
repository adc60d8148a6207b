// SPDX-License-Identifier: GPL-2.0-only
// The push-mode service of one RDMA CM port: its sessions and the LUNs attached to it. The
// protocol of a runtime (tgt_pmem/rdma_host/runtime.h), which hosts its listener and sessions
// in tgtd's event loop and holds the limits every RDMA service shares.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "push_host.h"
#include "push_lun.h"
#include "push_session.h"
#include "tgt_pmem/rdma/connection.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::push {

class Service final : public rdma_host::Protocol {
 public:
  // runtime: the one serving this service (add/remove of sessions); it outlives the service.
  Service(PushHost& host, rdma_host::Runtime& runtime, SessionLimits limits = {});
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Attach/detach a LUN; detach deregisters every region of it at once.
  PushLun* attach(PushLun lun);
  void detach(PushLun* lun);
  // The LUN's access changed (offline, read-only): regions it no longer allows are
  // deregistered at once, and REGISTER follows the new access.
  void set_access(PushLun* lun, LunAccess access);
  // Bytes registered by all sessions, in all and per initiator (limits included).
  [[nodiscard]] Exposure& exposure() noexcept { return exposure_; }
  // The limits of sessions made from now on.
  void set_limits(const SessionLimits& limits) { limits_ = limits; }
  [[nodiscard]] std::size_t lun_count() const noexcept { return luns_.size(); }

  // rdma_host::Protocol
  Session* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) override;
  void refuse(rdma::PendingConnection& pending, const std::string& why) override;
  void on_disconnected(rdma::Connection& conn) override;
  // Destroys finished sessions.
  void reap() override;
  void close_all(const std::string& why) override;

  [[nodiscard]] const std::map<std::uint64_t, std::unique_ptr<Session>>& sessions() const {
    return sessions_;
  }

 private:
  PushHost& host_;
  rdma_host::Runtime& runtime_;
  SessionLimits limits_;
  std::vector<std::unique_ptr<PushLun>> owned_;
  std::vector<PushLun*> luns_;  // what sessions look up at CONNECT
  Exposure exposure_;           // before the sessions: they refer to it
  std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;
};

}  // namespace tgt_pmem::push
