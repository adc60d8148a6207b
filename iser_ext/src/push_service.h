// SPDX-License-Identifier: GPL-2.0-only
// The push-mode service of one RDMA CM port: its listener, its sessions and the LUNs
// attached to it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "push_host.h"
#include "push_lun.h"
#include "push_session.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::push {

class Service {
 public:
  explicit Service(PushHost& host, SessionLimits limits = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Attach/detach a LUN; detach deregisters every region of it at once.
  PushLun* attach(PushLun lun);
  void detach(PushLun* lun);
  [[nodiscard]] std::size_t lun_count() const noexcept { return luns_.size(); }

  Session* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending);
  void on_disconnected(rdma::Connection* conn);
  // Destroys finished sessions.
  void reap();
  void close_all();

  [[nodiscard]] const std::map<std::uint64_t, std::unique_ptr<Session>>& sessions() const {
    return sessions_;
  }
  std::function<void(Session&)> on_new_session;
  std::function<void(Session&)> on_session_gone;

 private:
  PushHost& host_;
  SessionLimits limits_;
  std::vector<std::unique_ptr<PushLun>> owned_;
  std::vector<PushLun*> luns_;  // what sessions look up at CONNECT
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;
};

}  // namespace tgt_pmem::push
