// SPDX-License-Identifier: GPL-2.0-only
// What the SRP engine needs from the SCSI target it feeds (tgtd, through the glue; a fake
// in unit tests): admission, I_T nexus bookkeeping, command and task-management queueing.
// Results come back through Service::command_done / Service::tmf_done.
#pragma once

#include <cstdint>
#include <string>

#include "tgt_pmem/srp_ext.h"

namespace tgt_pmem::srp {

class ScsiHost {
 public:
  virtual ~ScsiHost() = default;
  // The tid of the target with this identifier extension if its ACL admits the initiator;
  // -ENOENT (no such target) or -EPERM (not admitted).
  virtual int admit(std::uint64_t id_ext, const std::string& initiator_name,
                    const std::string& peer_address) = 0;
  // 0 or a negative errno.
  virtual int nexus_create(int tid, std::uint64_t itn_id, const std::string& info) = 0;
  // 0, or -EBUSY while tgt still holds commands of the nexus.
  virtual int nexus_destroy(int tid, std::uint64_t itn_id) = 0;
  // 0 (a completion will come, maybe before this returns) or a negative errno (none will).
  virtual int queue_command(const tgtpmem_srp_command& cmd) = 0;
  // 0 (a result will come, maybe before this returns) or a negative errno (none will).
  virtual int queue_tmf(int tid, std::uint64_t itn_id, std::uint64_t mid, int function,
                        const std::uint8_t* lun, std::uint64_t task_tag) = 0;
  virtual void log(bool error, const std::string& message) = 0;
};

}  // namespace tgt_pmem::srp
