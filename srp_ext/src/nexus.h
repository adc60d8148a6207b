// SPDX-License-Identifier: GPL-2.0-only
// An I_T nexus as SRP sees it: one initiator port logged in to one target port, over one or
// more RDMA channels (Linux ib_srp opens one per completion vector). tgt knows it by itn_id;
// it lives while a channel uses it or tgt holds one of its commands.
#pragma once

#include <cstdint>
#include <string>

#include "iu.h"

namespace tgt_pmem::srp {

struct Nexus {
  int tid = 0;
  std::uint64_t itn_id = 0;
  std::uint64_t id_ext = 0;
  PortId initiator{};
  std::uint32_t channels = 0;  // channels of this nexus that still exist
  bool created = false;        // tgt's it_nexus_create succeeded
  // The address (without port) of the login that created it. The initiator port ID is the
  // initiator's own claim: a login from another address must not take the nexus over.
  std::string peer_host;
};

}  // namespace tgt_pmem::srp
