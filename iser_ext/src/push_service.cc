// SPDX-License-Identifier: GPL-2.0-only
#include "push_service.h"

#include <algorithm>
#include <string>

namespace tgt_pmem::push {

Service::Service(PushHost& host, rdma_host::Runtime& runtime, SessionLimits limits)
    : host_(host), runtime_(runtime), limits_(limits) {}

Service::~Service() {
  for (auto& [id, s] : sessions_) runtime_.remove(*s);
  sessions_.clear();
}

PushLun* Service::attach(PushLun lun) {
  owned_.push_back(std::make_unique<PushLun>(std::move(lun)));
  luns_.push_back(owned_.back().get());
  return owned_.back().get();
}

void Service::set_access(PushLun* lun, LunAccess access) {
  if (lun->access == access) return;
  lun->access = access;
  for (auto& [id, s] : sessions_) s->access_changed(lun);
}

void Service::detach(PushLun* lun) {
  for (auto& [id, s] : sessions_) s->lun_gone(lun);
  std::erase(luns_, lun);
  std::erase_if(owned_, [lun](const auto& p) { return p.get() == lun; });
}

Session* Service::on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) {
  rdma::QueueLimits q;
  q.recv_depth = limits_.receives;
  q.send_depth = 16 + 1;         // replies, + the runtime's liveness probe
  q.max_sge = 1;
  q.rdma_read_depth = 0;         // the target never issues RDMA READs
  q.responder_resources = 16;    // the initiator's RDMA READs of registered regions
  auto conn = pending->accept(q, {});
  if (!conn) {
    host_.log(true, "push: accepting a connection from " + pending->peer_address() +
                        " failed: " + conn.error().message());
    return nullptr;
  }
  auto s = std::make_unique<Session>(std::move(*conn), host_, luns_, exposure_, limits_);
  Session* raw = s.get();
  // One mirror primary per LUN: the newest. An older one is a connection the primary left
  // behind (a cut link, no disconnect ever came): its whole-LUN region goes now.
  raw->on_mirror_claim([this](Session& claimant) {
    for (auto& [id, other] : sessions_)
      if (other.get() != &claimant && other->mirror_primary() &&
          other->lun() == claimant.lun())
        other->retire("replaced by connection " + std::to_string(claimant.id()) +
                      ", the LUN's mirror primary now");
  });
  runtime_.add(*raw);  // numbers it, watches its completion queue
  sessions_.emplace(raw->id(), std::move(s));
  if (auto st = raw->start(); !st) raw->close("cannot set up its buffers: " + st.error().message());
  return raw;
}

void Service::refuse(rdma::PendingConnection& pending, const std::string&) {
  pending.reject({});  // push mode has no reject format: RDMA CM's own REJ
}

void Service::on_disconnected(rdma::Connection& conn) {
  if (conn.user == nullptr) return;
  static_cast<Session*>(conn.user)->on_disconnected();
}

void Service::reap() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->finished()) {
      host_.log(false, "push: connection " + std::to_string(it->first) + " gone; " +
                           std::to_string(it->second->regions()) +
                           (it->second->regions() == 1 ? " region" : " regions") + " deregistered");
      runtime_.remove(*it->second);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

void Service::close_all(const std::string& why) {
  for (auto& [id, s] : sessions_) s->close(why);
}

}  // namespace tgt_pmem::push
