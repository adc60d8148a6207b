// SPDX-License-Identifier: GPL-2.0-only
// What the push-mode service needs from tgt (through bs_pmem's glue; a fake in unit tests):
// target names, ACL admission and CHAP accounts, and a log.
#pragma once

#include <optional>
#include <string>

namespace tgt_pmem::push {

class PushHost {
 public:
  virtual ~PushHost() = default;
  // The target's name (IQN), or nullopt if target tid no longer exists.
  [[nodiscard]] virtual std::optional<std::string> target_name(int tid) = 0;
  // Whether target tid's ACL admits the initiator by name (-Q) or address (-I).
  [[nodiscard]] virtual bool admits(int tid, const std::string& initiator,
                                    const std::string& peer_address) = 0;
  // Whether an incoming CHAP account is bound to target tid.
  [[nodiscard]] virtual bool chap_required(int tid) = 0;
  // The secret of incoming account user of target tid, if there is one.
  [[nodiscard]] virtual std::optional<std::string> chap_secret(int tid, const std::string& user) = 0;
  virtual void log(bool error, const std::string& message) = 0;
};

}  // namespace tgt_pmem::push
