// SPDX-License-Identifier: GPL-2.0-only
// The SRP service of one tgtd: logins on an RDMA CM listener, the channels they create and
// the I_T nexuses they share.
//
// Login (T10 SRP r16a 6.2; RDMA CM carries SRP_LOGIN_REQ/RSP/REJ as connection private
// data): the target port is named by the login's TARGET PORT IDENTIFIER = IDENTIFIER
// EXTENSION (the tgt tid, 64-bit big-endian) + IOC GUID (the node GUID of the RDMA device the
// request arrived on). The tgt target's ACL must admit the initiator, by name
// ("0x" + 32 hex digits of the initiator port ID) or by address. SINGLE-CHANNEL logins end
// the initiator's other channels to that target port; MULTI-CHANNEL ones join them, sharing
// one tgt I_T nexus.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "channel.h"
#include "nexus.h"
#include "scsi_host.h"
#include "tgt_pmem/rdma/connection.h"

namespace tgt_pmem::srp {

class Service {
 public:
  Service(ScsiHost& host, ChannelConfig config = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Handles one connection request: answers it with a login response (accept) or reject.
  // Returns the new channel, or nullptr when rejected.
  Channel* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending);
  void on_established(rdma::Connection* conn);
  void on_disconnected(rdma::Connection* conn);

  void command_done(void* cookie, int status, std::span<const std::uint8_t> sense,
                    std::int32_t in_resid, std::int32_t out_resid);
  void tmf_done(std::uint64_t mid, int result);

  // Closes every channel of target tid.
  void target_gone(int tid);
  // Closes every channel (shutdown).
  void close_all();

  // Destroys finished channels and unused nexuses. Called by the entry points once they
  // are not nested inside one another (tgt completes commands re-entrantly).
  void reap();

  [[nodiscard]] int channel_count(int tid) const;
  [[nodiscard]] std::size_t channel_count() const { return channels_.size(); }
  [[nodiscard]] std::size_t nexus_count() const { return nexuses_.size(); }
  [[nodiscard]] const std::map<std::uint64_t, std::unique_ptr<Channel>>& channels() const {
    return channels_;
  }
  // Called for a new channel, to watch its completion fd; set by the C API.
  std::function<void(Channel&)> on_new_channel;
  std::function<void(Channel&)> on_channel_gone;

 private:
  void reject(rdma::PendingConnection& pending, std::uint64_t tag, RejectReason reason,
              const std::string& why);

  ScsiHost& host_;
  ChannelConfig config_;
  std::uint64_t next_channel_id_ = 1;
  std::uint64_t next_itn_id_ = 1;
  // (tid, initiator port ID) -> nexus. Channels point into it: nodes of a map are stable.
  std::map<std::pair<int, PortId>, Nexus> nexuses_;
  std::map<std::uint64_t, std::unique_ptr<Channel>> channels_;
};

}  // namespace tgt_pmem::srp
