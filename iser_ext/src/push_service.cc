// SPDX-License-Identifier: GPL-2.0-only
#include "push_service.h"

#include <algorithm>
#include <string>

namespace tgt_pmem::push {

Service::Service(PushHost& host, SessionLimits limits) : host_(host), limits_(limits) {}

Service::~Service() { sessions_.clear(); }

PushLun* Service::attach(PushLun lun) {
  owned_.push_back(std::make_unique<PushLun>(std::move(lun)));
  luns_.push_back(owned_.back().get());
  return owned_.back().get();
}

void Service::detach(PushLun* lun) {
  for (auto& [id, s] : sessions_) s->lun_gone(lun);
  std::erase(luns_, lun);
  std::erase_if(owned_, [lun](const auto& p) { return p.get() == lun; });
}

Session* Service::on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) {
  rdma::QueueLimits q;
  q.recv_depth = limits_.receives;
  q.send_depth = 16;
  q.max_sge = 1;
  q.rdma_read_depth = 0;         // the target never issues RDMA READs
  q.responder_resources = 16;    // the initiator's RDMA READs of registered regions
  auto conn = pending->accept(q, {});
  if (!conn) {
    host_.log(true, "push: accepting a connection from " + pending->peer_address() +
                        " failed: " + conn.error().message());
    return nullptr;
  }
  const std::uint64_t id = next_id_++;
  auto s = std::make_unique<Session>(id, std::move(*conn), host_, luns_, limits_);
  Session* raw = s.get();
  sessions_.emplace(id, std::move(s));
  if (auto st = raw->start(); !st) {
    raw->close("cannot set up its buffers: " + st.error().message());
    return raw;
  }
  if (on_new_session) on_new_session(*raw);
  return raw;
}

void Service::on_disconnected(rdma::Connection* conn) {
  if (conn == nullptr || conn->user == nullptr) return;
  static_cast<Session*>(conn->user)->on_disconnected();
}

void Service::reap() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->finished()) {
      host_.log(false, "push: connection " + std::to_string(it->first) + " gone; " +
                           std::to_string(it->second->regions()) +
                           (it->second->regions() == 1 ? " region" : " regions") + " deregistered");
      if (on_session_gone) on_session_gone(*it->second);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

void Service::close_all() {
  for (auto& [id, s] : sessions_) s->close("the push service stops");
}

}  // namespace tgt_pmem::push
