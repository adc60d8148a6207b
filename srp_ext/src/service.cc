// SPDX-License-Identifier: GPL-2.0-only
#include "service.h"

#include <cerrno>
#include <cstdio>
#include <vector>

namespace tgt_pmem::srp {
namespace {

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::string hex_port_id(const PortId& id) {
  std::string s = "0x";
  char buf[3];
  for (std::uint8_t b : id) {
    std::snprintf(buf, sizeof(buf), "%02x", b);
    s += buf;
  }
  return s;
}

constexpr std::uint32_t kMinItIuLen = 64;          // an SRP_CMD with one direct descriptor
constexpr std::uint32_t kMaxItIuLen = 64 * 1024;   // receive buffers we are willing to post

}  // namespace

Service::Service(ScsiHost& host, rdma_host::Runtime& runtime, ChannelConfig config)
    : host_(host), runtime_(runtime), config_(config) {}

Service::~Service() {
  for (auto& [id, ch] : channels_) runtime_.remove(*ch);
  channels_.clear();
  for (auto& [key, nexus] : nexuses_) {
    if (nexus.created) host_.nexus_destroy(nexus.tid, nexus.itn_id);
  }
}

void Service::refuse(rdma::PendingConnection& pending, const std::string& why) {
  auto login = parse_login_request(pending.private_data());
  std::byte rej[kLoginRejectSize];
  const std::size_t n = build_login_reject(login ? login->tag : 0,
                                           RejectReason::kInsufficientResources,
                                           kBufFmtDirect | kBufFmtIndirect, rej);
  (void)why;  // the runtime logged it
  pending.reject(std::span<const std::byte>(rej, n));
}

void Service::reject(rdma::PendingConnection& pending, std::uint64_t tag, RejectReason reason,
                     const std::string& why) {
  host_.log(true, "srp: login from " + pending.peer_address() + " rejected: " + why);
  std::byte rej[kLoginRejectSize];
  const std::size_t n = build_login_reject(tag, reason, kBufFmtDirect | kBufFmtIndirect, rej);
  pending.reject(std::span<const std::byte>(rej, n));
}

Channel* Service::on_connect_request(std::unique_ptr<rdma::PendingConnection> pending) {
  auto login = parse_login_request(pending->private_data());
  if (!login) {
    reject(*pending, 0, RejectReason::kUnableEstablishChannel,
           std::string("malformed SRP_LOGIN_REQ: ") + std::string(to_string(login.error())));
    return nullptr;
  }
  if (login->max_it_iu_len < kMinItIuLen || login->max_it_iu_len > kMaxItIuLen) {
    reject(*pending, login->tag, RejectReason::kIuTooLarge,
           "requested initiator-to-target IU length " + std::to_string(login->max_it_iu_len) +
               " outside [" + std::to_string(kMinItIuLen) + ", " + std::to_string(kMaxItIuLen) +
               "]");
    return nullptr;
  }
  if ((login->buf_fmt & ~(kBufFmtDirect | kBufFmtIndirect)) != 0) {
    reject(*pending, login->tag, RejectReason::kUnsupportedDescriptorFormat,
           "requires buffer formats 0x" + std::to_string(login->buf_fmt));
    return nullptr;
  }
  const std::uint64_t id_ext = load_be64(login->target_port_id.data());
  const std::uint64_t ioc_guid = load_be64(login->target_port_id.data() + 8);
  const std::uint64_t node_guid = pending->local_node_guid();
  if (node_guid != 0 && ioc_guid != node_guid) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "ioc_guid %016llx is not this device's node GUID %016llx",
                  static_cast<unsigned long long>(ioc_guid),
                  static_cast<unsigned long long>(node_guid));
    reject(*pending, login->tag, RejectReason::kUnableAssociateChannel, buf);
    return nullptr;
  }
  const std::string initiator = hex_port_id(login->initiator_port_id);
  const std::string peer = pending->peer_address();
  const int tid = host_.admit(id_ext, initiator, peer);
  if (tid < 0) {
    reject(*pending, login->tag, RejectReason::kUnableAssociateChannel,
           tid == -EPERM ? "target " + std::to_string(id_ext) + " does not admit " + initiator +
                               " from " + peer
                         : "no SRP target with id_ext " + std::to_string(id_ext));
    return nullptr;
  }
  if (login->immediate_data &&
      (login->imm_data_offset < 48 || login->imm_data_offset >= login->max_it_iu_len)) {
    reject(*pending, login->tag, RejectReason::kUnableEstablishChannel,
           "immediate data offset " + std::to_string(login->imm_data_offset) + " invalid");
    return nullptr;
  }

  // The initiator port ID is the initiator's claim. A host admitted by its address could
  // otherwise log in with another host's port ID, end its channels (SINGLE) or join its
  // nexus (MULTI) and inherit its reservations: a nexus stays its first address's.
  const std::string peer_host = rdma_host::host_of(peer);
  if (auto n = nexuses_.find({tid, login->initiator_port_id});
      n != nexuses_.end() && n->second.created && n->second.peer_host != peer_host) {
    reject(*pending, login->tag, RejectReason::kUnableAssociateChannel,
           "initiator port " + initiator + " is logged in to tid " + std::to_string(tid) +
               " from " + n->second.peer_host + ": a login from " + peer_host +
               " cannot take its I_T nexus over");
    return nullptr;
  }
  if (auto n = nexuses_.find({tid, login->initiator_port_id});
      n != nexuses_.end() && login->multichannel != 0 &&
      n->second.channels >= config_.max_channels_per_nexus) {
    reject(*pending, login->tag, RejectReason::kInsufficientResources,
           "initiator port " + initiator + " already has " +
               std::to_string(n->second.channels) + " channels to tid " + std::to_string(tid) +
               " (the limit)");
    return nullptr;
  }

  // Multi-channel action (T10 SRP r16a 6.2.2): SINGLE ends the initiator's other channels
  // to this target port; MULTI keeps them.
  std::uint8_t multichannel_result = 0;
  for (auto& [id, ch] : channels_) {
    const Nexus& n = ch->nexus();
    if (n.tid != tid || n.initiator != login->initiator_port_id ||
        ch->state() != Channel::State::kLive) {
      continue;
    }
    if (login->multichannel == 0) {
      ch->close("replaced by a single-channel login");
      multichannel_result = 1;
    } else {
      multichannel_result = 2;
    }
  }

  auto [it, inserted] = nexuses_.try_emplace({tid, login->initiator_port_id});
  Nexus& nexus = it->second;
  if (inserted || !nexus.created) {
    nexus.tid = tid;
    nexus.itn_id = next_itn_id_++;
    nexus.id_ext = id_ext;
    nexus.initiator = login->initiator_port_id;
    nexus.peer_host = peer_host;
    const std::string info = "Initiator: " + initiator + "\nConnection: " + peer;
    if (int rc = host_.nexus_create(tid, nexus.itn_id, info); rc < 0) {
      reject(*pending, login->tag, RejectReason::kInsufficientResources,
             "tgt refused the I_T nexus (" + std::to_string(rc) + ")");
      return nullptr;  // reap() forgets the unused nexus
    }
    nexus.created = true;
  }

  ChannelConfig cfg = config_;
  cfg.max_it_iu_len = login->max_it_iu_len;
  cfg.imm_data_offset = login->immediate_data ? login->imm_data_offset : 0;

  LoginResponse rsp;
  rsp.tag = login->tag;
  rsp.req_lim_delta = static_cast<std::int32_t>(cfg.credits);
  rsp.max_it_iu_len = cfg.max_it_iu_len;
  rsp.max_ti_iu_len = cfg.max_ti_iu_len;
  rsp.multichannel_result = multichannel_result;
  rsp.immediate_data = login->immediate_data;
  std::byte rsp_bytes[kLoginResponseSize];
  const std::size_t rsp_len = build_login_response(rsp, rsp_bytes);

  rdma::QueueLimits limits;
  limits.recv_depth = cfg.credits;
  limits.send_depth = cfg.send_depth + 1;  // + the runtime's liveness probe
  limits.max_sge = 1;
  auto conn = pending->accept(limits, std::span<const std::byte>(rsp_bytes, rsp_len));
  if (!conn) {
    host_.log(true, "srp: accepting the login from " + peer + " failed: " + conn.error().message());
    return nullptr;
  }
  auto channel = std::make_unique<Channel>(std::move(*conn), host_, nexus, cfg, buffers_);
  Channel* ch = channel.get();
  runtime_.add(*ch);  // numbers it, watches its completion queue
  const std::uint64_t id = ch->id();
  channels_.emplace(id, std::move(channel));
  if (auto s = ch->start(); !s) {
    ch->close("cannot set up its buffers: " + s.error().message());
    return ch;
  }
  host_.log(false, "srp: channel " + std::to_string(id) + ": " + initiator + " from " + peer +
                       " logged in to tid " + std::to_string(tid) + " (credits " +
                       std::to_string(cfg.credits) + ", max_it_iu_len " +
                       std::to_string(cfg.max_it_iu_len) +
                       (cfg.imm_data_offset ? ", immediate data" : "") + ", RDMA READ depth " +
                       std::to_string(ch->connection().limits().rdma_read_depth) + ")");
  return ch;
}

void Service::on_disconnected(rdma::Connection& conn) {
  if (conn.user == nullptr) return;
  static_cast<Channel*>(conn.user)->on_disconnected();
}

void Service::command_done(void* cookie, int status, std::span<const std::uint8_t> sense,
                           std::int32_t in_resid, std::int32_t out_resid) {
  Channel::of(cookie).command_done(cookie, status, sense, in_resid, out_resid);
}

void Service::tmf_done(std::uint64_t mid, int result) {
  void* cookie = reinterpret_cast<void*>(static_cast<std::uintptr_t>(mid));
  Channel::of(cookie).tmf_done(cookie, result);
}

void Service::target_gone(int tid) {
  for (auto& [id, ch] : channels_) {
    if (ch->nexus().tid == tid) ch->close("target " + std::to_string(tid) + " deleted");
  }
}

void Service::close_all(const std::string& why) {
  for (auto& [id, ch] : channels_) ch->close(why);
}

void Service::reap() {
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->second->finished()) {
      runtime_.remove(*it->second);
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = nexuses_.begin(); it != nexuses_.end();) {
    Nexus& n = it->second;
    if (n.channels != 0) {
      ++it;
      continue;
    }
    if (n.created && host_.nexus_destroy(n.tid, n.itn_id) == -EBUSY) {
      ++it;  // tgt still holds commands of it: try again later
      continue;
    }
    it = nexuses_.erase(it);
  }
}

std::optional<PortId> Service::initiator_of(int tid, std::uint64_t itn_id) const {
  for (const auto& [key, n] : nexuses_)
    if (n.tid == tid && n.itn_id == itn_id && n.created) return n.initiator;
  return std::nullopt;
}

int Service::channel_count(int tid) const {
  int n = 0;
  for (const auto& [id, ch] : channels_) {
    if (ch->nexus().tid == tid && ch->state() == Channel::State::kLive) ++n;
  }
  return n;
}

}  // namespace tgt_pmem::srp
