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
#include <optional>
#include <string>
#include <utility>

#include "channel.h"
#include "nexus.h"
#include "scsi_host.h"
#include "tgt_pmem/rdma/connection.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::srp {

// The protocol of a runtime (tgt_pmem/rdma_host/runtime.h), which hosts its listener and
// channels in tgtd's event loop and holds the limits every RDMA service shares.
class Service final : public rdma_host::Protocol {
 public:
  // runtime: the one serving this service (add/remove of channels); it outlives the service.
  Service(ScsiHost& host, rdma_host::Runtime& runtime, ChannelConfig config = {});
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Handles one connection request: answers it with a login response (accept) or reject.
  // Returns the new channel, or nullptr when rejected.
  Channel* on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) override;
  // A request over the runtime's caps: SRP_LOGIN_REJ, insufficient resources.
  void refuse(rdma::PendingConnection& pending, const std::string& why) override;
  void on_disconnected(rdma::Connection& conn) override;

  void command_done(void* cookie, int status, std::span<const std::uint8_t> sense,
                    std::int32_t in_resid, std::int32_t out_resid);
  void tmf_done(std::uint64_t mid, int result);

  // Closes every channel of target tid.
  void target_gone(int tid);
  // Closes every channel (shutdown).
  void close_all(const std::string& why) override;

  // Destroys finished channels and unused nexuses. Called by the runtime once no entry point
  // is running (tgt completes commands re-entrantly).
  void reap() override;

  [[nodiscard]] int channel_count(int tid) const;
  // The initiator port ID of tgt's I_T nexus itn_id of target tid (for its TransportID), or
  // nullopt if there is none.
  [[nodiscard]] std::optional<PortId> initiator_of(int tid, std::uint64_t itn_id) const;
  [[nodiscard]] std::size_t channel_count() const { return channels_.size(); }
  [[nodiscard]] std::size_t nexus_count() const { return nexuses_.size(); }
  // What channels that log in from now on are given (tests: a small pool or send queue).
  void set_channel_config(const ChannelConfig& config) { config_ = config; }
  // The data buffers of all channels (limits included).
  [[nodiscard]] BufferBudget& buffers() noexcept { return buffers_; }
  [[nodiscard]] const std::map<std::uint64_t, std::unique_ptr<Channel>>& channels() const {
    return channels_;
  }

 private:
  void reject(rdma::PendingConnection& pending, std::uint64_t tag, RejectReason reason,
              const std::string& why);

  ScsiHost& host_;
  rdma_host::Runtime& runtime_;
  ChannelConfig config_;
  std::uint64_t next_itn_id_ = 1;
  // (tid, initiator port ID) -> nexus. Channels point into it: nodes of a map are stable.
  std::map<std::pair<int, PortId>, Nexus> nexuses_;
  BufferBudget buffers_;  // before the channels: they refer to it
  std::map<std::uint64_t, std::unique_ptr<Channel>> channels_;
};

}  // namespace tgt_pmem::srp
